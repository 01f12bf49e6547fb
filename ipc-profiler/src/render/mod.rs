//! Renderings of the result model: a table for people, JSON (the contract in
//! docs/design.md), CSV and Markdown. Nothing here measures anything.

mod cells;
mod channels;
mod csv;
mod findings;
mod flat;
mod json;
mod markdown;
mod program_report;
mod table;
mod trace_summary;

use clap::ValueEnum;

use crate::result::{ProgramReport, Report};

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// One JSON object (the contract in docs/design.md).
    Json,
    /// One row per result, the same figures flattened.
    Csv,
    /// A Markdown table of the same figures.
    Markdown,
}

/// Renders a traced program's report in `format`.
pub fn render_program(report: &ProgramReport, format: Format) -> String {
    program_report::render(report, format)
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render(report),
        Format::Json => json::render(report),
        Format::Csv => csv::render(report),
        Format::Markdown => markdown::render(report),
    }
}
