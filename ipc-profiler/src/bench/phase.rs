//! The measured phase of each worker: opened after its warm-up, closed after its last message.
//!
//! Untraced runs only take CPU-usage snapshots at the edges; `trace` also switches kernel-side
//! counting on and off for the worker (see `trace::gate`), so that nothing outside the phase is
//! counted.

use std::time::Instant;

use super::cpu_usage;
use super::worker::WorkerReport;
use crate::mechanism::Helper;

/// Runs `work` as a worker's whole measured phase: the CPU and clock snapshots lie outside it,
/// `gate` opens `slot` right before and closes it right after, and the clock stops before the
/// close, so the report covers the messages only.
pub fn measured(
    gate: &mut dyn PhaseGate,
    slot: u32,
    work: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<WorkerReport> {
    let (cpu_start, start) = (cpu_usage::now(), Instant::now());
    gate.open(slot)?;
    work()?;
    let end = Instant::now();
    gate.close(slot)?;
    Ok(WorkerReport {
        histogram: None,
        cpu: cpu_usage::now().since(&cpu_start),
        elapsed_s: (end - start).as_secs_f64(),
        stamps_ns: None,
        lost: None,
        helpers: Vec::new(),
    })
}

/// Marks the edges of a worker's measured phase.
pub trait PhaseGate {
    /// Called by the worker right before its first measured message.
    fn open(&mut self, slot: u32) -> anyhow::Result<()>;
    /// Called by the worker right after its last measured message.
    fn close(&mut self, slot: u32) -> anyhow::Result<()>;
    /// Called by the worker that times the run right before its own [`open`](Self::open):
    /// the measured phase of the run's helper processes (a broker) opens with its own.
    fn open_helpers(&mut self, _helpers: &[Helper]) -> anyhow::Result<()> {
        Ok(())
    }
    /// Called by the same worker right after its own [`close`](Self::close).
    fn close_helpers(&mut self, _helpers: &[Helper]) -> anyhow::Result<()> {
        Ok(())
    }
}

/// No kernel-side counting: a plain benchmark.
pub struct Untraced;

impl PhaseGate for Untraced {
    fn open(&mut self, _slot: u32) -> anyhow::Result<()> {
        Ok(())
    }

    fn close(&mut self, _slot: u32) -> anyhow::Result<()> {
        Ok(())
    }
}
