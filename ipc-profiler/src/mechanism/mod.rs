//! IPC mechanisms: each one file implementing [`Mechanism`], listed once in [`all`].
//!
//! A mechanism makes a connected [`Channel`] in the controller process, before the workers are
//! forked; each worker keeps one [`Endpoint`] and drops the other.

mod cacheline;
mod cma;
mod dbus;
pub mod endpoints;
mod eventfd;
mod fifo;
mod io_uring;
mod io_uring_futex;
mod memfd_pass;
mod memfd_pool;
mod pipe;
mod pipe_capacity;
mod posix_mq;
mod shm_mutex;
mod shm_ring;
mod shm_sem;
mod shm_tokio;
mod system;
mod sysv_mq;
mod sysv_sem;
mod tcp;
mod udp;
mod uds;
mod uds_tokio;
mod vmsplice;

use std::io;

use crate::config::BenchConfig;
use crate::result::Wake;

/// One way of moving a message between two processes.
pub trait Mechanism: Sync {
    /// The name used on the command line and in reports (`ipc-profiler list`).
    fn name(&self) -> &'static str;
    /// One line: what moves the payload and how the peer is woken.
    fn summary(&self) -> &'static str;
    /// How the waiting side is woken (blocking unless said otherwise).
    fn wake(&self) -> Wake {
        Wake::Blocking
    }
    /// Whether it can run on this machine at all, and why not (`ipc-profiler list`).
    fn available(&self) -> Result<(), String> {
        Ok(())
    }
    /// False for a mechanism that moves no payload (`cacheline`): the harness then checks only
    /// the sequence number the mechanism hands back, and reports a message size of 0.
    fn carries_payload(&self) -> bool {
        true
    }
    /// Why it cannot run `config` (its pattern, message size, writers), if it cannot: a real
    /// limit of the mechanism or of this kernel, stated so that a reader can check it.
    fn refuses(&self, _config: &BenchConfig) -> Option<String> {
        None
    }
    /// What it sets for `size`-byte messages that a reader of the results should know (a pipe
    /// raised with `F_SETPIPE_SZ`), shown beside the run; `None` when nothing.
    fn setting(&self, _size: usize) -> Option<String> {
        None
    }
    /// Creates a connected pair of endpoints for messages of `size` bytes.
    fn connect(&self, size: usize) -> io::Result<Channel>;
    /// Like [`connect`](Self::connect), for a channel whose client may send up to `in_flight`
    /// messages before the server reads one (a stream with no flow control of its own: UDP
    /// sizes the server's receive buffer for them, so that loopback drops none).
    fn connect_for_stream(&self, size: usize, _in_flight: usize) -> io::Result<Channel> {
        self.connect(size)
    }
    /// Creates `writers` sending endpoints and one receiving endpoint over one channel.
    fn connect_fan_in(&self, _size: usize, _writers: usize) -> io::Result<FanInChannel> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no fan-in for this mechanism",
        ))
    }
    /// Creates one publishing endpoint whose every message reaches all `subscribers`
    /// receiving endpoints through one shared channel, for a mechanism that has one (ipc-core's
    /// broadcast ring); `None` for the others, which publish once per subscriber. `lossy`: the
    /// publisher never waits, and a subscriber that falls a whole channel behind loses the
    /// oldest messages (and is told how many).
    fn connect_broadcast(
        &self,
        _size: usize,
        _subscribers: usize,
        _lossy: bool,
    ) -> io::Result<Option<BroadcastChannel>> {
        Ok(None)
    }
    /// Whether [`connect_broadcast`](Self::connect_broadcast) gives a shared channel.
    fn broadcasts(&self) -> bool {
        false
    }
}

/// One side of a connected channel, used by one worker process.
pub trait Endpoint {
    /// Sends the whole message (partial writes are looped).
    fn send(&mut self, message: &[u8]) -> io::Result<()>;
    /// Fills the whole of `buffer` with the next message (partial reads are looped).
    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()>;
    /// Like [`recv`](Self::recv), on a channel that may drop messages (a lossy broadcast
    /// subscriber): also returns how many were lost just before this one.
    fn recv_counting_losses(&mut self, buffer: &mut [u8]) -> io::Result<u32> {
        self.recv(buffer).map(|()| 0)
    }
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

/// One publisher and many subscribers over one channel: every message reaches every
/// subscriber.
pub struct BroadcastChannel {
    /// The publishing endpoint (sends only).
    pub publisher: Box<dyn Endpoint>,
    /// One receiving endpoint per subscriber (receive only).
    pub subscribers: Vec<Box<dyn Endpoint>>,
    /// As for [`Channel::cleanup`].
    pub cleanup: Cleanup,
}

/// Actions that remove a channel's system objects, run once when dropped; and the helper
/// processes the channel runs through (a D-Bus broker), whose CPU is part of its cost.
#[derive(Default)]
pub struct Cleanup {
    actions: Vec<Box<dyn FnOnce()>>,
    helpers: Vec<Helper>,
}

/// A process every message of a channel passes through that is not a worker: its pid and
/// its part ("broker").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Helper {
    /// Its process id.
    pub pid: u32,
    /// Its part, as the results name it.
    pub role: &'static str,
}

impl Cleanup {
    /// Adds an action.
    pub fn push(&mut self, action: impl FnOnce() + 'static) {
        self.actions.push(Box::new(action));
    }

    /// Names a helper process that every message of the channel passes through.
    pub fn helper(&mut self, helper: Helper) {
        self.helpers.push(helper);
    }

    /// The helper processes of the channel.
    pub fn helpers(&self) -> &[Helper] {
        &self.helpers
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for action in self.actions.drain(..) {
            action();
        }
    }
}

/// Every mechanism, in the order `list` and `--mech all` use.
static ALL: &[&dyn Mechanism] = &[
    &pipe::Pipe,
    &fifo::Fifo,
    &vmsplice::Vmsplice,
    &uds::STREAM,
    &io_uring::IO_URING,
    &io_uring::IO_URING_SQPOLL,
    &uds::DGRAM,
    &uds::SEQPACKET,
    &memfd_pass::MemfdPass,
    &memfd_pool::MemfdPool,
    &cma::Cma,
    &tcp::Tcp,
    &udp::Udp,
    &posix_mq::PosixMq,
    &sysv_mq::SysvMq,
    &shm_ring::SHM_SPIN,
    &shm_ring::SHM_FUTEX,
    &io_uring_futex::IoUringFutex,
    &shm_mutex::ShmMutex,
    &shm_sem::ShmSem,
    &sysv_sem::SysvSem,
    &shm_ring::MMAP,
    &eventfd::Eventfd,
    &shm_tokio::ShmTokio,
    &uds_tokio::UdsTokio,
    &dbus::Dbus,
    &cacheline::Cacheline,
];

/// Every mechanism.
pub fn all() -> &'static [&'static dyn Mechanism] {
    ALL
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
