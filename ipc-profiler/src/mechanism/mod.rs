//! IPC mechanisms: each one file implementing [`Mechanism`], listed once in [`all`].
//!
//! A mechanism makes a connected [`Channel`] in the controller process, before the workers are
//! forked; each worker keeps one [`Endpoint`] and drops the other.

mod cacheline;
mod eventfd;
pub mod fd_io;
mod fifo;
mod mmap;
mod pipe;
mod posix_mq;
mod ring_channel;
mod shm_futex;
mod shm_mutex;
mod shm_sem;
mod shm_spin;
mod slot;
mod sysv_mq;
mod sysv_sem;
mod tcp;
mod udp;
mod uds;

use std::io;

/// How a waiting side learns that its peer has sent: reported with every result, so that a
/// busy-polling mechanism cannot pass for a free one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wake {
    /// Sleeps in the kernel until woken.
    Blocking,
    /// Spins briefly, then sleeps.
    SpinThenSleep,
    /// Spins on memory: lowest latency, a whole CPU per waiting side.
    BusyPoll,
}

impl Wake {
    /// The label used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Blocking => "blocking",
            Self::SpinThenSleep => "spin, then sleep",
            Self::BusyPoll => "busy-poll",
        }
    }
}

/// One way of moving a message between two processes.
pub trait Mechanism: Sync {
    /// The name used on the command line and in reports (DESIGN.md's table).
    fn name(&self) -> &'static str;
    /// One line: what moves the payload and how the peer is woken.
    fn summary(&self) -> &'static str;
    /// How the waiting side is woken (blocking unless said otherwise).
    fn wake(&self) -> Wake {
        Wake::Blocking
    }
    /// Whether it can run on this machine, and why not.
    fn available(&self) -> Result<(), String> {
        Ok(())
    }
    /// False for a mechanism that moves no payload (`cacheline`): the harness then checks only
    /// the sequence number the mechanism hands back, and reports a message size of 0.
    fn carries_payload(&self) -> bool {
        true
    }
    /// Why it cannot run `pattern`, if it cannot.
    fn unsupported_pattern(&self, _pattern: crate::report::Pattern) -> Option<String> {
        None
    }
    /// Why it cannot carry messages of `size` bytes, if it cannot.
    fn unsupported_size(&self, _size: usize) -> Option<String> {
        None
    }
    /// Creates a connected pair of endpoints for messages of `size` bytes.
    fn connect(&self, size: usize) -> io::Result<Channel>;
    /// Why it cannot take `size`-byte messages from several writers into one reader.
    fn unsupported_fan_in(&self, _size: usize) -> Option<String> {
        Some("fan-in is not implemented for this mechanism".into())
    }
    /// Creates `writers` sending endpoints and one receiving endpoint over one channel.
    fn connect_fan_in(&self, _size: usize, _writers: usize) -> io::Result<FanInChannel> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no fan-in for this mechanism",
        ))
    }
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
    /// Removes what the mechanism created in the system (a System V id, say) when dropped, in
    /// the controller. Workers leave through `_exit` and never run it.
    pub cleanup: Cleanup,
}

impl Channel {
    /// A pair that leaves nothing behind once its file descriptors close.
    pub fn new(client: Box<dyn Endpoint>, server: Box<dyn Endpoint>) -> Self {
        Self {
            client,
            server,
            cleanup: Cleanup::default(),
        }
    }
}

/// Several writers and one reader over one channel.
pub struct FanInChannel {
    /// One sending endpoint per writer process.
    pub writers: Vec<Box<dyn Endpoint>>,
    /// The receiving endpoint.
    pub reader: Box<dyn Endpoint>,
    /// As for [`Channel::cleanup`].
    pub cleanup: Cleanup,
}

impl FanInChannel {
    /// A fan-in channel that leaves nothing behind once its descriptors close.
    pub fn new(writers: Vec<Box<dyn Endpoint>>, reader: Box<dyn Endpoint>) -> Self {
        Self {
            writers,
            reader,
            cleanup: Cleanup::default(),
        }
    }
}

/// The largest write a pipe or FIFO keeps whole when several writers share it.
pub const PIPE_BUF: usize = 4096;

/// Actions that remove a channel's system objects, run once when dropped.
#[derive(Default)]
pub struct Cleanup(Vec<Box<dyn FnOnce()>>);

impl Cleanup {
    /// Adds an action.
    pub fn push(&mut self, action: impl FnOnce() + 'static) {
        self.0.push(Box::new(action));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for action in self.0.drain(..) {
            action();
        }
    }
}

static ALL: [&dyn Mechanism; 17] = [
    &pipe::Pipe,
    &fifo::Fifo,
    &uds::STREAM,
    &uds::DGRAM,
    &uds::SEQPACKET,
    &tcp::Tcp,
    &udp::Udp,
    &posix_mq::PosixMq,
    &sysv_mq::SysvMq,
    &shm_spin::ShmSpin,
    &shm_futex::ShmFutex,
    &shm_mutex::ShmMutex,
    &shm_sem::ShmSem,
    &sysv_sem::SysvSem,
    &mmap::Mmap,
    &eventfd::Eventfd,
    &cacheline::Cacheline,
];

/// `Ok` when `path` exists (a kernel feature's /proc entry), else `Err(missing)`.
pub fn kernel_has(path: &str, missing: &str) -> Result<(), String> {
    if std::path::Path::new(path).exists() {
        Ok(())
    } else {
        Err(missing.to_string())
    }
}

/// Why `size`-byte writes from several writers sharing a pipe or FIFO would interleave.
pub fn pipe_fan_in_limit(size: usize) -> Option<String> {
    (size > PIPE_BUF)
        .then(|| format!("writes over PIPE_BUF ({PIPE_BUF} bytes) from several writers interleave"))
}

/// A fan-in over one pipe or FIFO: every writer gets its own copy of the write end.
pub fn shared_pipe_fan_in(
    read: std::os::fd::OwnedFd,
    write: std::os::fd::OwnedFd,
    writers: usize,
) -> io::Result<FanInChannel> {
    let ends = (0..writers)
        .map(|_| Ok(Box::new(fd_io::FdWriter(write.try_clone()?)) as Box<dyn Endpoint>))
        .collect::<io::Result<Vec<_>>>()?;
    Ok(FanInChannel::new(ends, Box::new(fd_io::FdReader(read))))
}

/// A number from a /proc/sys file, if it can be read.
pub fn sysctl(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

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
