//! `compare OLD NEW`: per mechanism and figure, the change between two reports and whether it
//! exceeds the noise; a regression beyond the user's threshold fails the command.
//!
//! The rule (docs/measuring.md, "Comparing two reports"): runs are matched by what identifies
//! them (mechanism, pattern, size, placement, process count); repeated runs of one (`bench
//! --repeat N`) are that figure's samples. A change is the ratio of the medians. It counts when
//! it exceeds the threshold *and* the noise, the larger relative spread ((max - min) / median)
//! of the two files' samples. With a single run in either file the noise is unknown: the
//! threshold alone decides, and the comparison says so.

mod compared;
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
    /// One JSON object: every change, its noise and verdict.
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
            "{} figure(s) regressed beyond the threshold and the noise",
            self.0
        )
    }
}

impl std::error::Error for Regressed {}

/// A comparison of two report files with a regression threshold (a fraction: 0.1 = 10%).
pub fn compare(old: &Path, new: &Path, threshold: f64) -> anyhow::Result<Comparison> {
    let old_report = crate::result::load(old)?;
    let new_report = crate::result::load(new)?;
    Ok(judge::compare(&old_report, &new_report, threshold))
}
