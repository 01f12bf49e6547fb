//! Developer commands for ipc-profiler: `cargo xtask <command>`.
//!
//! - `setup`: installs what building and testing need (idempotent, quick when present).
//! - `build-ebpf`: rebuilds the kept eBPF object from `ipc-ebpf`'s source.
//! - `ci`: everything CI checks, in order; what `.ci/run` calls.

mod build_ebpf;
mod ci;
mod cmd;
mod setup;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Developer commands for ipc-profiler")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install the toolchains and packages the build and tests need (Debian, as root).
    Setup,
    /// Rebuild the kept eBPF object (ipc-ebpf/ipc-ebpf.bpf.o) from source.
    BuildEbpf {
        /// Do not replace the kept object; fail if the source builds to different bytes.
        #[arg(long)]
        check: bool,
    },
    /// Run every check CI runs: setup, format, lints, the eBPF object, no_std builds, tests.
    Ci,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Setup => setup::run(),
        Command::BuildEbpf { check } => build_ebpf::run(check),
        Command::Ci => ci::run(),
    }
}
