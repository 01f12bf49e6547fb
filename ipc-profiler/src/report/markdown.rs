//! The report as Markdown: the machine, how it was made, then each table.

use super::contents::tables;
use super::sections::Table;
use super::Document;

/// The document as Markdown tables.
pub fn render(document: &Document) -> String {
    let mut text = format!(
        "# IPC on this machine: the comparison, measured\n\n\
         **Machine:** {}  \n**Tool:** ipc-profiler {}  \n",
        document.environment.summary(),
        document.version
    );
    text.push_str("**Made by:**\n");
    for command in &document.commands {
        text.push_str(&format!("- `{command}`\n"));
    }
    for note in &document.notes {
        text.push_str(&format!("\n> {note}\n"));
    }
    for table in tables(&document.results, &document.traced) {
        text.push('\n');
        text.push_str(&markdown_table(&table));
    }
    text
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn markdown_table(table: &Table) -> String {
    let mut text = format!("## {}\n\n{}\n\n", table.title, table.note);
    let row = |cells: &[String]| {
        format!(
            "| {} |\n",
            cells
                .iter()
                .map(|c| cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    text.push_str(&row(&table.header));
    text.push_str(&format!("|{}\n", "---|".repeat(table.header.len())));
    for cells in &table.rows {
        text.push_str(&row(cells));
    }
    text
}
