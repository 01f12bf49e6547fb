//! `man`: manual pages, from the command line's own definition: the tool's page, whose
//! COMMANDS section lists every command, and one page per command with all its options
//! (`ipc-profiler-bench(1)`, as git names its commands' pages).

use anyhow::Context;
use clap::CommandFactory;

use super::output::write_to;
use crate::cli::Cli;

/// Runs `man [COMMAND]`: the page, in roff, on standard output.
pub(super) fn run(command: Option<&str>) -> anyhow::Result<()> {
    let tool = Cli::command();
    let page = match command {
        None => tool,
        Some(name) => {
            let Some(sub) = tool.find_subcommand(name) else {
                let names: Vec<&str> = tool.get_subcommands().map(|c| c.get_name()).collect();
                crate::usage_error::usage_bail!(
                    "no command `{name}`; the commands: {}",
                    names.join(", ")
                );
            };
            sub.clone()
                .name(format!("ipc-profiler-{name}"))
                .bin_name(format!("ipc-profiler {name}"))
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .context("could not render the manual page")?;
    write_to(std::io::stdout().lock(), &String::from_utf8_lossy(&roff))
}
