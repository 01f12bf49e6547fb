//! The kernel-side phase gate: each worker switches its own counting on and off.
//!
//! The worker registers itself (through the maps' file descriptors, inherited by fork) and then
//! sets its slot's phase flag. The `bpf()` call that opens the phase started outside it and is
//! not counted; the one that closes it ends outside it and is not counted either: the phase
//! holds exactly the worker's measured messages.

use ipc_ebpf::NO_PARENT;

use super::registry::Registry;
use crate::bench::PhaseGate;

/// Switches kernel-side counting for the calling process.
pub struct KernelGate<'a> {
    /// What the kernel side traces.
    pub registry: &'a mut Registry,
    /// Whether this process has registered itself yet.
    pub registered: bool,
}

impl PhaseGate for KernelGate<'_> {
    fn open(&mut self, slot: u32) -> anyhow::Result<()> {
        if !self.registered {
            self.registry
                .register(std::process::id(), slot, NO_PARENT)?;
            self.registered = true;
        }
        self.registry.set_phase(slot, true)
    }

    fn close(&mut self, slot: u32) -> anyhow::Result<()> {
        self.registry.set_phase(slot, false)
    }
}
