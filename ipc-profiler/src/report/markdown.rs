//! The Markdown rendering: the environment, then one table row per result.

use comfy_table::presets::ASCII_MARKDOWN;
use comfy_table::Table;

use super::flat;
use crate::result::Report;

/// The report as a Markdown document.
pub fn render(report: &Report) -> String {
    let mut table = Table::new();
    table.load_preset(ASCII_MARKDOWN).set_header(flat::COLUMNS);
    for result in &report.results {
        table.add_row(flat::row(result));
    }
    format!("Measured on: {}\n\n{table}\n", report.environment.summary())
}
