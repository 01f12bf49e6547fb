//! Reading a report file (`compare`, `recommend --from`), with errors that say which file and
//! what is wrong with it.

use std::path::Path;

use anyhow::{bail, Context};

use super::Report;

/// The report in `path`: JSON written by `bench` or `trace` (`--format json`).
pub fn load(path: &Path) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON: give what `bench --format json` writes",
            path.display()
        )
    })?;
    if value.get("tool").and_then(|t| t.as_str()) != Some(crate::result::TOOL) {
        bail!(
            "{} is not an ipc-profiler report (no \"tool\": \"ipc-profiler\" field): give \
             what `bench --format json` writes",
            path.display()
        );
    }
    serde_json::from_value(value).with_context(|| {
        format!(
            "{} is an ipc-profiler report this version cannot read",
            path.display()
        )
    })
}
