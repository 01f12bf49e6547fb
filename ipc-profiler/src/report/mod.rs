//! Renderings of the result model: a table for people, JSON (the contract in
//! docs/design.md), CSV and Markdown. Nothing here measures anything.

mod csv;
mod flat;
mod json;
mod markdown;
mod table;
mod trace_summary;
mod units;

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

/// Renders a traced program's report: JSON as it is, anything else as tables.
pub fn render_program(report: &ProgramReport, format: Format) -> String {
    match format {
        Format::Json => {
            let mut text =
                serde_json::to_string_pretty(report).expect("the report always serializes");
            text.push('\n');
            text
        }
        _ => {
            let what = match &report.program.command {
                Some(argv) => format!("`{}` (pid {})", argv.join(" "), report.program.pid),
                None => format!("pid {}", report.program.pid),
            };
            let ended = report
                .program
                .exit
                .as_deref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default();
            let title = format!(
                "What {what} and the processes it started did in {:.2} s of tracing{ended}:",
                report.seconds
            );
            format!(
                "{}\n\n{}",
                report.environment.summary(),
                table::breakdown_tables(&title, "in total", &report.breakdown)
            )
        }
    }
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
