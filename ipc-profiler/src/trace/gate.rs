//! The kernel-side phase gate: each worker switches its own counting on and off.
//!
//! The worker registers itself (through the maps' file descriptors, inherited by fork) and then
//! sets its slot's phase flag. The `bpf()` call that opens the phase started outside it and is
//! not counted; the one that closes it ends outside it and is not counted either: the phase
//! holds exactly the worker's measured messages.

use ipc_ebpf::{NO_PARENT, SHARED_SLOT};

use super::registry::Registry;
use crate::bench::PhaseGate;
use crate::mechanism::Helper;

/// Switches kernel-side counting for the calling process.
pub struct KernelGate<'a> {
    /// What the kernel side traces.
    pub registry: &'a mut Registry,
    /// Whether this process has registered itself yet.
    pub registered: bool,
    /// The slot of the run's first helper process (a broker), after the workers' slots.
    pub first_helper_slot: u32,
}

impl KernelGate<'_> {
    /// The slot of each of `helpers`, in order; an error if the tracer has too few.
    fn helper_slots(&self, helpers: &[Helper]) -> anyhow::Result<std::ops::Range<u32>> {
        let slots = self.first_helper_slot..self.first_helper_slot + helpers.len() as u32;
        anyhow::ensure!(
            slots.end <= SHARED_SLOT,
            "trace follows at most {SHARED_SLOT} processes, and this run's helper (its {}) \
             would be one more: fewer processes",
            helpers.first().map_or("helper", |h| h.role)
        );
        Ok(slots)
    }
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

    /// Registers each helper in its slot (the worker that times the run calls this once) and
    /// opens its phase.
    fn open_helpers(&mut self, helpers: &[Helper]) -> anyhow::Result<()> {
        for (helper, slot) in helpers.iter().zip(self.helper_slots(helpers)?) {
            self.registry.register(helper.pid, slot, NO_PARENT)?;
            self.registry.set_phase(slot, true)?;
        }
        Ok(())
    }

    fn close_helpers(&mut self, helpers: &[Helper]) -> anyhow::Result<()> {
        for slot in self.helper_slots(helpers)? {
            self.registry.set_phase(slot, false)?;
        }
        Ok(())
    }
}
