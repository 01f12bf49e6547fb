//! The kernel-side phase gate: each worker switches its own counting on and off.
//!
//! The worker writes its own entry in the `TRACED` map (through the map's file descriptor,
//! inherited by fork). The `bpf()` call that opens the phase started outside it and is not
//! counted; the one that closes it ends outside it and is not counted either: the phase holds
//! exactly the worker's measured messages.

use aya::maps::{HashMap, MapData};
use ipc_ebpf::TracedProcess;

use crate::bench::PhaseGate;

/// Switches kernel-side counting for the calling process.
pub struct KernelGate<'a> {
    /// The `TRACED` map.
    pub traced: &'a mut HashMap<MapData, u32, TracedProcess>,
    /// The worker's pid, read when the phase opens (getpid is a syscall: reading it again at
    /// the close would be counted).
    pub pid: Option<u32>,
}

impl KernelGate<'_> {
    fn set(&mut self, slot: u32, measuring: bool) -> anyhow::Result<()> {
        let pid = *self.pid.get_or_insert_with(std::process::id);
        let entry = TracedProcess {
            measuring: u32::from(measuring),
            slot,
        };
        self.traced
            .insert(pid, entry, 0)
            .map_err(|e| anyhow::anyhow!("could not switch tracing for this process: {e}"))
    }
}

impl PhaseGate for KernelGate<'_> {
    fn open(&mut self, slot: u32) -> anyhow::Result<()> {
        self.set(slot, true)
    }

    fn close(&mut self, slot: u32) -> anyhow::Result<()> {
        self.set(slot, false)
    }
}
