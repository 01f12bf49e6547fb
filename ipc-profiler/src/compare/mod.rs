//! `compare OLD NEW`: per mechanism and figure, the change between two reports and whether it
//! is surely beyond the user's threshold; a regression fails the command.
//!
//! The rule (docs/measuring.md, "Comparing two reports"): runs are matched by what identifies
//! them (mechanism, pattern, size, placement, process count); repeated runs of one (`bench
//! --repeat N`, which alternates them) are that figure's samples. A change is the ratio of the
//! medians; it counts when its whole 95% interval ([`interval`]) lies beyond the threshold.
//! With fewer than 4 runs on a side there is no interval: the threshold alone decides, and the
//! comparison says so. Two files with no run in common are an error, not a pass.

mod compared;
mod interval;
mod judge;
mod render;

use std::path::Path;

pub use judge::Comparison;
pub use render::render;

/// How `compare` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people, with a verdict per figure.
    Table,
    /// One JSON object: every change, its interval and verdict.
    Json,
}

/// The error `compare` ends with when a figure regressed: the exit code says so (3), apart
/// from a failure to compare (1) or a bad command line (2).
#[derive(Debug)]
pub struct Regressed(pub usize);

impl std::fmt::Display for Regressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} figure(s) surely regressed beyond the threshold",
            self.0
        )
    }
}

impl std::error::Error for Regressed {}

/// A comparison of two report files with a regression threshold (a fraction: 0.1 = 10%); an
/// error when they share no run with a figure to compare.
pub fn compare(old: &Path, new: &Path, threshold: f64) -> anyhow::Result<Comparison> {
    let old_report = crate::result::load(old)?;
    let new_report = crate::result::load(new)?;
    let comparison = judge::compare(&old_report, &new_report, threshold);
    if comparison.changes.is_empty() {
        anyhow::bail!(
            "nothing to compare: {} ({}) and {} ({}) share no run with a measured figure; runs \
             match by mechanism, pattern, size, placement and process count",
            old.display(),
            runs_named(&old_report),
            new.display(),
            runs_named(&new_report)
        );
    }
    Ok(comparison)
}

/// What a report's runs are, for an error: the first few keys and how many more.
fn runs_named(report: &crate::result::Report) -> String {
    let mut keys: Vec<String> = Vec::new();
    for run in report.results.iter().filter(|r| r.unsupported.is_none()) {
        let key = judge::key(run);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    match keys.len() {
        0 => "no measured run".to_string(),
        1..=3 => keys.join("; "),
        n => format!("{}; and {} more", keys[..3].join("; "), n - 3),
    }
}
