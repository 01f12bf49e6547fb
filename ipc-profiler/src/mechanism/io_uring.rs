//! `io-uring`: a Unix stream socket pair, as `uds`, each message written and read through
//! io_uring instead of `write`/`read`: a send queues a write and submits it, waiting for its
//! completion (one `io_uring_enter`, which completes it at once on a socket with room), a
//! receive queues a read the same way (one `io_uring_enter` that sleeps until the peer writes).
//! The harness hands over one message a call, so nothing is batched across messages: what this
//! measures is io_uring's path for one operation against the plain syscall's. The ring is made in the worker, at its first send or receive: a ring and its
//! mappings must not cross the fork. A kernel that refuses io_uring (`kernel.io_uring_disabled`,
//! a seccomp filter, no `CONFIG_IO_URING`) makes it unsupported, with the kernel's reason.
//!
//! `io-uring-sqpoll`: the same with `IORING_SETUP_SQPOLL`: a kernel thread of each process polls
//! the submission queue (for [`SQ_IDLE_MS`] after the last submission), so a send needs no
//! `io_uring_enter` while it is awake: busy-polling, labelled so.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use io_uring::{opcode, types, IoUring};
use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};

use super::endpoints::fd::StreamsReader;
use super::{Channel, Endpoint, FanInChannel, Mechanism};

/// Entries in each ring: a send and its receive are in flight at most.
const RING_ENTRIES: u32 = 8;

/// How long a submission-queue polling thread keeps polling after the last submission, ms.
pub const SQ_IDLE_MS: u32 = 100;

/// A Unix stream socket pair driven through io_uring, its submissions polled by a kernel
/// thread or not.
pub struct IoUringMechanism {
    sqpoll: bool,
}

/// `io-uring`: each submission made by `io_uring_enter`.
pub const IO_URING: IoUringMechanism = IoUringMechanism { sqpoll: false };
/// `io-uring-sqpoll`: submissions picked up by a polling kernel thread.
pub const IO_URING_SQPOLL: IoUringMechanism = IoUringMechanism { sqpoll: true };

/// A ring of [`RING_ENTRIES`], with a submission-queue polling thread when `sqpoll`.
fn new_ring(sqpoll: bool) -> io::Result<IoUring> {
    let mut builder = IoUring::builder();
    if sqpoll {
        builder.setup_sqpoll(SQ_IDLE_MS);
    }
    builder.build(RING_ENTRIES)
}

impl Mechanism for IoUringMechanism {
    fn name(&self) -> &'static str {
        if self.sqpoll {
            "io-uring-sqpoll"
        } else {
            "io-uring"
        }
    }

    fn summary(&self) -> &'static str {
        if self.sqpoll {
            "as io-uring, a kernel thread polling the submissions (SQPOLL); io_uring_enter waits"
        } else {
            "Unix socket pair, writes and reads submitted through io_uring; io_uring_enter waits"
        }
    }

    fn wake(&self) -> crate::result::Wake {
        if self.sqpoll {
            crate::result::Wake::BusyPoll
        } else {
            crate::result::Wake::Blocking
        }
    }

    fn available(&self) -> Result<(), String> {
        match super::system::sysctl("/proc/sys/kernel/io_uring_disabled") {
            Some(2) => return Err("kernel.io_uring_disabled = 2: io_uring is off".into()),
            Some(1) if !rustix::process::geteuid().is_root() => {
                return Err(
                    "kernel.io_uring_disabled = 1: io_uring only for root (or the \
                            io_uring_group)"
                        .into(),
                )
            }
            _ => {}
        }
        new_ring(self.sqpoll)
            .map(drop)
            .map_err(|e| format!("the kernel refused an io_uring ({e})"))
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let (a, b) = stream_pair()?;
        Ok(Channel::new(
            Box::new(UringEnd::new(a, self.sqpoll)),
            Box::new(UringEnd::new(b, self.sqpoll)),
        ))
    }

    fn connect_fan_in(&self, _size: usize, writers: usize) -> io::Result<FanInChannel> {
        // As `uds`: a connection per writer, the reader's epoll set over them (its reads are
        // plain: the writers' side is what io_uring drives).
        let mut ends = Vec::with_capacity(writers);
        let mut readers = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (a, b) = stream_pair()?;
            ends.push(Box::new(UringEnd::new(a, self.sqpoll)) as Box<dyn Endpoint>);
            readers.push(b);
        }
        Ok(FanInChannel::new(
            ends,
            Box::new(StreamsReader::new(readers)?),
        ))
    }
}

/// A connected Unix stream socket pair, as `uds` uses.
fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// One side: its socket, and its ring once it has one.
struct UringEnd {
    socket: OwnedFd,
    sqpoll: bool,
    ring: Option<IoUring>,
}

impl UringEnd {
    fn new(socket: OwnedFd, sqpoll: bool) -> Self {
        Self {
            socket,
            sqpoll,
            ring: None,
        }
    }

    /// One operation on the socket through the ring, waited for: bytes moved.
    fn transfer(&mut self, entry: io_uring::squeue::Entry) -> io::Result<usize> {
        let ring = match &mut self.ring {
            Some(ring) => ring,
            none => none.insert(new_ring(self.sqpoll)?),
        };
        // SAFETY: the entry's buffer (inside the caller's message or buffer, which the caller
        // borrows for the whole call) outlives the operation: this function waits for its
        // completion before it returns.
        unsafe { ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("the submission queue is full"))?;
        let result = loop {
            match ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
            if let Some(cqe) = ring.completion().next() {
                break Some(cqe.result());
            }
        };
        match result {
            Some(n) if n >= 0 => Ok(n as usize),
            Some(n) => Err(io::Error::from_raw_os_error(-n)),
            None => Err(io::Error::other(
                "io_uring_enter came back without the completion",
            )),
        }
    }
}

impl UringEnd {
    /// Moves `len` bytes with the operations `op(done)` makes for the rest after `done`
    /// bytes, one at a time; a transfer of nothing is `at_end`.
    fn transfer_all(
        &mut self,
        len: usize,
        op: impl Fn(usize) -> io_uring::squeue::Entry,
        at_end: fn() -> io::Error,
    ) -> io::Result<()> {
        let mut done = 0;
        while done < len {
            match self.transfer(op(done))? {
                0 => return Err(at_end()),
                n => done += n,
            }
        }
        Ok(())
    }
}

/// At most what one io_uring read or write takes.
fn chunk(len: usize) -> u32 {
    len.min(u32::MAX as usize) as u32
}

impl Endpoint for UringEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let fd = types::Fd(self.socket.as_raw_fd());
        let base = message.as_ptr();
        let len = message.len();
        self.transfer_all(
            len,
            |done| opcode::Write::new(fd, base.wrapping_add(done), chunk(len - done)).build(),
            || io::Error::new(io::ErrorKind::WriteZero, "peer stopped reading"),
        )
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let fd = types::Fd(self.socket.as_raw_fd());
        let base = buffer.as_mut_ptr();
        let len = buffer.len();
        self.transfer_all(
            len,
            |done| opcode::Read::new(fd, base.wrapping_add(done), chunk(len - done)).build(),
            || {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the channel mid-run",
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_goes_through_the_rings_both_ways() {
        for sqpoll in [false, true] {
            one_message_each_way(sqpoll);
        }
    }

    fn one_message_each_way(sqpoll: bool) {
        let mechanism = IoUringMechanism { sqpoll };
        if let Err(why) = mechanism.available() {
            panic!("io_uring is not available here, so this test cannot run: {why}");
        }
        let (a, b) = stream_pair().unwrap();
        let (mut client, mut server) = (UringEnd::new(a, sqpoll), UringEnd::new(b, sqpoll));
        // Larger than the socket's buffer: the write completes in pieces as the reader drains.
        let message: Vec<u8> = (0..1_000_000).map(|i| (i % 251) as u8).collect();
        let expected = message.clone();
        let sending = std::thread::spawn(move || {
            client.send(&message).unwrap();
            let mut echoed = vec![0u8; 1_000_000];
            client.recv(&mut echoed).unwrap();
            echoed
        });
        let mut got = vec![0u8; 1_000_000];
        server.recv(&mut got).unwrap();
        assert_eq!(got, expected);
        server.send(&got).unwrap();
        assert_eq!(sending.join().unwrap(), expected);
    }
}
