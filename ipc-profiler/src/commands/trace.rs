//! `trace`: a benchmark run while eBPF programs break each message's cost down, or any
//! program (`--pid`, or a command after `--`) shown by the IPC it does.

use super::output::{check_destination, emit_sweep, write_out, write_to};
use super::{configs::configs, sweep};
use crate::cli::TraceArgs;

/// About how long each benchmark of `--what-if` runs, seconds.
const WHAT_IF_SECONDS: f64 = 1.0;

/// Runs `trace`.
pub(super) fn run(trace: &TraceArgs) -> anyhow::Result<()> {
    check_destination(trace.run.output.as_deref())?;
    if trace.user.is_some() && trace.command.is_empty() {
        crate::usage_error::usage_bail!(
            "--user runs a traced command as that user: give the command after --"
        );
    }
    let target = match (trace.pid, trace.command.is_empty()) {
        (Some(pid), _) => Some(crate::trace::user_program::Target::Pid(pid)),
        (None, false) => Some(crate::trace::user_program::Target::Command(
            trace.command.clone(),
            trace.user.clone(),
        )),
        (None, true) => None,
    };
    let args = &trace.run;
    if trace.what_if && target.is_none() {
        crate::usage_error::usage_bail!(
            "--what-if measures a traced program's findings: give --pid or a command after --"
        );
    }
    if let Some(target) = target {
        let cpus = super::configs::cpu_plan(args)?;
        let mut report =
            crate::trace::user_program::run(target, args.duration, trace.attach, trace.ebpf_log)?;
        if trace.what_if {
            let placed = args.placement.is_some() || !args.cpus.is_empty();
            crate::findings::what_if::answer(&mut report, &cpus, placed, WHAT_IF_SECONDS)?;
        }
        let text = crate::render::render_program(&report, args.format);
        return match &args.output {
            Some(_) => write_out(args, text),
            // Like strace and perf stat: the program's standard output stays its own.
            None => write_to(std::io::stderr().lock(), &text),
        };
    }
    let configs = configs(args)?;
    let swept = sweep(args, args.mechanisms()?, &configs, |m, c| {
        crate::trace::run(
            m,
            c,
            trace.attach,
            trace.ebpf_log,
            crate::trace::OVERHEAD_PAIRS,
        )
    });
    emit_sweep(args, swept)
}
