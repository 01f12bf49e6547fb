//! `compare`: two reports, figure by figure, and whether a change exceeds the noise.

use std::path::Path;

/// Runs `compare`; a figure that regressed beyond `threshold` is an error
/// ([`crate::compare::Regressed`], exit status 3).
pub(super) fn run(
    old: &Path,
    new: &Path,
    threshold: f64,
    format: crate::compare::Format,
) -> anyhow::Result<()> {
    let comparison = crate::compare::compare(old, new, threshold)?;
    super::output::print(&crate::compare::render(&comparison, format))?;
    let regressions = comparison.regressions();
    if regressions > 0 {
        return Err(crate::compare::Regressed(regressions).into());
    }
    Ok(())
}
