//! `report`: the comparison this project grew from, measured on this machine (or rendered from
//! earlier runs): latency, throughput by size, scalability, overhead, CPU per GB moved, the
//! feature matrix, and the comparison document's claims beside what was measured, as a
//! self-contained HTML page with charts or as Markdown tables.

mod charts;
pub mod claims;
mod contents;
mod crossings;
mod features;
mod html;
mod markdown;
mod sections;
pub mod suite;

use crate::result::{Environment, RunResult};

/// What a report shows: the machine, how it was made, and every result.
pub struct Document {
    /// The machine.
    pub environment: Environment,
    /// The tool's version.
    pub version: String,
    /// The commands that measured the results (or the files they came from).
    pub commands: Vec<String>,
    /// Every untraced result.
    pub results: Vec<RunResult>,
    /// Traced latency runs (with a breakdown), when `trace` could run (as root).
    pub traced: Vec<RunResult>,
    /// Things a reader must know (what was not measured, and why).
    pub notes: Vec<String>,
}

/// A report's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One self-contained page with charts.
    Html,
    /// Markdown tables.
    Markdown,
}

impl Format {
    /// The format a file name asks for, by its extension.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "html" | "htm" => Some(Self::Html),
            "md" | "markdown" => Some(Self::Markdown),
            _ => None,
        }
    }
}

/// The document in `format`.
pub fn render(document: &Document, format: Format) -> String {
    match format {
        Format::Html => html::render(document),
        Format::Markdown => markdown::render(document),
    }
}
