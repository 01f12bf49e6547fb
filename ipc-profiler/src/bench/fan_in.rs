//! The fan-in pattern: N writer processes stream into one reader, the producer-consumer shape
//! of the comparison. Every message carries its writer and that writer's sequence number
//! (writer << 40 | n), so the reader checks order, loss and duplication per writer, and
//! verifies every checksum. The rate is what the reader received, from its first message to
//! its last.

use std::time::Instant;

use anyhow::{bail, Context};

use super::payload::Payload;
use super::phase::{measured, PhaseGate};
use super::worker::{pin, WorkerReport};
use super::{cpu_usage, identity, WORKER_TIMEOUT};
use crate::config::BenchConfig;
use crate::mechanism::{Endpoint, Mechanism};
use crate::process;
use crate::result::{CpuSummary, Measured, RunResult, Throughput};

/// Bits of a message's sequence number that count its writer's messages.
const WRITER_SHIFT: u32 = 40;
/// The smallest message that can carry a writer id, a sequence number and a checksum.
pub const MIN_SIZE: usize = 16;
/// The most writer processes a run may have.
pub const MAX_WRITERS: usize = 128;

/// Messages each writer sends when the user gave no count: 64 MiB worth in all, at least 100
/// and at most 20,000 per writer.
pub fn default_messages(size: usize, writers: usize) -> u64 {
    ((64usize << 20) / size.max(1) / writers.max(1)).clamp(100, 20_000) as u64
}

/// Why no mechanism can run fan-in as `config` asks, if none can.
pub fn refusal(config: &BenchConfig) -> Option<String> {
    (config.message_size < MIN_SIZE).then(|| {
        format!(
            "fan-in messages carry a writer id, a sequence number and a checksum: at least {MIN_SIZE} bytes"
        )
    })
}

/// The reader's process slot for a traced run; writer `i` has slot `READER_SLOT + 1 + i`.
pub const READER_SLOT: u32 = 0;

/// Runs `config.count` writers into one reader over `mechanism`, each worker switching its
/// measured phase through `gate` (a copy per process, made by the fork); also returns the
/// workers' pids, reader first.
pub fn run_gated(
    mechanism: &dyn Mechanism,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<(RunResult, Vec<u32>)> {
    let writers = config.count;
    let channel = mechanism
        .connect_fan_in(config.message_size, writers)
        .with_context(|| {
            format!(
                "could not set up {} for {writers} writers",
                mechanism.name()
            )
        })?;
    let _cleanup = channel.cleanup;
    let mut reader_end = channel.reader;
    let mut writer_ends = channel.writers;
    let cpus = &config.cpus;
    let mut workers = vec![process::spawn("reader", || {
        drop(std::mem::take(&mut writer_ends));
        pin(cpus.server)?;
        reader(reader_end.as_mut(), config, gate)
    })?];
    for index in 0..writers {
        workers.push(process::spawn("writer", || {
            let mut mine = writer_ends.swap_remove(index);
            drop(std::mem::take(&mut writer_ends));
            pin(cpus.client)?;
            writer(mine.as_mut(), config, index as u64, gate)
        })?);
    }
    drop((reader_end, writer_ends));
    let pids = workers.iter().map(|w| w.pid()).collect();
    let reports = process::collect_all::<WorkerReport>(workers, WORKER_TIMEOUT)?;
    let received = config.iterations * writers as u64;
    let seconds = reports[0].elapsed_s;
    let processes = super::worker::hub_and_spokes(&reports, "reader", "writer");
    let result = RunResult::measured(
        identity(mechanism, config),
        Measured {
            messages: received,
            warmup_messages: 0,
            latency_ns: None,
            // The reader's clock starts at its first message: the rate counts the intervals
            // after it.
            throughput: Some(Throughput::of(
                received.saturating_sub(1),
                config.message_size,
                seconds,
            )),
            cpu: CpuSummary::from_processes(processes, received),
        },
    );
    Ok((result, pids))
}

/// Writer `index`: sends its messages, inside its measured phase (slot `READER_SLOT + 1 +
/// index`).
fn writer(
    endpoint: &mut dyn Endpoint,
    config: &BenchConfig,
    index: u64,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let mut payload = Payload::new(config.message_size);
    measured(gate, READER_SLOT + 1 + index as u32, || {
        for n in 0..config.iterations {
            endpoint.send(payload.message(index << WRITER_SHIFT | n))?;
        }
        Ok(())
    })
}

/// The reader: receives and checks every writer's messages, inside its measured phase.
fn reader(
    endpoint: &mut dyn Endpoint,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let payload = Payload::new(config.message_size);
    let mut message = vec![0u8; config.message_size];
    let mut next = vec![0u64; config.count];
    let total = config.iterations * config.count as u64;
    let cpu_start = cpu_usage::now();
    let mut first = None;
    gate.open(READER_SLOT)?;
    for _ in 0..total {
        endpoint.recv(&mut message)?;
        first.get_or_insert_with(Instant::now);
        let sequence = u64::from_le_bytes(message[..8].try_into().expect("at least 16 bytes"));
        let writer = (sequence >> WRITER_SHIFT) as usize;
        let n = sequence & ((1 << WRITER_SHIFT) - 1);
        let Some(expected) = next.get_mut(writer) else {
            bail!(
                "a message names writer {writer}, but there are {}",
                config.count
            );
        };
        if n != *expected {
            bail!(
                "writer {writer}: message {} expected but {n} arrived ({})",
                *expected,
                if n > *expected {
                    "lost"
                } else {
                    "duplicated or reordered"
                }
            );
        }
        payload.verify(&message, sequence)?;
        *expected += 1;
    }
    gate.close(READER_SLOT)?;
    let elapsed = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    Ok(WorkerReport {
        histogram: None,
        cpu: cpu_usage::now().since(&cpu_start),
        elapsed_s: elapsed,
        stamps_ns: None,
        lost: None,
        helpers: Vec::new(),
    })
}
