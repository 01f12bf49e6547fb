//! `shm-spin`, `shm-futex` and `mmap`: ipc-core rings, one per direction, that differ only in
//! what backs their memory and how a waiting side waits.

use std::io;

use ipc_core::wait::{Strategy, Wait};

use super::endpoints::ring_pair::{self, Backing};

use super::{BroadcastChannel, Channel, FanInChannel, Mechanism};
use crate::config::BenchConfig;
use crate::result::Wake;

/// How a spin-then-sleep side waits: ipc-core's default, which spins only while spinning
/// catches the peer (never on a single allowed CPU) and then sleeps on the futex. No tuning
/// here: what an embedder gets is what is measured.
const SPIN_THEN_SLEEP: Strategy = Wait::futex().strategy;

/// ipc-core rings held in `backing`, waited on by `strategy`.
pub struct ShmRing {
    name: &'static str,
    summary: &'static str,
    wake: Wake,
    backing: Backing,
    strategy: Strategy,
}

/// Rings in a memfd; the waiting side busy-polls.
pub const SHM_SPIN: ShmRing = ShmRing {
    name: "shm-spin",
    summary: "ipc-core ring in shared memory (memfd); busy-poll (burns a CPU per side)",
    wake: Wake::BusyPoll,
    backing: Backing::Memfd,
    strategy: Strategy::BusyPoll,
};

/// Rings in a memfd; the waiting side spins briefly, then sleeps on a futex and is woken only
/// when it sleeps.
pub const SHM_FUTEX: ShmRing = ShmRing {
    name: "shm-futex",
    summary: "ipc-core ring in shared memory (memfd); spin, then futex wait/wake",
    wake: Wake::SpinThenSleep,
    backing: Backing::Memfd,
    strategy: SPIN_THEN_SLEEP,
};

/// Rings in a regular file mapped `MAP_SHARED`; spin, then futex.
pub const MMAP: ShmRing = ShmRing {
    name: "mmap",
    summary: "ipc-core ring in a MAP_SHARED regular file; spin, then futex",
    wake: Wake::SpinThenSleep,
    backing: Backing::TempFile,
    strategy: SPIN_THEN_SLEEP,
};

impl Mechanism for ShmRing {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn wake(&self) -> Wake {
        self.wake
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        ring_pair::unsupported_size(config.message_size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        ring_pair::connect(size, self.backing, self.strategy)
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        ring_pair::connect_fan_in(size, writers, self.backing, self.strategy)
    }

    fn connect_broadcast(
        &self,
        size: usize,
        subscribers: usize,
        lossy: bool,
    ) -> io::Result<Option<BroadcastChannel>> {
        let mode = ring_pair::broadcast_mode(lossy);
        ring_pair::connect_broadcast(size, subscribers, mode, self.backing, self.strategy).map(Some)
    }

    fn broadcasts(&self) -> bool {
        true
    }
}
