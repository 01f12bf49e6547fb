//! Where a command's report goes: `--output`, or standard output.

use std::io::Write;

use anyhow::Context;

use crate::cli::BenchArgs;
use crate::machine;
use crate::render;
use crate::result::{Report, RunResult};

/// Writes `results` as a report in the format and to the place `args` say.
pub(super) fn emit(args: &BenchArgs, results: Vec<RunResult>) -> anyhow::Result<()> {
    let report = Report::new(machine::detect(), results);
    write_out(args, render::render(&report, args.format))
}

/// Writes `text` to `--output`, or to standard output.
pub(super) fn write_out(args: &BenchArgs, text: String) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("could not write {}", path.display())),
        None => write_to(std::io::stdout().lock(), &text),
    }
}

/// Writes `text` to `out` and flushes it. A reader that went away (`| head`) ends the output
/// quietly, as it does for the shell's own tools.
pub(super) fn write_to(mut out: impl Write, text: &str) -> anyhow::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("could not write the report"),
    }
}

/// Writes `text` to standard output.
pub(super) fn print(text: &str) -> anyhow::Result<()> {
    write_to(std::io::stdout().lock(), text)
}
