//! `bench`: run the mechanisms between real processes and report what was measured.

use super::{configs::configs, output::emit, sweep};
use crate::cli::BenchArgs;

/// Runs `bench`.
pub(super) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let configs = configs(args)?;
    let results = sweep(args, args.mechanisms()?, &configs, crate::bench::run)?;
    emit(args, results)
}
