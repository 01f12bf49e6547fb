//! The benchmark harness: runs a mechanism between real processes and turns what they
//! measured into a [`RunResult`].

pub mod clock;
pub mod cpu_usage;
pub mod fan_in;
pub mod helpers;
pub mod latency;
pub mod patterns;
pub mod payload;
pub mod phase;
pub mod pipeline;
pub mod placement;
pub mod pub_sub;
pub mod request_response;
pub mod sweep;
pub mod throughput;
pub mod timing;
pub mod worker;

use std::time::Duration;

use anyhow::Context;

use self::patterns::Runs;
pub use self::phase::{PhaseGate, Untraced};
use self::worker::{pin, Closed, WorkerReport};
use crate::config::BenchConfig;
use crate::mechanism::Mechanism;
use crate::process;
use crate::result::{
    CpuSummary, LatencySummary, Measured, Pattern, ProcessCpu, RunIdentity, RunResult, Throughput,
};

/// How long the controller waits for a worker before giving up on it.
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(600);

/// What the two workers of a latency or throughput run reported.
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
    if let Some(reason) = refusal(mechanism, config) {
        return Ok(RunResult::unsupported(identity(mechanism, config), reason));
    }
    let ran = sized_by_probe(mechanism, config).and_then(|config| {
        let config = &config;
        match patterns::spec(config.pattern).runs {
            Runs::Pair { .. } => {
                let outcome = run_pair(mechanism, config, &mut Untraced)?;
                result_of(mechanism, config, &outcome)
            }
            Runs::Group { .. } => Ok(run_group(mechanism, config, &mut Untraced)?.0),
        }
    });
    // A process limit met while setting up many processes' channels is a limit of this
    // machine, said as such, not a failed run.
    match ran {
        Err(error) => match crate::limits::met_by(&error, mechanism.name()) {
            Some(limit) => Ok(RunResult::unsupported(identity(mechanism, config), limit)),
            None => Err(error),
        },
        ok => ok,
    }
}

/// Runs one of the patterns of many processes (every pattern but the pair's latency and
/// throughput), each worker switching its measured phase through `gate` (a copy per process,
/// made by the fork); returns the result and the workers' pids, worker `i` in tracer slot `i`.
pub fn run_group(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<(RunResult, Vec<u32>)> {
    match patterns::spec(config.pattern).runs {
        Runs::Group { run, .. } => run(mechanism, config, gate),
        Runs::Pair { .. } => {
            anyhow::bail!("{} runs as a pair (run_pair)", config.pattern.name())
        }
    }
}

/// Why `mechanism` cannot run `config` here, if it cannot: the machine, the pattern's own
/// limits, then the mechanism's.
pub fn refusal(mechanism: &dyn Mechanism, config: &BenchConfig) -> Option<String> {
    mechanism
        .available()
        .err()
        .or_else(|| match patterns::spec(config.pattern).runs {
            Runs::Group { refusal, .. } => refusal(mechanism, config),
            Runs::Pair { .. } => None,
        })
        .or_else(|| mechanism.refuses(config))
}

/// What identifies a run of `config` over `mechanism` in its result.
pub fn identity(mechanism: &dyn Mechanism, config: &BenchConfig) -> RunIdentity {
    let pattern = config.pattern;
    // The pattern's own count, present only for that pattern.
    let count_for = |of: Pattern| (pattern == of).then_some(config.count as u32);
    let placement = match patterns::spec(pattern).runs {
        Runs::Group { placement, .. } => placement(config),
        Runs::Pair { .. } => config.cpus.to_string(),
    };
    RunIdentity {
        mechanism: mechanism.name().to_string(),
        wake: mechanism.wake(),
        pattern,
        message_size: if mechanism.carries_payload() {
            config.message_size
        } else {
            0
        },
        processes: patterns::processes(config),
        procs: count_for(Pattern::FanIn),
        stages: count_for(Pattern::Pipeline),
        clients: count_for(Pattern::RequestResponse),
        subscribers: count_for(Pattern::PubSub),
        placement,
        setting: mechanism.setting(config.message_size),
    }
}

/// Messages (round trips for latency, per writer for fan-in) a probe runs to measure a rate.
pub const PROBE_MESSAGES: u64 = 200;

/// For a run asked to fill a time: runs a short probe of the same pattern, then returns the
/// configuration with as many messages as fill that time at the rate seen.
pub fn sized_by_probe(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
) -> anyhow::Result<BenchConfig> {
    let Some(seconds) = config.probe_for else {
        return Ok(config.clone());
    };
    let probe = BenchConfig {
        iterations: PROBE_MESSAGES.min(config.iterations),
        probe_for: None,
        ..config.clone()
    };
    // Messages per second of the unit `iterations` counts.
    let rate = match patterns::spec(config.pattern).runs {
        Runs::Pair { .. } => {
            let outcome = run_pair(mechanism, &probe, &mut Untraced)?;
            probe.iterations as f64 / outcome.client.elapsed_s.max(1e-6)
        }
        Runs::Group { .. } => {
            let (result, _) = run_group(mechanism, &probe, &mut Untraced)?;
            let total = result.throughput.map_or(0.0, |t| t.messages_per_sec);
            total / patterns::messages_per_iteration(&probe) as f64
        }
    };
    let wanted = (rate * seconds) as u64;
    Ok(BenchConfig {
        iterations: wanted.clamp(probe.iterations, config.iterations),
        probe_for: None,
        ..config.clone()
    })
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
    let cleanup = channel.cleanup;
    let helpers = cleanup.helpers();
    let cpus = &config.cpus;
    let latency = times_round_trips(config);
    let server = process::spawn("server", || {
        drop(std::mem::replace(&mut client_end, Box::new(Closed)));
        pin(cpus.server)?;
        if latency {
            latency::server(server_end.as_mut(), config, gate)
        } else {
            throughput::server(server_end.as_mut(), config, gate)
        }
    })?;
    let client = process::spawn("client", || {
        drop(std::mem::replace(&mut server_end, Box::new(Closed)));
        pin(cpus.client)?;
        if latency {
            latency::client(
                client_end.as_mut(),
                config,
                mechanism.carries_payload(),
                helpers,
                gate,
            )
        } else {
            throughput::client(client_end.as_mut(), config, gate)
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

/// The roles of a pair run's two processes as results name them: the one that starts each
/// exchange, then the one that answers (a client and its server timing round trips; a
/// stream's writer and its reader).
pub fn pair_roles(config: &BenchConfig) -> (&'static str, &'static str) {
    if times_round_trips(config) {
        ("client", "server")
    } else {
        ("writer", "reader")
    }
}

/// Whether a pair run of `config` times round trips (latency) rather than a stream.
fn times_round_trips(config: &BenchConfig) -> bool {
    matches!(
        patterns::spec(config.pattern).runs,
        Runs::Pair { latency: true }
    )
}

/// Turns what the two workers of a latency or throughput run reported into a result.
pub fn result_of(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    outcome: &PairOutcome,
) -> anyhow::Result<RunResult> {
    let (latency_ns, throughput, warmup_messages) = match times_round_trips(config) {
        true => {
            let bytes = outcome
                .client
                .histogram
                .as_deref()
                .context("the client sent no histogram")?;
            let histogram = timing::deserialize(bytes)?;
            (
                Some(LatencySummary::from_histogram(&histogram)),
                None,
                config.warmup,
            )
        }
        false => {
            let rate = Throughput::of(
                config.iterations,
                config.message_size,
                outcome.client.elapsed_s,
            );
            (None, Some(rate), throughput::WARMUP_ROUND_TRIPS)
        }
    };
    let (starts, answers) = pair_roles(config);
    let mut processes = vec![
        ProcessCpu {
            role: starts.into(),
            usage: outcome.client.cpu,
        },
        ProcessCpu {
            role: answers.into(),
            usage: outcome.server.cpu,
        },
    ];
    processes.extend(outcome.client.helpers.iter().cloned());
    Ok(RunResult::measured(
        identity(mechanism, config),
        Measured {
            messages: config.iterations,
            warmup_messages,
            latency_ns,
            throughput,
            cpu: CpuSummary::from_processes(processes, config.iterations),
        },
    ))
}
