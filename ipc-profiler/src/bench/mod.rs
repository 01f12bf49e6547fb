//! The benchmark harness: runs a mechanism between two real processes and turns what they
//! measured into a [`RunResult`].

pub mod clock;
pub mod cpu_usage;
pub mod latency;
pub mod payload;
pub mod phase;
pub mod placement;

use std::io::Cursor;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

pub use self::latency::WorkerReport;
pub use self::phase::{PhaseGate, Untraced};
pub use self::placement::{CpuPlan, Placement};
use crate::mechanism::Mechanism;
use crate::process;
use crate::report::{CpuSummary, LatencySummary, Pattern, RunResult};

/// How long the controller waits for a worker before giving up on it.
const WORKER_TIMEOUT: Duration = Duration::from_secs(600);

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Bytes per message.
    pub message_size: usize,
    /// Measured round trips.
    pub iterations: u64,
    /// Round trips before measuring, excluded from every figure.
    pub warmup: u64,
    /// Where the workers run.
    pub cpus: CpuPlan,
}

/// What the two workers of a latency run reported.
pub struct PairOutcome {
    /// The timing side.
    pub client: WorkerReport,
    /// The echoing side.
    pub server: WorkerReport,
    /// Process ids (client, server), for attributing kernel figures.
    pub pids: (u32, u32),
}

/// Runs the latency pattern of `mechanism` without tracing.
pub fn run(mechanism: &dyn Mechanism, config: &BenchConfig) -> anyhow::Result<RunResult> {
    if let Some(reason) = unsupported(mechanism, config) {
        return Ok(RunResult::unsupported(
            mechanism,
            Pattern::Latency,
            config,
            reason,
        ));
    }
    let outcome = run_pair(mechanism, config, &mut Untraced)?;
    result_of(mechanism, config, &outcome)
}

/// Why `mechanism` cannot run `config` here, if it cannot.
pub fn unsupported(mechanism: &dyn Mechanism, config: &BenchConfig) -> Option<String> {
    mechanism
        .available()
        .err()
        .or_else(|| mechanism.unsupported_size(config.message_size))
}

/// Forks the server and the client over a fresh channel of `mechanism` and collects their
/// reports. `gate` is copied into each worker by the fork and driven there.
pub fn run_pair(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<PairOutcome> {
    let channel = mechanism
        .connect(config.message_size)
        .with_context(|| format!("could not set up {}", mechanism.name()))?;
    let (mut client_end, mut server_end) = (channel.client, channel.server);
    // Dropped when this function returns, in the controller only, whatever the outcome.
    let _cleanup = channel.cleanup;
    let cpus = &config.cpus;
    let server = process::spawn("server", || {
        drop(std::mem::replace(&mut client_end, Box::new(Closed)));
        pin(cpus.server)?;
        latency::server(server_end.as_mut(), config, gate)
    })?;
    let client = process::spawn("client", || {
        drop(std::mem::replace(&mut server_end, Box::new(Closed)));
        pin(cpus.client)?;
        latency::client(
            client_end.as_mut(),
            config,
            mechanism.carries_payload(),
            gate,
        )
    })?;
    // The controller keeps no endpoint: a worker that dies is seen by its peer as end of file.
    drop((client_end, server_end));
    let pids = (client.pid(), server.pid());
    let mut reports = process::collect_all::<WorkerReport>(vec![client, server], WORKER_TIMEOUT)?;
    let server = reports.pop().expect("two reports");
    let client = reports.pop().expect("two reports");
    Ok(PairOutcome {
        client,
        server,
        pids,
    })
}

/// A stand-in endpoint for the one a worker does not use.
struct Closed;

impl crate::mechanism::Endpoint for Closed {
    fn send(&mut self, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::ErrorKind::NotConnected.into())
    }
    fn recv(&mut self, _: &mut [u8]) -> std::io::Result<()> {
        Err(std::io::ErrorKind::NotConnected.into())
    }
}

fn pin(cpu: Option<usize>) -> anyhow::Result<()> {
    match cpu {
        Some(cpu) => placement::pin(cpu).with_context(|| format!("could not pin to CPU {cpu}")),
        None => Ok(()),
    }
}

/// Turns a latency outcome into a result.
pub fn result_of(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    outcome: &PairOutcome,
) -> anyhow::Result<RunResult> {
    let bytes = outcome
        .client
        .histogram
        .as_deref()
        .context("the client sent no histogram")?;
    let histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(|e| anyhow::anyhow!("unreadable histogram: {e:?}"))?;
    let cpu = outcome.client.cpu.plus(&outcome.server.cpu);
    Ok(RunResult {
        mechanism: mechanism.name().to_string(),
        pattern: Pattern::Latency,
        message_size: if mechanism.carries_payload() {
            config.message_size
        } else {
            0
        },
        messages: config.iterations,
        warmup_messages: config.warmup,
        processes: 2,
        placement: config.cpus.to_string(),
        wake: mechanism.wake(),
        latency_ns: Some(LatencySummary::from_histogram(&histogram)),
        throughput: None,
        cpu: CpuSummary::from_usage(&cpu, config.iterations),
        verified: true,
        unsupported: None,
        breakdown: None,
    })
}
