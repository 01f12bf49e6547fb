//! `cacheline`: no payload, one atomic word bounced between two processes by busy-polling. It
//! is the physical floor: the time for a cache line to move between the CPUs and back.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use ipc_core::shm::SharedMemory;

use super::{Channel, Endpoint, Mechanism};
use crate::config::BenchConfig;
use crate::result::{Pattern, Wake};

/// One shared word; the client writes odd values, the server answers with the next even one.
pub struct Cacheline;

impl Mechanism for Cacheline {
    fn name(&self) -> &'static str {
        "cacheline"
    }

    fn wake(&self) -> Wake {
        Wake::BusyPoll
    }

    fn summary(&self) -> &'static str {
        "no payload: one atomic bounced between the processes; busy-poll (the floor)"
    }

    fn carries_payload(&self) -> bool {
        false
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        (config.pattern != Pattern::Latency)
            .then(|| "cacheline moves no payload, so it has no throughput".into())
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let memory = SharedMemory::memfd("cacheline", 4096)?;
        Ok(Channel::new(
            Box::new(Bouncer::new(memory.map_again()?, Side::Client)),
            Box::new(Bouncer::new(memory.map_again()?, Side::Server)),
        ))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

struct Bouncer {
    memory: SharedMemory,
    side: Side,
    /// Round trips completed by this side.
    round: u64,
}

impl Bouncer {
    fn new(memory: SharedMemory, side: Side) -> Self {
        Self {
            memory,
            side,
            round: 0,
        }
    }

    fn word(&self) -> &AtomicU64 {
        // SAFETY: the mapping is at least 4096 bytes and page-aligned, so its first 8 bytes are
        // a valid, aligned AtomicU64 for as long as `memory` lives; an atomic tolerates the peer.
        unsafe { self.memory.region().base().cast::<AtomicU64>().as_ref() }
    }

    /// Spins until the word holds `value`; anything else but the previous value is an error.
    fn await_value(&self, value: u64) -> io::Result<()> {
        loop {
            let seen = self.word().load(Ordering::Acquire);
            if seen == value {
                return Ok(());
            }
            if seen != value - 1 {
                return Err(io::Error::other(format!(
                    "the shared word holds {seen}, expected {} or {value}",
                    value - 1
                )));
            }
            std::hint::spin_loop();
        }
    }

    /// Writes this side's round number where a payload would go, so the harness checks the
    /// sequence as for every other mechanism.
    fn report_round(&self, buffer: &mut [u8]) {
        let bytes = self.round.to_le_bytes();
        let n = buffer.len().min(8);
        buffer[..n].copy_from_slice(&bytes[..n]);
    }
}

impl Endpoint for Bouncer {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        let value = match self.side {
            Side::Client => 2 * self.round + 1,
            Side::Server => {
                self.round += 1;
                2 * self.round
            }
        };
        self.word().store(value, Ordering::Release);
        Ok(())
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        match self.side {
            Side::Client => {
                self.await_value(2 * self.round + 2)?;
                self.report_round(buffer);
                self.round += 1;
            }
            Side::Server => {
                self.await_value(2 * self.round + 1)?;
                self.report_round(buffer);
            }
        }
        Ok(())
    }
}
