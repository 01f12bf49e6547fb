//! IPC mechanisms: each one file implementing [`Mechanism`], listed once in [`all`].
//!
//! A mechanism makes a connected [`Channel`] in the controller process, before the workers are
//! forked; each worker keeps one [`Endpoint`] and drops the other.

mod cacheline;
pub mod fd_io;
mod mmap;
mod pipe;
mod ring_channel;
mod shm_futex;
mod shm_spin;

use std::io;

/// One way of moving a message between two processes.
pub trait Mechanism: Sync {
    /// The name used on the command line and in reports (DESIGN.md's table).
    fn name(&self) -> &'static str;
    /// One line: what moves the payload and how the peer is woken.
    fn summary(&self) -> &'static str;
    /// Whether it can run on this machine, and why not.
    fn available(&self) -> Result<(), String> {
        Ok(())
    }
    /// False for a mechanism that moves no payload (`cacheline`): the harness then checks only
    /// the sequence number the mechanism hands back, and reports a message size of 0.
    fn carries_payload(&self) -> bool {
        true
    }
    /// Why it cannot carry messages of `size` bytes, if it cannot.
    fn unsupported_size(&self, _size: usize) -> Option<String> {
        None
    }
    /// Creates a connected pair of endpoints for messages of `size` bytes.
    fn connect(&self, size: usize) -> io::Result<Channel>;
}

/// One side of a connected channel, used by one worker process.
pub trait Endpoint {
    /// Sends the whole message (partial writes are looped).
    fn send(&mut self, message: &[u8]) -> io::Result<()>;
    /// Fills the whole of `buffer` with the next message (partial reads are looped).
    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()>;
}

/// A connected pair: `client` starts each round trip, `server` answers.
pub struct Channel {
    /// The side that sends first.
    pub client: Box<dyn Endpoint>,
    /// The side that echoes.
    pub server: Box<dyn Endpoint>,
}

static ALL: [&dyn Mechanism; 5] = [
    &pipe::Pipe,
    &shm_spin::ShmSpin,
    &shm_futex::ShmFutex,
    &mmap::Mmap,
    &cacheline::Cacheline,
];

/// Every mechanism, in the order of DESIGN.md's table.
pub fn all() -> &'static [&'static dyn Mechanism] {
    &ALL
}

/// The mechanism called `name`.
pub fn find(name: &str) -> Option<&'static dyn Mechanism> {
    all().iter().copied().find(|m| m.name() == name)
}

/// All mechanism names.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|m| m.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        for name in names() {
            assert_eq!(find(name).map(|m| m.name()), Some(name));
        }
        let mut sorted = names();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names().len());
        assert!(find("carrier-pigeon").is_none());
    }
}
