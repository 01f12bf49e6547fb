//! What every pattern's workers share: the report each sends back to the controller, the
//! tracer's process slots of the two-process patterns, pinning, and the stand-in for the
//! endpoint a worker does not use.

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::placement;
use crate::result::{CpuUsage, ProcessCpu};

/// Slot of the echoing (or receiving) process in the tracer's per-process arrays.
pub const SERVER_SLOT: u32 = 0;
/// Slot of the timing (or sending) process.
pub const CLIENT_SLOT: u32 = 1;

/// What a worker sends back to the controller.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Round-trip times in ns (V2-serialized hdrhistogram); only a latency client has one.
    pub histogram: Option<Vec<u8>>,
    /// CPU usage over the measured phase.
    pub cpu: CpuUsage,
    /// Wall time of the measured phase, in seconds.
    pub elapsed_s: f64,
    /// CLOCK_MONOTONIC times in ns: when a pipeline's source sent each timed message and its
    /// sink received each; when a request-response client's timed phase began and ended.
    #[serde(default)]
    pub stamps_ns: Option<Vec<u64>>,
    /// Messages a lossy subscriber lost in its measured phase.
    #[serde(default)]
    pub lost: Option<u64>,
    /// The run's helper processes' CPU over this worker's measured phase (the worker that
    /// times the run reads it; the others leave it empty).
    #[serde(default)]
    pub helpers: Vec<ProcessCpu>,
}

/// Why `processes` processes of `mechanism` cannot be measured here, if it busy-polls and they
/// outnumber the CPUs: a process that spins holds its CPU until the scheduler's time slice
/// ends, so such a run would measure the time slice, not IPC.
pub fn too_many_spinners(
    mechanism: &dyn crate::mechanism::Mechanism,
    processes: usize,
) -> Option<String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (mechanism.wake() == crate::result::Wake::BusyPoll && processes > cpus).then(|| {
        format!(
            "{processes} busy-polling processes on {cpus} CPUs: a process that spins holds its \
             CPU until the scheduler's time slice ends, so the run would measure the time slice, \
             not IPC"
        )
    })
}

/// The CPU each worker of a one-to-many run used, named: the first worker `hub` ("server"),
/// the others `spoke 0`, `spoke 1`, ... ("client 0").
pub fn hub_and_spokes(reports: &[WorkerReport], hub: &str, spoke: &str) -> Vec<ProcessCpu> {
    reports
        .iter()
        .enumerate()
        .map(|(i, report)| ProcessCpu {
            role: match i {
                0 => hub.to_string(),
                i => format!("{spoke} {}", i - 1),
            },
            usage: report.cpu,
        })
        .collect()
}

/// Pins the calling worker to `cpu`, when the plan names one.
pub fn pin(cpu: Option<usize>) -> anyhow::Result<()> {
    match cpu {
        Some(cpu) => placement::pin(cpu).with_context(|| format!("could not pin to CPU {cpu}")),
        None => Ok(()),
    }
}

/// A stand-in endpoint for the one a worker does not use.
pub struct Closed;

impl crate::mechanism::Endpoint for Closed {
    fn send(&mut self, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::ErrorKind::NotConnected.into())
    }
    fn recv(&mut self, _: &mut [u8]) -> std::io::Result<()> {
        Err(std::io::ErrorKind::NotConnected.into())
    }
}
