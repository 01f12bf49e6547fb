//! The request-response pattern: N client processes and one server process, closed loop. Each
//! client sends a request, waits for its reply and times the round trip, N at a time in flight
//! at most. The server serves every client from one thread, the way a server over that
//! mechanism would: requests arrive through the mechanism's many-writer channel (the fan-in
//! shape: a connection per client in an epoll set, one shared pipe or queue, one ring per
//! client behind a doorbell, one mailbox that admits a client at a time), and each reply goes
//! back over that client's own channel.
//!
//! A request carries its client and that client's sequence number (client << 40 | n); the
//! server checks each client's order and echoes the bytes; the client verifies every byte of
//! its reply. The figures: round-trip percentiles over every client's requests (their
//! histograms added), requests per second in total (every client's timed requests over the
//! wall time from the first client's first to the last client's last, on CLOCK_MONOTONIC), and
//! CPU per request, the server's apart in the process list.

use anyhow::{bail, Context};

use super::payload::Payload;
use super::phase::PhaseGate;
use super::worker::{pin, WorkerReport};
use super::{cpu_usage, identity, WORKER_TIMEOUT};
use crate::config::BenchConfig;
use crate::mechanism::{Endpoint, Helper, Mechanism};
use crate::process;
use crate::result::{CpuSummary, LatencySummary, Measured, RunResult, Throughput};

/// Bits of a request's sequence number that count its client's requests.
const CLIENT_SHIFT: u32 = 40;
/// The smallest request that can carry a client id, a sequence number and a checksum.
pub const MIN_SIZE: usize = 16;
/// The most client processes a run may have (the many-writer channels' limit).
pub const MAX_CLIENTS: usize = super::fan_in::MAX_WRITERS;

/// Round trips per client when the user gave no count: 20,000 in all, at least 200 each.
pub fn default_messages(clients: usize) -> u64 {
    (20_000 / clients.max(1) as u64).max(200)
}

/// Why `mechanism` cannot serve `config.count` clients, if it cannot.
pub fn refusal(mechanism: &dyn Mechanism, config: &BenchConfig) -> Option<String> {
    if config.message_size < MIN_SIZE {
        return Some(format!(
            "a request carries a client id, a sequence number and a checksum: at least {MIN_SIZE} bytes"
        ));
    }
    super::worker::too_many_spinners(mechanism, config.count + 1)
}

/// The server's process slot for a traced run; client `i` has slot `SERVER_SLOT + 1 + i`.
pub const SERVER_SLOT: u32 = 0;

/// Runs `config.count` clients against one server over `mechanism`, each worker switching
/// its measured phase through `gate`; also returns the workers' pids, server first.
pub fn run_gated(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<(RunResult, Vec<u32>)> {
    let clients = config.count;
    let requests = mechanism
        .connect_fan_in(config.message_size, clients)
        .with_context(|| {
            format!(
                "could not set up {} requests from {clients} clients",
                mechanism.name()
            )
        })?;
    let mut cleanups = vec![requests.cleanup];
    let mut request_in = requests.reader;
    let mut request_outs = requests.writers;
    // Reply channel i: the server sends on its client end, client i receives on its server end.
    let mut reply_outs = Vec::with_capacity(clients);
    let mut reply_ins = Vec::with_capacity(clients);
    for client in 0..clients {
        let channel = mechanism.connect(config.message_size).with_context(|| {
            format!(
                "could not set up {}'s reply channel {client}",
                mechanism.name()
            )
        })?;
        cleanups.push(channel.cleanup);
        reply_outs.push(channel.client);
        reply_ins.push(channel.server);
    }
    let helpers = super::helpers::of_run(&cleanups);
    let cpus = &config.cpus;
    let mut workers = vec![process::spawn("server", || {
        drop((
            std::mem::take(&mut request_outs),
            std::mem::take(&mut reply_ins),
        ));
        pin(cpus.server)?;
        server(request_in.as_mut(), &mut reply_outs, config, &helpers, gate)
    })?];
    for index in 0..clients {
        workers.push(process::spawn("client", || {
            let mut request = request_outs.swap_remove(index);
            let mut reply = reply_ins.swap_remove(index);
            drop((
                std::mem::take(&mut request_outs),
                std::mem::take(&mut reply_ins),
            ));
            drop(std::mem::take(&mut reply_outs));
            pin(cpus.client)?;
            client(request.as_mut(), reply.as_mut(), config, index as u64, gate)
        })?);
    }
    drop((request_in, request_outs, reply_outs, reply_ins));
    let pids: Vec<u32> = workers.iter().map(|w| w.pid()).collect();
    let reports = process::collect_all::<WorkerReport>(workers, WORKER_TIMEOUT)?;
    drop(cleanups);
    let mut all = super::timing::histogram()?;
    let (mut first, mut last) = (u64::MAX, 0);
    for report in &reports[1..] {
        let bytes = report
            .histogram
            .as_deref()
            .context("a client sent no histogram")?;
        let histogram = super::timing::deserialize(bytes)?;
        all.add(&histogram)
            .map_err(|e| anyhow::anyhow!("histograms do not add up: {e:?}"))?;
        if let Some(&[start, end]) = report.stamps_ns.as_deref() {
            (first, last) = (first.min(start), last.max(end));
        }
    }
    let wall_s = last.saturating_sub(first) as f64 / 1e9;
    let messages = config.iterations * clients as u64;
    let mut processes = super::worker::hub_and_spokes(&reports, "server", "client");
    processes.extend(reports[0].helpers.iter().cloned());
    let result = RunResult::measured(
        identity(mechanism, config),
        Measured {
            messages,
            warmup_messages: config.warmup * clients as u64,
            latency_ns: Some(LatencySummary::from_histogram(&all)),
            throughput: Some(Throughput::of(messages, config.message_size, wall_s)),
            cpu: CpuSummary::from_processes(processes, messages),
        },
    );
    Ok((result, pids))
}

/// Client `index`: warm-up round trips, then timed ones, each reply verified whole.
fn client(
    request: &mut dyn Endpoint,
    reply: &mut dyn Endpoint,
    config: &BenchConfig,
    index: u64,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let mut payload = Payload::new(config.message_size);
    let mut answer = vec![0u8; config.message_size];
    let mut histogram = super::timing::histogram()?;
    let slot = SERVER_SLOT + 1 + index as u32;
    let total = config.warmup + config.iterations;
    let mut phase_start = (cpu_usage::now(), std::time::Instant::now());
    let mut start_ns = super::clock::monotonic_ns();
    for n in 0..total {
        if n == config.warmup {
            phase_start = (cpu_usage::now(), std::time::Instant::now());
            start_ns = super::clock::monotonic_ns();
            gate.open(slot)?;
        }
        let sequence = index << CLIENT_SHIFT | n;
        let message = payload.message(sequence);
        let start = std::time::Instant::now();
        request.send(message)?;
        reply.recv(&mut answer)?;
        let round_trip = start.elapsed();
        payload.verify(&answer, sequence)?;
        if n >= config.warmup {
            histogram.saturating_record(round_trip.as_nanos().max(1) as u64);
        }
    }
    let end = std::time::Instant::now();
    let end_ns = super::clock::monotonic_ns();
    gate.close(slot)?;
    Ok(WorkerReport {
        histogram: Some(super::timing::serialize(&histogram)?),
        cpu: cpu_usage::now().since(&phase_start.0),
        elapsed_s: (end - phase_start.1).as_secs_f64(),
        stamps_ns: Some(vec![start_ns, end_ns]),
        lost: None,
        helpers: Vec::new(),
    })
}

/// The server: takes every request from the shared channel, checks its client's order and
/// sends the same bytes back on that client's reply channel.
///
/// It is also the start line: the reply to each client's last warm-up request is held until
/// every client has sent its own, then all go out together, so that the clients' timed phases
/// run at the same time (100 processes start over tens of milliseconds; without the barrier
/// the early ones would time their requests nearly alone). Its own measured phase opens there.
///
/// It reads the run's helper processes' CPU at the edges of its measured phase.
fn server(
    requests: &mut dyn Endpoint,
    replies: &mut [Box<dyn Endpoint>],
    config: &BenchConfig,
    helpers: &[Helper],
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let payload = Payload::new(config.message_size);
    let mut message = vec![0u8; config.message_size];
    let mut next = vec![0u64; replies.len()];
    let warmup = config.warmup * replies.len() as u64;
    let total = (config.warmup + config.iterations) * replies.len() as u64;
    let mut helpers_start = super::helpers::usage(helpers)?;
    let mut phase_start = (cpu_usage::now(), std::time::Instant::now());
    // The replies held at the start line, one per client.
    let mut held: Vec<(usize, Vec<u8>)> = Vec::new();
    if warmup == 0 {
        gate.open_helpers(helpers)?;
        gate.open(SERVER_SLOT)?;
    }
    for served in 0..total {
        requests.recv(&mut message)?;
        let sequence = u64::from_le_bytes(message[..8].try_into().expect("at least 16 bytes"));
        let client = (sequence >> CLIENT_SHIFT) as usize;
        let Some(expected) = next.get_mut(client) else {
            bail!(
                "a request names client {client}, but there are {}",
                replies.len()
            );
        };
        payload.check_sequence(&message, (client as u64) << CLIENT_SHIFT | *expected)?;
        *expected += 1;
        if *expected != config.warmup {
            replies[client].send(&message)?;
            continue;
        }
        held.push((client, message.clone()));
        if served + 1 == warmup {
            // Every client is at the start line: release them all, then start timing.
            for (client, reply) in held.drain(..) {
                replies[client].send(&reply)?;
            }
            helpers_start = super::helpers::usage(helpers)?;
            phase_start = (cpu_usage::now(), std::time::Instant::now());
            gate.open_helpers(helpers)?;
            gate.open(SERVER_SLOT)?;
        }
    }
    let end = std::time::Instant::now();
    gate.close(SERVER_SLOT)?;
    gate.close_helpers(helpers)?;
    let cpu = cpu_usage::now().since(&phase_start.0);
    let helpers_end = super::helpers::usage(helpers)?;
    Ok(WorkerReport {
        histogram: None,
        cpu,
        elapsed_s: (end - phase_start.1).as_secs_f64(),
        stamps_ns: None,
        lost: None,
        helpers: super::helpers::between(helpers, &helpers_start, &helpers_end),
    })
}
