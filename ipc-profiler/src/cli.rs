//! Command-line definitions and dispatch.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bench::{BenchConfig, Placement};
use crate::mechanism::{self, Mechanism};
use crate::report::{self, Format, Report};
use crate::size::parse_size;
use crate::{environment, trace};

/// Measures and explains Linux inter-process communication.
#[derive(Parser)]
#[command(name = "ipc-profiler", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a mechanism between two real processes and report latency and CPU cost.
    Bench(BenchArgs),
    /// Run a benchmark while eBPF programs break each message's cost down (needs root).
    Trace(BenchArgs),
    /// List the mechanisms and whether each can run here.
    List,
}

/// Options shared by `bench` and `trace`.
#[derive(Args)]
struct BenchArgs {
    /// Mechanisms to run: names separated by commas, or `all` (see `ipc-profiler list`).
    #[arg(long, value_parser = parse_mechanisms)]
    mech: Mechanisms,
    /// Message size in bytes (K and M suffixes: 1K = 1024).
    #[arg(long, default_value = "128", value_parser = parse_size)]
    size: usize,
    /// Measured round trips.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    iters: u64,
    /// Round trips before measuring starts, excluded from every figure.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    warmup: u64,
    /// Where the two processes run.
    #[arg(long, value_enum, default_value_t = PlacementArg::CrossCore)]
    placement: PlacementArg,
    /// CPUs to use, in order (e.g. `0,1`); defaults to the first CPUs this process may use.
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlacementArg {
    /// Both processes on one CPU: every hand-off is a context switch on that CPU.
    SameCore,
    /// One process per CPU.
    CrossCore,
    /// Wherever the scheduler puts them.
    Unpinned,
}

/// The mechanisms a run covers, in the order given (or the design's order for `all`).
#[derive(Clone)]
struct Mechanisms(Vec<&'static dyn Mechanism>);

fn parse_mechanisms(text: &str) -> Result<Mechanisms, String> {
    if text == "all" {
        return Ok(Mechanisms(mechanism::all().to_vec()));
    }
    let mut chosen = Vec::new();
    for name in text.split(',').map(str::trim) {
        let found = mechanism::find(name).ok_or_else(|| {
            format!(
                "unknown mechanism `{name}`; valid names: all, {}",
                mechanism::names().join(", ")
            )
        })?;
        chosen.push(found);
    }
    Ok(Mechanisms(chosen))
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Bench(args) => {
            let config = args.config()?;
            let results = each(&args.mech, |m| crate::bench::run(m, &config))?;
            emit(&args, results)
        }
        Command::Trace(args) => {
            let config = args.config()?;
            let results = each(&args.mech, |m| trace::run(m, &config))?;
            emit(&args, results)
        }
        Command::List => {
            list();
            Ok(())
        }
    }
}

/// Runs `run` for every mechanism; the first failure stops the run and names its mechanism.
fn each(
    mechanisms: &Mechanisms,
    mut run: impl FnMut(&'static dyn Mechanism) -> anyhow::Result<report::RunResult>,
) -> anyhow::Result<Vec<report::RunResult>> {
    let many = mechanisms.0.len() > 1;
    mechanisms
        .0
        .iter()
        .map(|&m| {
            if many {
                eprintln!("ipc-profiler: running {}", m.name());
            }
            run(m).with_context(|| format!("{} failed", m.name()))
        })
        .collect()
}

impl BenchArgs {
    fn config(&self) -> anyhow::Result<BenchConfig> {
        let placement = match self.placement {
            PlacementArg::SameCore => Placement::SameCore,
            PlacementArg::CrossCore => Placement::CrossCore,
            PlacementArg::Unpinned => Placement::Unpinned,
        };
        Ok(BenchConfig {
            message_size: self.size,
            iterations: self.iters,
            warmup: self.warmup,
            cpus: crate::bench::placement::resolve(placement, &self.cpus)?,
        })
    }
}

fn emit(args: &BenchArgs, results: Vec<report::RunResult>) -> anyhow::Result<()> {
    let report = Report::new(environment::Environment::detect(), results);
    let text = report::render(&report, args.format);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("could not write {}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush().context("could not write to standard output")
        }
    }
}

fn list() {
    for mech in mechanism::all() {
        let status = match mech.available() {
            Ok(()) => "available".to_string(),
            Err(reason) => format!("unavailable: {reason}"),
        };
        println!("{:<14} {:<60} {status}", mech.name(), mech.summary());
    }
}
