//! The CSV rendering: one row per result, the same figures as the JSON, flattened.

use super::flat;
use crate::result::Report;

/// The report as CSV with a header row.
pub fn render(report: &Report) -> String {
    rows(&flat::COLUMNS, report.results.iter().map(flat::row))
}

/// `columns` as a header row, then `rows`, as CSV.
pub fn rows(columns: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = || -> csv::Result<()> {
        writer.write_record(columns)?;
        for row in rows {
            writer.write_record(row)?;
        }
        writer.flush()?;
        Ok(())
    };
    write().expect("writing CSV to memory cannot fail");
    String::from_utf8(writer.into_inner().expect("flushed")).expect("CSV of UTF-8 fields")
}
