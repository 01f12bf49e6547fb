//! `clean`: remove what runs that died without cleaning up left behind.

use anyhow::Context;

/// Runs `clean` (with `dry_run`, only says what it would remove).
pub(super) fn run(dry_run: bool) -> anyhow::Result<()> {
    let lines = crate::run_record::clean(dry_run).with_context(|| {
        format!(
            "could not clean up after dead runs (run records in {})",
            crate::run_record::directory()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )
    })?;
    if lines.is_empty() {
        return super::output::print("nothing to clean: no dead run left anything behind\n");
    }
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    super::output::print(&text)
}
