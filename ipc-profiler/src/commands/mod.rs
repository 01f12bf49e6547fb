//! What each command does, one module a command; [`run`] dispatches the parsed command line.

mod bench;
mod clean;
mod compare;
mod completions;
mod configs;
mod list;
mod man;
mod output;
mod recommend;
mod report;
mod trace;

use crate::cli::{BenchArgs, Cli, Command, Mechanisms};
use crate::config::BenchConfig;
use crate::mechanism::Mechanism;
use crate::result::RunResult;

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Trace(args) => trace::run(&args),
        Command::Compare {
            old,
            new,
            threshold,
            format,
        } => compare::run(&old, &new, threshold, format),
        Command::Recommend(args) => recommend::run(&args),
        Command::Report(args) => report::run(&args),
        Command::List => list::run(),
        Command::Clean { dry_run } => clean::run(dry_run),
        Command::Completions { shell } => completions::run(shell),
        Command::Man { command } => man::run(command.as_deref()),
    }
}

/// The sweep of `mechanisms` over `configs`, repeated and reported as `args` say.
fn sweep(
    args: &BenchArgs,
    mechanisms: &Mechanisms,
    configs: &[BenchConfig],
    run: impl Fn(&'static dyn Mechanism, &BenchConfig) -> anyhow::Result<RunResult>,
) -> anyhow::Result<Vec<RunResult>> {
    crate::bench::sweep::sweep(&mechanisms.0, configs, args.repeat, args.verbose, run)
}
