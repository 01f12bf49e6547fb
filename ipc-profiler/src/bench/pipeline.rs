//! The pipeline pattern: K processes in a chain, each receiving from the one before, verifying
//! every byte and forwarding to the next, over one mechanism (K - 1 channels, plus one from the
//! last stage back to the first that carries only acknowledgements).
//!
//! Two measurements, kept apart so that latency is not queueing delay:
//! - **latency**, first stage to last: the source sends one message at a time and waits for the
//!   sink's acknowledgement before the next; the source notes when it sent each message and the
//!   sink when it received it, both on CLOCK_MONOTONIC, one clock for every process, and the
//!   controller subtracts. The acknowledgement's own trip is in no latency figure.
//! - **throughput**: then the source streams as many messages without waiting, and its clock
//!   stops when the sink acknowledges the last, so the rate counts messages delivered through
//!   the whole chain.
//!
//! CPU is measured over both phases and divided by all their messages.

use anyhow::{bail, Context};

use super::payload::Payload;
use super::phase::PhaseGate;
use super::worker::{pin, WorkerReport};
use super::{cpu_usage, identity, WORKER_TIMEOUT};
use crate::config::{BenchConfig, Placement};
use crate::mechanism::{Endpoint, Mechanism};
use crate::process;
use crate::result::{CpuSummary, LatencySummary, Measured, ProcessCpu, RunResult, Throughput};

/// The most processes a chain may have.
pub const MAX_STAGES: usize = 16;

/// Messages per phase when the user gave no count: fewer for longer chains, whose paced
/// messages each cross every stage.
pub fn default_messages(stages: usize) -> u64 {
    (20_000 / stages.max(1) as u64).clamp(1_000, 10_000)
}

/// Why `mechanism` cannot run `config` as a pipeline, if it cannot.
pub fn refusal(mechanism: &dyn Mechanism, config: &BenchConfig) -> Option<String> {
    super::worker::too_many_spinners(mechanism, config.count)
}

/// Where stage `stage` runs: cross-core alternates the plan's two CPUs along the chain (more
/// stages than CPUs share them); same-core puts every stage on one CPU.
fn stage_cpu(config: &BenchConfig, stage: usize) -> Option<usize> {
    match config.cpus.placement {
        Placement::CrossCore if stage % 2 == 1 => config.cpus.server,
        _ => config.cpus.client,
    }
}

/// The placement as a result names it.
pub fn placement(config: &BenchConfig) -> String {
    match config.cpus.placement {
        Placement::CrossCore => format!("{}, {} stages alternate", config.cpus, config.count),
        _ => format!("{}, {} stages", config.cpus, config.count),
    }
}

/// Runs `config.count` stages over `mechanism`, each switching its measured phase through
/// `gate` (stage `i` in slot `i`); also returns the stages' pids, source first.
pub fn run_gated(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<(RunResult, Vec<u32>)> {
    let stages = config.count;
    if stages < 2 {
        bail!("a pipeline needs at least 2 stages");
    }
    // Channel i joins stage i to stage i + 1; the last joins the sink back to the source.
    let mut cleanups = Vec::new();
    let mut inputs: Vec<Option<Box<dyn Endpoint>>> = (0..stages).map(|_| None).collect();
    let mut outputs: Vec<Option<Box<dyn Endpoint>>> = (0..stages).map(|_| None).collect();
    // A stream may have every message of a phase in flight on one hop.
    let in_flight = config.iterations.max(config.warmup) as usize;
    for from in 0..stages {
        let channel = mechanism
            .connect_for_stream(config.message_size, in_flight)
            .with_context(|| format!("could not set up {} for stage {from}", mechanism.name()))?;
        cleanups.push(channel.cleanup);
        outputs[from] = Some(channel.client);
        inputs[(from + 1) % stages] = Some(channel.server);
    }
    let mut workers = Vec::with_capacity(stages);
    for stage in 0..stages {
        let name = match stage {
            0 => "source",
            s if s + 1 == stages => "sink",
            _ => "stage",
        };
        workers.push(process::spawn(name, || {
            let mut input = inputs[stage].take().context("no input")?;
            let mut output = outputs[stage].take().context("no output")?;
            // Every other stage's endpoints close here: a stage that dies is seen as end of
            // file by its neighbours only.
            inputs.clear();
            outputs.clear();
            pin(stage_cpu(config, stage))?;
            let ends = Ends {
                input: input.as_mut(),
                output: output.as_mut(),
            };
            if stage == 0 {
                source(ends, config, gate)
            } else {
                relay(ends, config, stage, gate)
            }
        })?);
    }
    drop((inputs, outputs));
    let pids: Vec<u32> = workers.iter().map(|w| w.pid()).collect();
    let reports = process::collect_all::<WorkerReport>(workers, WORKER_TIMEOUT)?;
    drop(cleanups);
    let latency = latency_of(&reports[0], &reports[stages - 1])?;
    let messages = 2 * config.iterations;
    let processes = reports
        .iter()
        .enumerate()
        .map(|(stage, report)| ProcessCpu {
            role: role(stage, stages),
            usage: report.cpu,
        })
        .collect();
    let result = RunResult::measured(
        identity(mechanism, config),
        Measured {
            messages,
            warmup_messages: config.warmup,
            latency_ns: Some(latency),
            throughput: Some(Throughput::of(
                config.iterations,
                config.message_size,
                reports[0].elapsed_s,
            )),
            cpu: CpuSummary::from_processes(processes, messages),
        },
    );
    Ok((result, pids))
}

/// Stage `stage`'s name in results and traces.
fn role(stage: usize, stages: usize) -> String {
    match stage {
        0 => "stage 0 (source)".into(),
        s if s + 1 == stages => format!("stage {s} (sink)"),
        s => format!("stage {s}"),
    }
}

/// A stage's two endpoints: from the stage before, to the stage after.
struct Ends<'a> {
    input: &'a mut dyn Endpoint,
    output: &'a mut dyn Endpoint,
}

/// The first stage: paced messages (warm-up, then timed), then the stream. Its report's
/// elapsed time is the stream's, from its first send to the sink's last acknowledgement; its
/// stamps are when each timed message left.
fn source(
    ends: Ends,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let Ends { input, output } = ends;
    let mut payload = Payload::new(config.message_size);
    let mut ack = vec![0u8; config.message_size];
    let (warmup, n) = (config.warmup, config.iterations);
    for sequence in 0..warmup {
        output.send(payload.message(sequence))?;
        input.recv(&mut ack)?;
        payload.check_sequence(&ack, sequence)?;
    }
    let cpu_start = cpu_usage::now();
    gate.open(0)?;
    let mut sent_at = Vec::with_capacity(n as usize);
    for sequence in warmup..warmup + n {
        let message = payload.message(sequence);
        sent_at.push(super::clock::monotonic_ns());
        output.send(message)?;
        input.recv(&mut ack)?;
        payload.check_sequence(&ack, sequence)?;
    }
    let stream_start = std::time::Instant::now();
    for sequence in warmup + n..warmup + 2 * n {
        output.send(payload.message(sequence))?;
    }
    input.recv(&mut ack)?;
    let elapsed = stream_start.elapsed().as_secs_f64();
    gate.close(0)?;
    payload.check_sequence(&ack, warmup + 2 * n - 1)?;
    Ok(WorkerReport {
        histogram: None,
        cpu: cpu_usage::now().since(&cpu_start),
        elapsed_s: elapsed,
        stamps_ns: Some(sent_at),
        lost: None,
        helpers: Vec::new(),
    })
}

/// Every later stage: receives, verifies every byte, forwards. The sink (the last) forwards
/// to the source only what paces it: each warm-up and timed message, then the stream's last;
/// its stamps are when each timed message arrived.
fn relay(
    ends: Ends,
    config: &BenchConfig,
    stage: usize,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let Ends { input, output } = ends;
    let sink = stage + 1 == config.count;
    let payload = Payload::new(config.message_size);
    let mut message = vec![0u8; config.message_size];
    let (warmup, n) = (config.warmup, config.iterations);
    let last = warmup + 2 * n - 1;
    let mut received_at = Vec::with_capacity(if sink { n as usize } else { 0 });
    let mut cpu_start = cpu_usage::now();
    let start = std::time::Instant::now();
    for sequence in 0..=last {
        if sequence == warmup {
            cpu_start = cpu_usage::now();
            gate.open(stage as u32)?;
        }
        input.recv(&mut message)?;
        let at = super::clock::monotonic_ns();
        payload
            .verify(&message, sequence)
            .with_context(|| format!("stage {stage}"))?;
        let timed = (warmup..warmup + n).contains(&sequence);
        if sink && timed {
            received_at.push(at);
        }
        if !sink || sequence < warmup + n || sequence == last {
            output.send(&message)?;
        }
    }
    gate.close(stage as u32)?;
    Ok(WorkerReport {
        histogram: None,
        cpu: cpu_usage::now().since(&cpu_start),
        elapsed_s: start.elapsed().as_secs_f64(),
        stamps_ns: sink.then_some(received_at),
        lost: None,
        helpers: Vec::new(),
    })
}

/// First stage to last, per timed message: the sink's arrival less the source's departure.
fn latency_of(source: &WorkerReport, sink: &WorkerReport) -> anyhow::Result<LatencySummary> {
    let sent = source
        .stamps_ns
        .as_deref()
        .context("the source sent no stamps")?;
    let received = sink
        .stamps_ns
        .as_deref()
        .context("the sink sent no stamps")?;
    super::timing::one_way(sent, received)
}
