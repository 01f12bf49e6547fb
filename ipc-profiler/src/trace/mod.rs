//! `ipc-profiler trace`: a benchmark run while eBPF programs count, in the kernel, what each
//! message costs (syscalls, kernel time, context switches, bytes copied, off-CPU time).
//!
//! The run happens twice with the same settings: once untraced (for the overhead figure) and
//! once with the programs attached and each worker's measured phase switched on in the kernel.

mod breakdown;
mod gate;
mod privileges;
pub mod program;
mod syscall_names;
mod tracefs;
mod tracer;

pub use breakdown::{Breakdown, PerMessage};
pub use tracer::Attach;

use crate::bench::latency::{CLIENT_SLOT, SERVER_SLOT};
use crate::bench::{self, BenchConfig};
use crate::mechanism::Mechanism;
use crate::report::RunResult;
use breakdown::{Overhead, TracedProcessFigures};

/// Runs `mechanism` untraced, then traced, and returns the traced result with its breakdown.
pub fn run(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    attach: Attach,
) -> anyhow::Result<RunResult> {
    let mut tracer = tracer::Tracer::load(attach)?;
    let untraced = bench::run(mechanism, config)?;
    let Some(untraced_latency) = untraced.latency_ns else {
        return Ok(untraced);
    };
    tracer.attach()?;
    let outcome = {
        let mut gate = gate::KernelGate {
            traced: tracer.traced_map(),
            pid: None,
        };
        bench::run_pair(mechanism, config, &mut gate)?
    };
    let attached_as = tracer.syscalls_via;
    let processes = [
        TracedProcessFigures {
            role: "client",
            pid: outcome.pids.0,
            user_s: outcome.client.cpu.user_s,
            counts: tracer.counts(CLIENT_SLOT)?,
        },
        TracedProcessFigures {
            role: "server",
            pid: outcome.pids.1,
            user_s: outcome.server.cpu.user_s,
            counts: tracer.counts(SERVER_SLOT)?,
        },
    ];
    drop(tracer);
    let mut result = bench::result_of(mechanism, config, &outcome)?;
    let traced_p50 = result.latency_ns.as_ref().map_or(0, |l| l.p50);
    let overhead = Overhead {
        untraced_p50_ns: untraced_latency.p50,
        traced_p50_ns: traced_p50,
        ratio: traced_p50 as f64 / untraced_latency.p50.max(1) as f64,
    };
    result.breakdown = Some(Breakdown::new(
        &processes,
        config.iterations,
        Some(overhead),
        attached_as,
    ));
    Ok(result)
}
