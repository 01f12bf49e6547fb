//! The report as one self-contained HTML page: styles and charts inline, no network.

use super::charts::charts;
use super::contents::tables;
use super::sections::Table;
use super::Document;

const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 900px; padding: 1em;
       color: #1d1d1f; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; }
.machine { background: #f4f5f7; padding: .6em .9em; border-radius: 6px; }
figure { margin: 1.5em 0; } figure svg { width: 100%; height: auto; }
figcaption { font-weight: 600; margin-bottom: .3em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .6em; text-align: left; white-space: nowrap; }
th { background: #f4f5f7; }
code { font-size: .9em; }
@media print { body { max-width: none; } .scroll { overflow: visible; } }
";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page.
pub fn render(document: &Document) -> String {
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>IPC on this machine</title><style>{STYLE}</style></head><body>\n\
         <h1>IPC on this machine: the comparison, measured</h1>\n\
         <div class=\"machine\"><b>Machine:</b> {}<br><b>Tool:</b> ipc-profiler {}<br><b>Made by:</b><ul>",
        escape(&document.environment.summary()),
        escape(&document.version)
    );
    for command in &document.commands {
        page.push_str(&format!("<li><code>{}</code></li>", escape(command)));
    }
    page.push_str("</ul></div>\n");
    for note in &document.notes {
        page.push_str(&format!("<p><i>{}</i></p>\n", escape(note)));
    }
    for chart in charts(&document.results, &document.traced) {
        page.push_str(&format!(
            "<figure class=\"chart\"><figcaption>{}</figcaption>{}</figure>\n",
            escape(&chart.title),
            chart.svg
        ));
    }
    for table in tables(&document.results, &document.traced) {
        page.push_str(&html_table(&table));
    }
    page.push_str("</body></html>\n");
    page
}

fn html_table(table: &Table) -> String {
    let mut text = format!(
        "<h2>{}</h2>\n<p>{}</p>\n<div class=\"scroll\"><table>\n<tr>",
        escape(&table.title),
        escape(&table.note)
    );
    for h in &table.header {
        text.push_str(&format!("<th>{}</th>", escape(h)));
    }
    text.push_str("</tr>\n");
    for row in &table.rows {
        text.push_str("<tr>");
        for c in row {
            text.push_str(&format!("<td>{}</td>", escape(c)));
        }
        text.push_str("</tr>\n");
    }
    text.push_str("</table></div>\n");
    text
}
