//! The throughput pattern: the client streams messages one way; the server verifies each one
//! fully and, after the last, sends one acknowledgement. The client's clock stops when the
//! acknowledgement arrives, so the figure counts messages delivered, not merely buffered.

use super::payload::Payload;
use super::phase::{measured, PhaseGate};
use super::worker::{WorkerReport, CLIENT_SLOT, SERVER_SLOT};
use crate::config::BenchConfig;
use crate::mechanism::Endpoint;

/// Ping-pongs before the stream, to bring both sides and the channel up to speed.
pub const WARMUP_ROUND_TRIPS: u64 = 100;
/// How long a throughput run streams when neither --iters nor --duration is given.
pub const TARGET_SECONDS: f64 = 0.25;

/// The sending side: warm-up round trips, then the stream, then waits for the ack.
pub fn client(
    endpoint: &mut dyn Endpoint,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let mut payload = Payload::new(config.message_size);
    let mut echo = vec![0u8; config.message_size];
    for sequence in 0..WARMUP_ROUND_TRIPS {
        endpoint.send(payload.message(sequence))?;
        endpoint.recv(&mut echo)?;
        payload.check_sequence(&echo, sequence)?;
    }
    let report = measured(gate, CLIENT_SLOT, || {
        for sequence in 0..config.iterations {
            endpoint.send(payload.message(sequence))?;
        }
        endpoint.recv(&mut echo)?;
        Ok(())
    })?;
    payload.verify(&echo, config.iterations)?;
    Ok(report)
}

/// The receiving side: echoes the warm-up, verifies every streamed message, then acks.
pub fn server(
    endpoint: &mut dyn Endpoint,
    config: &BenchConfig,
    gate: &mut dyn PhaseGate,
) -> anyhow::Result<WorkerReport> {
    let mut payload = Payload::new(config.message_size);
    let mut message = vec![0u8; config.message_size];
    for sequence in 0..WARMUP_ROUND_TRIPS {
        endpoint.recv(&mut message)?;
        payload.check_sequence(&message, sequence)?;
        endpoint.send(&message)?;
    }
    measured(gate, SERVER_SLOT, || {
        for sequence in 0..config.iterations {
            endpoint.recv(&mut message)?;
            payload.verify(&message, sequence)?;
        }
        endpoint.send(payload.message(config.iterations))?;
        Ok(())
    })
}

/// The most messages a self-sized run streams at `size` bytes: 256 MiB worth, at least 1,000
/// and at most 200,000.
pub fn default_messages(size: usize) -> u64 {
    ((256usize << 20) / size.max(1)).clamp(1_000, 200_000) as u64
}
