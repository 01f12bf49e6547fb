//! The latency pattern: the client sends a message, the server echoes it back, and the client
//! times the round trip. Both processes move the full payload both ways.

use std::time::Instant;

use super::cpu_usage;
use super::payload::Payload;
use super::phase::PhaseGate;
use super::worker::{WorkerReport, CLIENT_SLOT, SERVER_SLOT};
use crate::config::BenchConfig;
use crate::mechanism::{Endpoint, Helper};

/// The timing side: sends, waits for the echo, verifies it fully (only its sequence number when
/// the mechanism carries no payload).
/// It also reads the run's helper processes' CPU at the edges of its measured phase.
pub fn client(
    endpoint: &mut dyn Endpoint,
    config: &BenchConfig,
    carries_payload: bool,
    helpers: &[Helper],
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let mut payload = Payload::new(config.message_size);
    let mut echo = vec![0u8; config.message_size];
    let mut histogram = super::timing::histogram()?;
    let total = config.warmup + config.iterations;
    let mut helpers_start = super::helpers::usage(helpers)?;
    let mut phase_start = (cpu_usage::now(), Instant::now());
    for sequence in 0..total {
        if sequence == config.warmup {
            // Snapshots stay outside the phase, so the tracer counts only messages.
            helpers_start = super::helpers::usage(helpers)?;
            phase_start = (cpu_usage::now(), Instant::now());
            gate.open_helpers(helpers)?;
            gate.open(CLIENT_SLOT)?;
        }
        let message = payload.message(sequence);
        let start = Instant::now();
        endpoint.send(message)?;
        endpoint.recv(&mut echo)?;
        let round_trip = start.elapsed();
        if carries_payload {
            payload.verify(&echo, sequence)?;
        } else {
            payload.check_sequence(&echo, sequence)?;
        }
        if sequence >= config.warmup {
            histogram.saturating_record(round_trip.as_nanos().max(1) as u64);
        }
    }
    let end = Instant::now();
    gate.close(CLIENT_SLOT)?;
    gate.close_helpers(helpers)?;
    let cpu_end = cpu_usage::now();
    let helpers_end = super::helpers::usage(helpers)?;
    Ok(WorkerReport {
        histogram: Some(super::timing::serialize(&histogram)?),
        cpu: cpu_end.since(&phase_start.0),
        elapsed_s: (end - phase_start.1).as_secs_f64(),
        stamps_ns: None,
        lost: None,
        helpers: super::helpers::between(helpers, &helpers_start, &helpers_end),
    })
}

/// The echoing side: receives, checks the sequence number, sends the same bytes back.
pub fn server(
    endpoint: &mut dyn Endpoint,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let payload = Payload::new(config.message_size);
    let mut message = vec![0u8; config.message_size];
    let total = config.warmup + config.iterations;
    let mut phase_start = (cpu_usage::now(), Instant::now());
    for sequence in 0..total {
        if sequence == config.warmup {
            // Snapshots stay outside the phase, so the tracer counts only messages.
            phase_start = (cpu_usage::now(), Instant::now());
            gate.open(SERVER_SLOT)?;
        }
        endpoint.recv(&mut message)?;
        payload.check_sequence(&message, sequence)?;
        endpoint.send(&message)?;
    }
    let end = Instant::now();
    gate.close(SERVER_SLOT)?;
    let cpu_end = cpu_usage::now();
    Ok(WorkerReport {
        histogram: None,
        cpu: cpu_end.since(&phase_start.0),
        elapsed_s: (end - phase_start.1).as_secs_f64(),
        stamps_ns: None,
        lost: None,
        helpers: Vec::new(),
    })
}
