//! The Markdown rendering: the environment, then one table row per result.

use comfy_table::presets::ASCII_MARKDOWN;
use comfy_table::Table;

use super::flat;
use crate::result::Report;

/// The report as a Markdown document.
pub fn render(report: &Report) -> String {
    let table = table(&flat::COLUMNS, report.results.iter().map(flat::row));
    format!("Measured on: {}\n\n{table}\n", report.environment.summary())
}

/// A Markdown table of `rows` under `columns`.
pub fn table(columns: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut table = Table::new();
    table.load_preset(ASCII_MARKDOWN).set_header(columns);
    for row in rows {
        table.add_row(row);
    }
    table
}
