//! `ipc-profiler trace`: a benchmark run while eBPF programs count, in the kernel, what each
//! message costs (syscalls, kernel time, context switches, bytes copied, off-CPU time).
//!
//! The run happens twice with the same settings: once untraced (for the overhead figure) and
//! once with the programs attached and each worker's measured phase switched on in the kernel.

mod attribution;
mod btf;
mod channel_group;
mod channels;
mod ebpf_log;
mod ebpf_programs;
mod gate;
mod inet_channels;
mod ipc_objects;
mod kernel_offsets;
mod on_cpu;
mod privileges;
mod registry;
mod sampling;
mod shared_memory_channels;
mod syscall_names;
mod tracefs;
mod tracer;
pub mod user_program;

pub use tracer::Attach;

use anyhow::Context;

use crate::bench::{self, worker::CLIENT_SLOT, worker::SERVER_SLOT};
use crate::config::BenchConfig;
use crate::mechanism::Mechanism;
use crate::result::{Overhead, OverheadFigure, Pattern, RunResult};
use attribution::TracedProcessFigures;
use ipc_ebpf::SHARED_SLOT;

/// Untraced and traced runs alternated for the overhead figure: a VM's round trip drifts by
/// tens of percent between consecutive runs (the host moves its vCPUs), so one run of each would
/// measure the drift as often as the tracing.
pub const OVERHEAD_PAIRS: usize = 5;

/// Runs `mechanism` untraced, then traced (the breakdown comes from this first traced run), then
/// alternates untraced and traced runs again for the overhead (see [`Overhead`]), `pairs`
/// pairs in all ([`OVERHEAD_PAIRS`] for `trace`; `report` makes one). Every pattern: the
/// figures are per round trip (latency) or per message (throughput, fan-in).
pub fn run(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    attach: Attach,
    ebpf_log: bool,
    pairs: usize,
) -> anyhow::Result<RunResult> {
    if bench::patterns::processes(config) > SHARED_SLOT {
        // Said in the unit the user chose: fan-in counts writers, the reader besides.
        let most = match config.pattern {
            Pattern::FanIn => format!("{} fan-in writers", SHARED_SLOT - 1),
            _ => format!("{SHARED_SLOT} processes"),
        };
        crate::usage_error::usage_bail!(
            "trace follows at most {most} (one process line each); this run has {} processes",
            bench::patterns::processes(config)
        );
    }
    let mut tracer = tracer::Tracer::load(attach, ebpf_log)?;
    let untraced = bench::run(mechanism, config)?;
    if untraced.unsupported.is_some() {
        return Ok(untraced);
    }
    let figure = overhead_figure(config.pattern);
    let Some(untraced_ns) = compared_ns(&untraced, figure) else {
        return Ok(untraced);
    };
    // The same number of messages in every run (a --duration was turned into one).
    let config = &BenchConfig {
        iterations: untraced.messages / bench::patterns::messages_per_iteration(config),
        probe_for: None,
        ..config.clone()
    };
    let mut untraced_runs = vec![untraced_ns];
    tracer.attach()?;
    let first = traced_run(&mut tracer, mechanism, config)?;
    let attached_as = (tracer.syscalls_via, tracer.sched_via);
    let mut processes = Vec::with_capacity(first.workers.len());
    for worker in &first.workers {
        processes.push(TracedProcessFigures {
            role: worker.role.clone(),
            pid: worker.pid,
            started_by: None,
            user_s: Some(worker.user_s),
            elapsed_s: worker.elapsed_s,
            on_cpu_counted: false,
            counts: tracer.counts(worker.slot)?,
        });
    }
    // The channels as the first traced run's processes used them (later runs add to the maps).
    let channels = match tracer.channels_unavailable() {
        Some(_) => None,
        None => Some(channels::pair(&tracer.ends()?, |slot| {
            let worker = first.workers.iter().find(|w| w.slot == slot)?;
            Some((worker.pid, worker.role.clone()))
        })),
    };
    let mut result = first.result;
    let mut traced_runs = vec![compared_ns(&result, figure).unwrap_or(0)];
    for _ in 1..pairs.max(1) {
        tracer.detach()?;
        let again = bench::run(mechanism, config)?;
        untraced_runs.push(compared_ns(&again, figure).unwrap_or(0));
        tracer.attach()?;
        let again = traced_run(&mut tracer, mechanism, config)?;
        traced_runs.push(compared_ns(&again.result, figure).unwrap_or(0));
    }
    drop(tracer);
    let overhead = Overhead::from_runs(figure, untraced_runs, traced_runs);
    let mut breakdown =
        attribution::build(&processes, result.messages, Some(overhead), attached_as);
    breakdown.channels = channels;
    result.breakdown = Some(breakdown);
    Ok(result)
}

/// A traced run's result and its workers.
struct TracedRun {
    result: RunResult,
    workers: Vec<TracedWorker>,
}

/// One worker process of a traced run.
struct TracedWorker {
    role: String,
    pid: u32,
    slot: u32,
    user_s: f64,
    /// Wall time of its measured phase (unknown for fan-in workers).
    elapsed_s: Option<f64>,
}

/// One run with the programs attached and each worker's phase gated in the kernel.
fn traced_run(
    tracer: &mut tracer::Tracer,
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
) -> anyhow::Result<TracedRun> {
    let slots = bench::patterns::processes(config);
    // The run's helper processes (a D-Bus broker) come after its workers.
    tracer.registry().reserve_slots(slots + HELPER_SLOTS)?;
    let mut gate = gate::KernelGate {
        registry: tracer.registry(),
        registered: false,
        first_helper_slot: slots,
    };
    if config.pattern != Pattern::Latency && config.pattern != Pattern::Throughput {
        // Worker i is in slot i: a fan-in's reader then its writers, a server then its
        // clients, a pipeline's stages.
        let (result, pids) = bench::run_group(mechanism, config, &mut gate)?;
        let mut workers: Vec<TracedWorker> = result
            .cpu
            .processes
            .iter()
            .zip(pids)
            .zip(0u32..)
            .map(|((process, pid), slot)| TracedWorker {
                role: process.role.clone(),
                pid,
                slot,
                user_s: process.usage.user_s,
                elapsed_s: None,
            })
            .collect();
        workers.extend(helpers_of(tracer, &result, workers.len(), slots)?);
        return Ok(TracedRun { result, workers });
    }
    let outcome = bench::run_pair(mechanism, config, &mut gate)?;
    let result = bench::result_of(mechanism, config, &outcome)?;
    let (starts, answers) = bench::pair_roles(config);
    let mut workers = vec![
        TracedWorker {
            role: starts.into(),
            pid: outcome.pids.0,
            slot: CLIENT_SLOT,
            user_s: outcome.client.cpu.user_s,
            elapsed_s: Some(outcome.client.elapsed_s),
        },
        TracedWorker {
            role: answers.into(),
            pid: outcome.pids.1,
            slot: SERVER_SLOT,
            user_s: outcome.server.cpu.user_s,
            elapsed_s: Some(outcome.server.elapsed_s),
        },
    ];
    workers.extend(helpers_of(tracer, &result, workers.len(), slots)?);
    Ok(TracedRun { result, workers })
}

/// Process slots kept for a run's helper processes: a D-Bus broker, the only one so far.
const HELPER_SLOTS: u32 = 1;

/// The helper processes of a traced run (the result's processes after its `workers` workers),
/// each in the slot the timing worker registered it in, from `first_slot` on.
fn helpers_of(
    tracer: &mut tracer::Tracer,
    result: &RunResult,
    workers: usize,
    first_slot: u32,
) -> anyhow::Result<Vec<TracedWorker>> {
    let owners = tracer.registry().owners()?;
    result.cpu.processes[workers.min(result.cpu.processes.len())..]
        .iter()
        .zip(first_slot..)
        .map(|(process, slot)| {
            let owner = owners.iter().find(|o| o.slot == slot).with_context(|| {
                format!("the {} was never registered for tracing", process.role)
            })?;
            Ok(TracedWorker {
                role: process.role.clone(),
                pid: owner.process.tgid,
                slot,
                user_s: process.usage.user_s,
                elapsed_s: None,
            })
        })
        .collect()
}

/// The figure tracing's cost is judged by: the p50 round trip where the pattern times round
/// trips, else the time per message of its stream (a pipeline's or a pub-sub's latency is
/// measured at a pace, which tracing's cost would not show in).
fn overhead_figure(pattern: Pattern) -> OverheadFigure {
    match pattern {
        Pattern::Latency | Pattern::RequestResponse => OverheadFigure::RoundTripP50,
        _ => OverheadFigure::TimePerMessage,
    }
}

/// `figure` of `result`, in ns.
fn compared_ns(result: &RunResult, figure: OverheadFigure) -> Option<u64> {
    match figure {
        OverheadFigure::RoundTripP50 => result.latency_ns.as_ref().map(|l| l.p50),
        OverheadFigure::TimePerMessage => result
            .throughput
            .as_ref()
            .filter(|rate| rate.messages_per_sec > 0.0)
            .map(|rate| (1e9 / rate.messages_per_sec).round() as u64),
    }
}
