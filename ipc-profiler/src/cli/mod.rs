//! The command line: its definition (clap's derive types) and the parsers of its values. What
//! each command does is in `commands/`.

mod args;
mod parse;

pub(crate) use args::{BenchArgs, Mechanisms, RecommendArgs, ReportArgs, TraceArgs};

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use parse::parse_percent;

/// Measures and explains Linux inter-process communication.
#[derive(Parser)]
#[command(name = "ipc-profiler", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands, each with its options (run by `commands::run`).
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a mechanism between two real processes and report latency and CPU cost.
    Bench(BenchArgs),
    /// Run a benchmark while eBPF programs break each message's cost down (needs root); or
    /// trace any program: `--pid PID`, or a command after `--`.
    Trace(TraceArgs),
    /// Compare two reports (`bench --format json`): per mechanism and figure, the change and
    /// whether it is surely beyond the threshold (use `bench --repeat 5`); exits 3 when a
    /// figure regressed, 1 when the files share nothing to compare.
    Compare {
        /// The earlier report.
        old: PathBuf,
        /// The later report.
        new: PathBuf,
        /// The smallest change that counts, in percent (`10` or `10%`).
        #[arg(long, default_value = "10%", value_parser = parse_percent)]
        threshold: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = crate::compare::Format::Table)]
        format: crate::compare::Format,
    },
    /// Which mechanism to use for a pattern, a message size and a process count: measured here
    /// (or read with --from), ranked, with the figure that decided each and every exclusion.
    Recommend(RecommendArgs),
    /// The comparison, measured on this machine (or rendered from earlier runs): an HTML page
    /// with charts, or Markdown tables, with the comparison document's claims beside the
    /// figures.
    Report(ReportArgs),
    /// List the mechanisms and whether each can run here.
    List,
    /// Print a completion script for a shell: `ipc-profiler completions bash >
    /// /etc/bash_completion.d/ipc-profiler` (zsh: a file named `_ipc-profiler` in `$fpath`;
    /// fish: `~/.config/fish/completions/ipc-profiler.fish`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): the tool's (`ipc-profiler man >
    /// /usr/local/share/man/man1/ipc-profiler.1`), or a command's, with all its options
    /// (`ipc-profiler man bench > .../ipc-profiler-bench.1`).
    Man {
        /// The command whose page to print.
        command: Option<String>,
    },
    /// Remove what runs that died without cleaning up (killed with SIGKILL) left behind: the
    /// System V queues and semaphore sets, and POSIX queue names, that each run recorded as it
    /// created them, and nothing else.
    Clean {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The documents' commands, shared with the integration test that runs the cheap ones.
#[cfg(test)]
#[path = "../../../tests/common/doc_commands.rs"]
mod doc_commands;

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::doc_commands;

    #[test]
    fn every_documented_command_parses() {
        let commands = doc_commands::profiler_commands();
        // The README's main job, its examples and the tracing docs' commands, at least.
        assert!(commands.len() >= 8, "too few commands found: {commands:?}");
        for (document, args) in commands {
            let argv = std::iter::once("ipc-profiler".to_string()).chain(args.iter().cloned());
            if let Err(error) = super::Cli::try_parse_from(argv) {
                panic!(
                    "{document}: `ipc-profiler {}` does not parse: {error}",
                    args.join(" ")
                );
            }
        }
    }
}
