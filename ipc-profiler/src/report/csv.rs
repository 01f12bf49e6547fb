//! The CSV rendering: one row per result, the same figures as the JSON, flattened.

use super::flat;
use crate::result::Report;

/// The report as CSV with a header row.
pub fn render(report: &Report) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |w: &mut csv::Writer<Vec<u8>>| -> csv::Result<()> {
        w.write_record(flat::COLUMNS)?;
        for result in &report.results {
            w.write_record(flat::row(result))?;
        }
        w.flush()?;
        Ok(())
    };
    write(&mut writer).expect("writing CSV to memory cannot fail");
    String::from_utf8(writer.into_inner().expect("flushed")).expect("CSV of UTF-8 fields")
}
