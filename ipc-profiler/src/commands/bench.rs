//! `bench`: run the mechanisms between real processes and report what was measured.

use super::output::{check_destination, emit_sweep};
use super::{configs::configs, sweep};
use crate::cli::BenchArgs;

/// Runs `bench`.
pub(super) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    check_destination(args.output.as_deref())?;
    let configs = configs(args)?;
    let swept = sweep(args, args.mechanisms()?, &configs, crate::bench::run);
    emit_sweep(args, swept)
}
