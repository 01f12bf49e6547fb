//! `shm-spin`, `shm-futex` and `mmap`: ipc-core rings, one per direction, that differ only in
//! what backs their memory and how a waiting side waits.

use std::io;

use ipc_core::wait::Strategy;

use super::endpoints::ring_pair::{self, Backing};
use super::{Channel, FanInChannel, Mechanism};
use crate::config::BenchConfig;
use crate::result::Wake;

/// How long a waiter spins before sleeping: about a microsecond here, less than one futex
/// round trip, so a peer that answers quickly is caught without a syscall.
pub const SPINS_BEFORE_SLEEP: u32 = 2_000;

/// What holds the rings.
#[derive(Clone, Copy)]
enum Store {
    /// Anonymous memfds.
    Memfd,
    /// Regular files in the temporary directory, mapped `MAP_SHARED`.
    TempFile,
}

/// ipc-core rings held in `store`, waited on by `strategy`.
pub struct ShmRing {
    name: &'static str,
    summary: &'static str,
    wake: Wake,
    store: Store,
    strategy: Strategy,
}

/// Rings in a memfd; the waiting side busy-polls.
pub const SHM_SPIN: ShmRing = ShmRing {
    name: "shm-spin",
    summary: "ipc-core ring in shared memory (memfd); busy-poll (burns a CPU per side)",
    wake: Wake::BusyPoll,
    store: Store::Memfd,
    strategy: Strategy::BusyPoll,
};

/// Rings in a memfd; the waiting side spins briefly, then sleeps on a futex and is woken only
/// when it sleeps.
pub const SHM_FUTEX: ShmRing = ShmRing {
    name: "shm-futex",
    summary: "ipc-core ring in shared memory (memfd); spin, then futex wait/wake",
    wake: Wake::SpinThenSleep,
    store: Store::Memfd,
    strategy: Strategy::SpinThenFutex {
        spins: SPINS_BEFORE_SLEEP,
    },
};

/// Rings in a regular file mapped `MAP_SHARED`; spin, then futex.
pub const MMAP: ShmRing = ShmRing {
    name: "mmap",
    summary: "ipc-core ring in a MAP_SHARED regular file; spin, then futex",
    wake: Wake::SpinThenSleep,
    store: Store::TempFile,
    strategy: Strategy::SpinThenFutex {
        spins: SPINS_BEFORE_SLEEP,
    },
};

impl ShmRing {
    fn with_backing<T>(&self, make: impl FnOnce(Backing<'_>) -> T) -> T {
        match self.store {
            Store::Memfd => make(Backing::Memfd),
            Store::TempFile => make(Backing::FileIn(&std::env::temp_dir())),
        }
    }
}

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
        self.with_backing(|backing| ring_pair::connect(size, backing, self.strategy))
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        self.with_backing(|backing| {
            ring_pair::connect_fan_in(size, writers, backing, self.strategy)
        })
    }
}
