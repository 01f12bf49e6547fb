//! `ipc-profiler trace`: a benchmark run while eBPF programs count, in the kernel, what each
//! message costs (syscalls, kernel time, context switches, bytes copied, off-CPU time).
//!
//! The run happens twice with the same settings: once untraced (for the overhead figure) and
//! once with the programs attached and each worker's measured phase switched on in the kernel.

mod breakdown;
mod btf;
mod ebpf_log;
mod gate;
mod privileges;
pub mod program;
mod registry;
mod syscall_names;
mod tracefs;
mod tracer;

pub use breakdown::{Breakdown, PerMessage};
pub use tracer::{Attach, SchedAttach};

use crate::bench::latency::{CLIENT_SLOT, SERVER_SLOT};
use crate::bench::{self, BenchConfig};
use crate::mechanism::Mechanism;
use crate::report::RunResult;
use breakdown::{Overhead, TracedProcessFigures};

/// Untraced and traced runs alternated for the overhead figure: a VM's round trip drifts by
/// tens of percent between consecutive runs (the host moves its vCPUs), so one run of each would
/// measure the drift as often as the tracing.
const OVERHEAD_PAIRS: usize = 5;

/// Runs `mechanism` untraced, then traced (the breakdown comes from this first traced run), then
/// alternates untraced and traced runs again for the overhead (see [`Overhead`]).
pub fn run(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    attach: Attach,
    ebpf_log: bool,
) -> anyhow::Result<RunResult> {
    let mut tracer = tracer::Tracer::load(attach, ebpf_log)?;
    let untraced = bench::run(mechanism, config)?;
    let Some(untraced_latency) = untraced.latency_ns else {
        return Ok(untraced);
    };
    let mut untraced_p50s = vec![untraced_latency.p50];
    tracer.attach()?;
    tracer.registry().reserve_slots(2)?;
    let outcome = traced_run(&mut tracer, mechanism, config)?;
    let attached_as = (tracer.syscalls_via, tracer.sched_via);
    let processes = [
        TracedProcessFigures {
            role: "client".into(),
            pid: outcome.pids.0,
            started_by: None,
            user_s: Some(outcome.client.cpu.user_s),
            counts: tracer.counts(CLIENT_SLOT)?,
        },
        TracedProcessFigures {
            role: "server".into(),
            pid: outcome.pids.1,
            started_by: None,
            user_s: Some(outcome.server.cpu.user_s),
            counts: tracer.counts(SERVER_SLOT)?,
        },
    ];
    let mut result = bench::result_of(mechanism, config, &outcome)?;
    let mut traced_p50s = vec![result.latency_ns.as_ref().map_or(0, |l| l.p50)];
    for _ in 1..OVERHEAD_PAIRS {
        tracer.detach()?;
        let again = bench::run(mechanism, config)?;
        untraced_p50s.push(again.latency_ns.map_or(0, |l| l.p50));
        tracer.attach()?;
        let again = traced_run(&mut tracer, mechanism, config)?;
        let again = bench::result_of(mechanism, config, &again)?;
        traced_p50s.push(again.latency_ns.map_or(0, |l| l.p50));
    }
    drop(tracer);
    let overhead = Overhead::from_runs(untraced_p50s, traced_p50s);
    result.breakdown = Some(Breakdown::new(
        &processes,
        config.iterations,
        Some(overhead),
        attached_as,
    ));
    Ok(result)
}

/// One run with the programs attached and each worker's phase gated in the kernel.
fn traced_run(
    tracer: &mut tracer::Tracer,
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
) -> anyhow::Result<bench::PairOutcome> {
    let mut gate = gate::KernelGate {
        registry: tracer.registry(),
        registered: false,
    };
    bench::run_pair(mechanism, config, &mut gate)
}
