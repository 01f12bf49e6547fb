//! `shm-spin`: an ipc-core ring in shared memory (memfd); the peer busy-polls.

use std::io;

use ipc_core::wait::Strategy;

use super::ring_channel::{self, Backing};
use super::{Channel, FanInChannel, Mechanism, Wake};

/// ipc-core rings in a memfd, busy-polling.
pub struct ShmSpin;

impl Mechanism for ShmSpin {
    fn name(&self) -> &'static str {
        "shm-spin"
    }

    fn wake(&self) -> Wake {
        Wake::BusyPoll
    }

    fn summary(&self) -> &'static str {
        "ipc-core ring in shared memory (memfd); busy-poll (burns a CPU per side)"
    }

    fn unsupported_size(&self, size: usize) -> Option<String> {
        ring_channel::unsupported_size(size)
    }

    fn unsupported_fan_in(&self, size: usize) -> Option<String> {
        ring_channel::unsupported_size(size)
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let strategy = Strategy::BusyPoll;
        ring_channel::connect_fan_in(size, writers, Backing::Memfd, strategy)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        ring_channel::connect(size, Backing::Memfd, Strategy::BusyPoll)
    }
}
