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

/// Reports what a sweep measured: all of it, or, when a signal stopped it, the runs that
/// finished (then the interruption is the command's error: exit status 128 + the signal).
pub(super) fn emit_sweep(
    args: &BenchArgs,
    swept: anyhow::Result<Vec<RunResult>>,
) -> anyhow::Result<()> {
    match swept {
        Ok(results) => emit(args, results),
        Err(error) => match error.downcast::<crate::bench::sweep::Stopped>() {
            Ok(stopped) if stopped.finished.is_empty() => Err(stopped.into()),
            Ok(stopped) => {
                let (finished, planned) = (stopped.finished.len(), stopped.planned);
                emit(args, stopped.finished)?;
                let written = args
                    .output
                    .as_ref()
                    .map_or("above".to_string(), |path| format!("to {}", path.display()));
                Err(anyhow::anyhow!(
                    "interrupted after {finished} of {planned} runs: the workers were stopped and \
                     everything the run created was removed; the {finished} that finished are \
                     written {written}"
                ))
            }
            Err(error) => Err(error),
        },
    }
}

/// Refuses, before anything is measured or run, an output file that could not be written: in
/// a directory that does not exist or this user may not write, or a directory itself.
pub(super) fn check_destination(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    use rustix::fs::{access, Access};
    let Some(path) = path else {
        return Ok(());
    };
    if path.is_dir() {
        crate::usage_error::usage_bail!("{} is a directory: name a file to write", path.display());
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        crate::usage_error::usage_bail!(
            "cannot write {}: there is no directory {}",
            path.display(),
            dir.display()
        );
    }
    let writable = if path.exists() { path } else { dir };
    if access(writable, Access::WRITE_OK).is_err() {
        crate::usage_error::usage_bail!(
            "cannot write {}: {} is not writable by this user",
            path.display(),
            writable.display()
        );
    }
    Ok(())
}
