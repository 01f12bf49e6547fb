//! `mmap`: an ipc-core ring in a `MAP_SHARED` regular file; futex wake-ups.

use std::io;

use ipc_core::wait::Strategy;

use super::ring_channel::{self, Backing};
use super::shm_futex::SPINS_BEFORE_SLEEP;
use super::{Channel, FanInChannel, Mechanism, Wake};

/// ipc-core rings in a file mapped `MAP_SHARED` (in the temporary directory).
pub struct Mmap;

impl Mechanism for Mmap {
    fn name(&self) -> &'static str {
        "mmap"
    }

    fn wake(&self) -> Wake {
        Wake::SpinThenSleep
    }

    fn summary(&self) -> &'static str {
        "ipc-core ring in a MAP_SHARED regular file; spin, then futex"
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
        ring_channel::connect_fan_in(
            size,
            writers,
            Backing::FileIn(&std::env::temp_dir()),
            strategy,
        )
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let strategy = Strategy::SpinThenFutex {
            spins: SPINS_BEFORE_SLEEP,
        };
        ring_channel::connect(size, Backing::FileIn(&std::env::temp_dir()), strategy)
    }
}
