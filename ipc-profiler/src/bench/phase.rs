//! The measured phase of each worker: opened after its warm-up, closed after its last message.
//!
//! Untraced runs only take CPU-usage snapshots at the edges; `trace` also switches kernel-side
//! counting on and off for the worker (see `trace::gate`), so that nothing outside the phase is
//! counted.

/// Marks the edges of a worker's measured phase.
pub trait PhaseGate {
    /// Called by the worker right before its first measured message.
    fn open(&mut self, slot: u32) -> anyhow::Result<()>;
    /// Called by the worker right after its last measured message.
    fn close(&mut self, slot: u32) -> anyhow::Result<()>;
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
