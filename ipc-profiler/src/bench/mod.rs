//! The benchmark harness: runs a mechanism between two real processes and turns what they
//! measured into a [`RunResult`].

pub mod clock;
pub mod cpu_usage;
pub mod fan_in;
pub mod latency;
pub mod payload;
pub mod phase;
pub mod placement;
pub mod throughput;

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
use crate::report::{CpuSummary, LatencySummary, Pattern, RunResult, Throughput};

/// How long the controller waits for a worker before giving up on it.
const WORKER_TIMEOUT: Duration = Duration::from_secs(600);

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// What to measure.
    pub pattern: Pattern,
    /// Bytes per message.
    pub message_size: usize,
    /// Measured messages (round trips for latency).
    pub iterations: u64,
    /// Throughput only: `iterations` is a ceiling; a short probe sizes the run to take about
    /// [`throughput::TARGET_SECONDS`].
    pub size_by_probe: bool,
    /// Round trips before measuring, excluded from every figure.
    pub warmup: u64,
    /// Where the workers run.
    pub cpus: CpuPlan,
    /// Fan-in only: writer processes.
    pub writers: usize,
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

/// Runs `config`'s pattern over `mechanism` without tracing.
pub fn run(mechanism: &dyn Mechanism, config: &BenchConfig) -> anyhow::Result<RunResult> {
    if config.pattern == Pattern::FanIn {
        if let Some(reason) = mechanism
            .available()
            .err()
            .or_else(|| mechanism.unsupported_pattern(config.pattern))
            .or_else(|| fan_in::unsupported(mechanism, config.message_size))
        {
            return Ok(RunResult::unsupported(
                mechanism,
                config.pattern,
                config,
                reason,
            ));
        }
        return fan_in::run(mechanism, config);
    }
    if let Some(reason) = unsupported(mechanism, config) {
        return Ok(RunResult::unsupported(
            mechanism,
            config.pattern,
            config,
            reason,
        ));
    }
    let config = &sized_by_probe(mechanism, config)?;
    let outcome = run_pair(mechanism, config, &mut Untraced)?;
    result_of(mechanism, config, &outcome)
}

/// For a throughput run asked to size itself: streams a few messages, then returns the
/// configuration with as many messages as fill the target time at the rate seen.
pub fn sized_by_probe(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
) -> anyhow::Result<BenchConfig> {
    if config.pattern != Pattern::Throughput || !config.size_by_probe {
        return Ok(config.clone());
    }
    let probe = BenchConfig {
        iterations: throughput::PROBE_MESSAGES.min(config.iterations),
        size_by_probe: false,
        ..config.clone()
    };
    let outcome = run_pair(mechanism, &probe, &mut Untraced)?;
    let rate = probe.iterations as f64 / outcome.client.elapsed_s.max(1e-6);
    let wanted = (rate * throughput::TARGET_SECONDS) as u64;
    Ok(BenchConfig {
        iterations: wanted.clamp(probe.iterations, config.iterations),
        size_by_probe: false,
        ..config.clone()
    })
}

/// Why `mechanism` cannot run `config` here, if it cannot.
pub fn unsupported(mechanism: &dyn Mechanism, config: &BenchConfig) -> Option<String> {
    mechanism
        .available()
        .err()
        .or_else(|| mechanism.unsupported_pattern(config.pattern))
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
        match config.pattern {
            Pattern::Latency => latency::server(server_end.as_mut(), config, gate),
            Pattern::Throughput | Pattern::FanIn => {
                throughput::server(server_end.as_mut(), config, gate)
            }
        }
    })?;
    let client = process::spawn("client", || {
        drop(std::mem::replace(&mut server_end, Box::new(Closed)));
        pin(cpus.client)?;
        match config.pattern {
            Pattern::Latency => latency::client(
                client_end.as_mut(),
                config,
                mechanism.carries_payload(),
                gate,
            ),
            Pattern::Throughput | Pattern::FanIn => {
                throughput::client(client_end.as_mut(), config, gate)
            }
        }
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

pub(crate) fn pin(cpu: Option<usize>) -> anyhow::Result<()> {
    match cpu {
        Some(cpu) => placement::pin(cpu).with_context(|| format!("could not pin to CPU {cpu}")),
        None => Ok(()),
    }
}

/// Turns what the workers reported into a result.
pub fn result_of(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    outcome: &PairOutcome,
) -> anyhow::Result<RunResult> {
    let (latency_ns, throughput, warmup) = match config.pattern {
        Pattern::Latency => {
            let bytes = outcome
                .client
                .histogram
                .as_deref()
                .context("the client sent no histogram")?;
            let histogram: Histogram<u64> = Deserializer::new()
                .deserialize(&mut Cursor::new(bytes))
                .map_err(|e| anyhow::anyhow!("unreadable histogram: {e:?}"))?;
            (
                Some(LatencySummary::from_histogram(&histogram)),
                None,
                config.warmup,
            )
        }
        Pattern::Throughput | Pattern::FanIn => {
            let seconds = outcome.client.elapsed_s.max(1e-9);
            let messages_per_sec = config.iterations as f64 / seconds;
            let rate = Throughput {
                messages_per_sec,
                bytes_per_sec: messages_per_sec * config.message_size as f64,
            };
            (None, Some(rate), throughput::WARMUP_ROUND_TRIPS)
        }
    };
    let cpu = outcome.client.cpu.plus(&outcome.server.cpu);
    Ok(RunResult {
        mechanism: mechanism.name().to_string(),
        pattern: config.pattern,
        message_size: if mechanism.carries_payload() {
            config.message_size
        } else {
            0
        },
        messages: config.iterations,
        warmup_messages: warmup,
        processes: 2,
        placement: config.cpus.to_string(),
        wake: mechanism.wake(),
        latency_ns,
        throughput,
        cpu: CpuSummary::from_usage(&cpu, config.iterations),
        verified: true,
        unsupported: None,
        breakdown: None,
    })
}
