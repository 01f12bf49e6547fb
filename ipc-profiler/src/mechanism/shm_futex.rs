//! `shm-futex`: an ipc-core ring in shared memory (memfd); the peer spins briefly, then sleeps
//! on a futex and is woken only when it sleeps.

use std::io;

use ipc_core::wait::Strategy;

use super::ring_channel::{self, Backing};
use super::{Channel, FanInChannel, Mechanism, Wake};

/// How long a waiter spins before sleeping: about a microsecond here, less than one futex
/// round trip, so a peer that answers quickly is caught without a syscall.
pub const SPINS_BEFORE_SLEEP: u32 = 2_000;

/// ipc-core rings in a memfd, spin then futex.
pub struct ShmFutex;

impl Mechanism for ShmFutex {
    fn name(&self) -> &'static str {
        "shm-futex"
    }

    fn wake(&self) -> Wake {
        Wake::SpinThenSleep
    }

    fn summary(&self) -> &'static str {
        "ipc-core ring in shared memory (memfd); spin, then futex wait/wake"
    }

    fn unsupported_size(&self, size: usize) -> Option<String> {
        ring_channel::unsupported_size(size)
    }

    fn unsupported_fan_in(&self, size: usize) -> Option<String> {
        ring_channel::unsupported_size(size)
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let strategy = Strategy::SpinThenFutex {
            spins: SPINS_BEFORE_SLEEP,
        };
        ring_channel::connect_fan_in(size, writers, Backing::Memfd, strategy)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let strategy = Strategy::SpinThenFutex {
            spins: SPINS_BEFORE_SLEEP,
        };
        ring_channel::connect(size, Backing::Memfd, strategy)
    }
}
