//! `ipc-profiler`: measures and explains Linux inter-process communication.
//!
//! `bench` runs a mechanism between real processes and reports latency, throughput and CPU cost;
//! `trace` does the same while eBPF programs break each message's cost down in the kernel.

mod bench;
mod cli;
mod commands;
mod compare;
mod config;
mod findings;
mod limits;
mod machine;
mod mechanism;
mod process;
mod progress;
mod recommend;
mod render;
mod report;
mod result;
mod run_record;
mod trace;
mod units;
mod usage_error;

use std::process::ExitCode;

use clap::Parser;

use crate::usage_error::UsageError;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    process::catch_interrupts();
    limits::raise_for_run();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ipc-profiler: {}", sentence(&error));
            if error.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else if error.downcast_ref::<compare::Regressed>().is_some() {
                ExitCode::from(3)
            } else if let Some(signal) = process::interrupting_signal() {
                // Ctrl-C reaches the workers too, so a dead worker may be the error seen first.
                // 128 + the signal, as a shell reports a process it killed (130 for Ctrl-C).
                ExitCode::from(128 + signal as u8)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes as one line: "what failed: because …".
fn sentence(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
