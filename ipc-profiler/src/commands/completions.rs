//! `completions`: a shell's completion script, from the command line's own definition.

use clap::CommandFactory;

use super::output::write_to;
use crate::cli::Cli;

/// Runs `completions SHELL`: the script on standard output.
pub(super) fn run(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ipc-profiler", &mut script);
    write_to(std::io::stdout().lock(), &String::from_utf8_lossy(&script))
}
