//! The publish-subscribe pattern: one publisher, N subscriber processes, every subscriber
//! receives every message. A mechanism with a shared broadcast channel (ipc-core's broadcast
//! ring, backpressure mode) publishes each message once; every other one publishes once per
//! subscriber, each over its own channel (a socket, pipe or FIFO each; for the queues, where a
//! message goes to one reader only, a queue each). The result's placement says which.
//!
//! Two measurements, kept apart:
//! - **throughput**: the publisher streams `--iters` messages at full speed, the slowest
//!   subscriber holding it back, and its clock stops when every subscriber has acknowledged the
//!   last: messages per second delivered to all.
//! - **delivery latency**: then it publishes as many again at a paced rate (`--rate`, or by
//!   default the slower of a tenth of the rate just measured and one message per two single
//!   deliveries to every subscriber, probed before the run) that the slowest subscriber keeps
//!   up with, so that latency is not queueing delay. The publisher notes when it published each message and
//!   every subscriber when it received it, on CLOCK_MONOTONIC (one clock for every process);
//!   `latency_ns` is the slowest subscriber's (highest p99), and the paced rate is reported.
//!
//! Every subscriber verifies every byte of every message. Acknowledgements (after the warm-up
//! and after each phase) go back over each subscriber's own channel, or for a broadcast ring
//! over a channel of the same mechanism kept for them.

use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::clock::monotonic_ns;
use super::payload::Payload;
use super::phase::PhaseGate;
use super::worker::{pin, WorkerReport};
use super::{cpu_usage, identity, WORKER_TIMEOUT};
use crate::config::BenchConfig;
use crate::mechanism::{Endpoint, Helper, Mechanism};
use crate::process;
use crate::result::{CpuSummary, LatencySummary, Measured, RunResult, Throughput};

/// The most subscriber processes a run may have.
pub const MAX_SUBSCRIBERS: usize = ipc_core::broadcast::MAX_SUBSCRIBERS;
/// The paced rate, as a fraction of the full-speed rate, when `--rate` is not given.
pub const RATE_FRACTION: f64 = 0.1;

/// Messages per phase when the user gave no count: 10,000 deliveries in all, at least 250 (the
/// paced phase takes ten times the stream's time at the default rate).
pub fn default_messages(subscribers: usize) -> u64 {
    (10_000 / subscribers.max(1) as u64).max(250)
}

/// Why `mechanism` cannot publish to `config.count`, if it cannot.
pub fn refusal(mechanism: &dyn Mechanism, config: &BenchConfig) -> Option<String> {
    if config.lossy && !mechanism.broadcasts() {
        return Some(
            "lossy delivery is a mode of ipc-core's broadcast ring; a channel per subscriber \
             holds the publisher back and never drops a message"
                .into(),
        );
    }
    if config.lossy && config.message_size < 16 {
        return Some(
            "a lossy subscriber reads each message's sequence number: at least 16 bytes".into(),
        );
    }
    super::worker::too_many_spinners(mechanism, config.count + 1)
}

/// How the publisher reaches its subscribers.
enum Fanout {
    /// One channel per subscriber: messages and acknowledgements both.
    PerSubscriber(Vec<Box<dyn Endpoint>>),
    /// One broadcast channel for the messages; one channel per subscriber for the
    /// acknowledgements.
    Shared {
        channel: Box<dyn Endpoint>,
        acks: Vec<Box<dyn Endpoint>>,
    },
}

impl Fanout {
    fn publish(&mut self, message: &[u8]) -> std::io::Result<()> {
        match self {
            Self::PerSubscriber(ends) => ends.iter_mut().try_for_each(|end| end.send(message)),
            Self::Shared { channel, .. } => channel.send(message),
        }
    }

    /// Waits for every subscriber's acknowledgement of message `sequence`.
    fn await_acks(
        &mut self,
        payload: &Payload,
        buffer: &mut [u8],
        sequence: u64,
    ) -> anyhow::Result<()> {
        let ends = match self {
            Self::PerSubscriber(ends) => ends,
            Self::Shared { acks, .. } => acks,
        };
        for end in ends {
            end.recv(buffer)?;
            payload.check_sequence(buffer, sequence)?;
        }
        Ok(())
    }
}

/// A subscriber's ends: where messages arrive, and where its acknowledgements go when that
/// is not the same channel.
struct Inbox {
    input: Box<dyn Endpoint>,
    ack: Option<Box<dyn Endpoint>>,
}

/// Runs one publisher and `config.count` subscribers over `mechanism`, each switching
/// its measured phase through `gate` (the publisher in slot 0, subscriber `i` in slot
/// `1 + i`); also returns their pids, publisher first.
pub fn run_gated(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<(RunResult, Vec<u32>)> {
    let n = config.count;
    let size = config.message_size;
    let setup = || format!("could not set up {} for {n} subscribers", mechanism.name());
    let mut cleanups = Vec::new();
    let mut inboxes = Vec::with_capacity(n);
    let broadcast = mechanism
        .connect_broadcast(size, n, config.lossy)
        .with_context(setup)?;
    let (mut fanout, shape) = match broadcast {
        Some(broadcast) => {
            cleanups.push(broadcast.cleanup);
            let mut acks = Vec::with_capacity(n);
            for input in broadcast.subscribers {
                let channel = mechanism.connect(size).with_context(setup)?;
                cleanups.push(channel.cleanup);
                acks.push(channel.client);
                inboxes.push(Inbox {
                    input,
                    ack: Some(channel.server),
                });
            }
            let fanout = Fanout::Shared {
                channel: broadcast.publisher,
                acks,
            };
            let shape = if config.lossy {
                "one broadcast channel, lossy"
            } else {
                "one broadcast channel"
            };
            (fanout, shape)
        }
        None => {
            let mut ends = Vec::with_capacity(n);
            let in_flight = config.iterations.max(config.warmup) as usize;
            for _ in 0..n {
                let channel = mechanism
                    .connect_for_stream(size, in_flight)
                    .with_context(setup)?;
                cleanups.push(channel.cleanup);
                ends.push(channel.client);
                inboxes.push(Inbox {
                    input: channel.server,
                    ack: None,
                });
            }
            (Fanout::PerSubscriber(ends), "a channel per subscriber")
        }
    };
    let helpers = super::helpers::of_run(&cleanups);
    let cpus = &config.cpus;
    let mut workers = vec![process::spawn("publisher", || {
        inboxes.clear();
        pin(cpus.client)?;
        publisher(&mut fanout, config, &helpers, gate)
    })?];
    for index in 0..n {
        workers.push(process::spawn("subscriber", || {
            let mut mine = inboxes.swap_remove(index);
            inboxes.clear();
            drop(std::mem::replace(
                &mut fanout,
                Fanout::PerSubscriber(Vec::new()),
            ));
            pin(cpus.server)?;
            subscriber(&mut mine, config, index, gate)
        })?);
    }
    drop((fanout, inboxes));
    let pids: Vec<u32> = workers.iter().map(|w| w.pid()).collect();
    let reports = process::collect_all::<WorkerReport>(workers, WORKER_TIMEOUT)?;
    drop(cleanups);
    let sent = reports[0]
        .stamps_ns
        .as_deref()
        .context("the publisher sent no stamps")?;
    let mut slowest: Option<LatencySummary> = None;
    for report in &reports[1..] {
        let received = report
            .stamps_ns
            .as_deref()
            .context("a subscriber sent no stamps")?;
        let latency = super::timing::one_way(sent, received)?;
        if slowest.as_ref().is_none_or(|s| latency.p99 > s.p99) {
            slowest = Some(latency);
        }
    }
    let paced = paced_rate(sent);
    let messages = 2 * config.iterations;
    let mut processes = super::worker::hub_and_spokes(&reports, "publisher", "subscriber");
    processes.extend(reports[0].helpers.iter().cloned());
    let mut id = identity(mechanism, config);
    id.placement = format!("{}, {shape}", id.placement);
    let mut result = RunResult::measured(
        id,
        Measured {
            messages,
            warmup_messages: config.warmup,
            latency_ns: slowest,
            throughput: Some(Throughput::of(
                config.iterations,
                size,
                reports[0].elapsed_s,
            )),
            cpu: CpuSummary::from_processes(processes, messages),
        },
    );
    result.paced_per_sec = paced;
    if config.lossy {
        result.lost = Some(reports[1..].iter().filter_map(|r| r.lost).sum());
    }
    Ok((result, pids))
}

/// Where each phase's messages lie in a run's sequence numbers: the warm-up, the probe (single
/// messages, each acknowledged by every subscriber, that measure what one delivery to all
/// costs), the stream and the paced messages. The warm-up and the probe are outside the
/// measured phase.
struct Phases {
    warmup: Range<u64>,
    probe: Range<u64>,
    stream: Range<u64>,
    paced: Range<u64>,
}

impl Phases {
    fn of(config: &BenchConfig) -> Self {
        let (warmup, n) = (config.warmup, config.iterations);
        let probe_end = warmup + PROBE_MESSAGES;
        Self {
            warmup: 0..warmup,
            probe: warmup..probe_end,
            stream: probe_end..probe_end + n,
            paced: probe_end + n..probe_end + 2 * n,
        }
    }

    /// Whether every subscriber acknowledges message `sequence`: each probe message, and the
    /// last of the warm-up, of the stream and of the paced messages.
    fn acknowledged(&self, sequence: u64) -> bool {
        self.probe.contains(&sequence)
            || [&self.warmup, &self.stream, &self.paced]
                .iter()
                .any(|phase| !phase.is_empty() && sequence + 1 == phase.end)
    }
}

/// Single messages the probe sends, each acknowledged by every subscriber.
const PROBE_MESSAGES: u64 = 50;

/// The publisher: warm-up, the probe, the stream (its elapsed time is the report's), then the
/// paced messages (their departure times are the report's stamps). Unless `--rate` says, the
/// pace is a tenth of the stream's rate or one message per two probed deliveries (the median),
/// whichever is slower: the stream's rate counts batches the subscribers took at one wake-up,
/// while a paced message wakes each of them on its own.
///
/// It reads the run's helper processes' CPU at the edges of its measured phase.
fn publisher(
    fanout: &mut Fanout,
    config: &BenchConfig,
    helpers: &[Helper],
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let mut payload = Payload::new(config.message_size);
    let mut ack = vec![0u8; config.message_size];
    let phases = Phases::of(config);
    for sequence in phases.warmup.clone() {
        fanout.publish(payload.message(sequence))?;
    }
    if !phases.warmup.is_empty() {
        fanout.await_acks(&payload, &mut ack, phases.warmup.end - 1)?;
    }
    let mut deliveries = Vec::with_capacity(PROBE_MESSAGES as usize);
    for sequence in phases.probe.clone() {
        let start = Instant::now();
        fanout.publish(payload.message(sequence))?;
        fanout.await_acks(&payload, &mut ack, sequence)?;
        deliveries.push(start.elapsed());
    }
    deliveries.sort_unstable();
    let delivery = deliveries[deliveries.len() / 2];
    let helpers_start = super::helpers::usage(helpers)?;
    let cpu_start = cpu_usage::now();
    gate.open_helpers(helpers)?;
    gate.open(0)?;
    let stream_start = Instant::now();
    for sequence in phases.stream.clone() {
        fanout.publish(payload.message(sequence))?;
    }
    fanout.await_acks(&payload, &mut ack, phases.stream.end - 1)?;
    let stream = stream_start.elapsed().as_secs_f64();
    let interval = match config.rate {
        Some(rate) => Duration::from_secs_f64(1.0 / rate),
        None => {
            let rate = RATE_FRACTION * config.iterations as f64 / stream.max(1e-9);
            Duration::from_secs_f64(1.0 / rate.max(1e-3)).max(2 * delivery)
        }
    };
    let mut sent_at = Vec::with_capacity(config.iterations as usize);
    let paced_start = Instant::now();
    for (k, sequence) in phases.paced.clone().enumerate() {
        wait_until(paced_start + interval * k as u32);
        let message = payload.message(sequence);
        sent_at.push(monotonic_ns());
        fanout.publish(message)?;
    }
    fanout.await_acks(&payload, &mut ack, phases.paced.end - 1)?;
    gate.close(0)?;
    gate.close_helpers(helpers)?;
    let cpu = cpu_usage::now().since(&cpu_start);
    let helpers_end = super::helpers::usage(helpers)?;
    Ok(WorkerReport {
        histogram: None,
        cpu,
        elapsed_s: stream,
        stamps_ns: Some(sent_at),
        lost: None,
        helpers: super::helpers::between(helpers, &helpers_start, &helpers_end),
    })
}

/// Sleeps until shortly before `deadline` (one `clock_nanosleep`, which `trace` counts in the
/// publisher's line), then spins on the clock (the vDSO: no syscall) until it passes. The
/// publisher has a CPU of its own, so the spin takes none from the subscribers.
fn wait_until(deadline: Instant) {
    const SLACK: Duration = Duration::from_micros(100);
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left > SLACK {
            std::thread::sleep(left - SLACK);
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Subscriber `index`: receives and verifies every message, acknowledges those the
/// publisher waits for, and notes when each paced message arrived. In lossy mode a message
/// may be missing: the one that arrives names itself (its sequence number), the ring says how
/// many went before it, and the two must agree; a lost paced message has no arrival time.
fn subscriber(
    inbox: &mut Inbox,
    config: &BenchConfig,
    index: usize,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let payload = Payload::new(config.message_size);
    let mut message = vec![0u8; config.message_size];
    let phases = Phases::of(config);
    let slot = 1 + index as u32;
    let mut received_at = vec![super::timing::NOT_RECEIVED; config.iterations as usize];
    let mut lost_measured = 0;
    let mut cpu_start = cpu_usage::now();
    let mut expected = 0;
    while expected < phases.paced.end {
        // The probe's messages are each acknowledged, so none is lost: the stream starts here.
        if expected == phases.stream.start {
            cpu_start = cpu_usage::now();
            gate.open(slot)?;
        }
        let lost = inbox.input.recv_counting_losses(&mut message)?;
        let at = monotonic_ns();
        let sequence = if config.lossy {
            u64::from_le_bytes(message[..8].try_into().context("at least 16 bytes")?)
        } else {
            expected
        };
        if sequence < expected || sequence - expected != u64::from(lost) {
            bail!(
                "subscriber {index}: message {sequence} arrived where {expected} was next, and \
                 the ring said {lost} were lost"
            );
        }
        payload
            .verify(&message, sequence)
            .with_context(|| format!("subscriber {index}"))?;
        if sequence >= phases.stream.start {
            lost_measured += u64::from(lost);
        }
        if phases.paced.contains(&sequence) {
            received_at[(sequence - phases.paced.start) as usize] = at;
        }
        if phases.acknowledged(sequence) {
            let ack = inbox.ack.as_mut().unwrap_or(&mut inbox.input);
            ack.send(&message)?;
        }
        expected = sequence + 1;
    }
    gate.close(slot)?;
    Ok(WorkerReport {
        histogram: None,
        cpu: cpu_usage::now().since(&cpu_start),
        elapsed_s: 0.0,
        stamps_ns: Some(received_at),
        lost: config.lossy.then_some(lost_measured),
        helpers: Vec::new(),
    })
}

/// The rate the paced messages left at (messages per second), from their departure times.
fn paced_rate(sent: &[u64]) -> Option<f64> {
    let (first, last) = (*sent.first()?, *sent.last()?);
    (sent.len() > 1 && last > first).then(|| (sent.len() - 1) as f64 * 1e9 / (last - first) as f64)
}
