//! `memfd-pool`: what browsers do for steady traffic. Each side owns a pool of
//! [`POOL_BUFFERS`] shared buffers in one memfd, handed to its peer once (with its first
//! message, over a Unix seqpacket socket, `SCM_RIGHTS`); after that only small messages cross
//! the socket: "buffer `i` holds `len` bytes" one way, "buffer `i` is yours again" the other.
//! A sender writes a buffer only while it is free: taken from the free list, it is free again
//! only when the receiver returns it, after copying the payload out. A sender whose buffers
//! are all out waits for a return. The receiver checks every index and length it is given, and
//! maps the pool read-only once it is sealed against size changes (a peer that could shrink it
//! could make the mapping fault).

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{MemfdFlags, SealFlags};

use super::endpoints::fd::{read_exact, write_all};
use super::endpoints::fd_passing::{self, seqpacket_pair};
use super::endpoints::{check_len, mapped::Mapped, ready_set::ReadySet, wrong_way};
use super::{Channel, Endpoint, FanInChannel, Mechanism};

/// Buffers in each side's pool: how many messages can be in flight before a sender waits.
pub const POOL_BUFFERS: u32 = 8;

/// A pool of buffers per side over a seqpacket socket, returned over a pipe.
pub struct MemfdPool;

impl Mechanism for MemfdPool {
    fn name(&self) -> &'static str {
        "memfd-pool"
    }

    fn summary(&self) -> &'static str {
        "shared buffers passed once, then indices over a Unix socket; blocking recvmsg"
    }

    fn available(&self) -> Result<(), String> {
        super::system::sealable_memfds()
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let (a, b) = seqpacket_pair()?;
        // Returns to a's pool travel b -> a, and to b's pool a -> b.
        let (to_a_read, to_a_write) = rustix::pipe::pipe()?;
        let (to_b_read, to_b_write) = rustix::pipe::pipe()?;
        let a = PoolEnd::sending(a, size, to_a_read)?.returning_to_peer(to_b_write);
        let b = PoolEnd::sending(b, size, to_b_read)?.returning_to_peer(to_a_write);
        Ok(Channel::new(Box::new(a), Box::new(b)))
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        // A pool per writer, as a browser has one per renderer: returns must reach its owner.
        let mut ends = Vec::with_capacity(writers);
        let mut readers = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (a, b) = seqpacket_pair()?;
            let (returns_read, returns_write) = rustix::pipe::pipe()?;
            ends.push(Box::new(PoolEnd::sending(a, size, returns_read)?) as Box<dyn Endpoint>);
            readers.push(PoolEnd::receiving(b, size).returning_to_peer(returns_write));
        }
        Ok(FanInChannel::new(
            ends,
            Box::new(PoolsReader::new(readers)?),
        ))
    }
}

/// The bytes a buffer of a pool for `size`-byte messages takes: whole pages.
fn buffer_len(size: usize) -> usize {
    size.max(1).next_multiple_of(rustix::param::page_size())
}

/// "Buffer `buffer` of the sender's pool holds a `len`-byte message", as sent: 16 bytes,
/// little-endian, the index padded to 8.
fn filled_notice(buffer: u32, len: u64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&buffer.to_le_bytes());
    bytes[8..].copy_from_slice(&len.to_le_bytes());
    bytes
}

fn decode_filled(bytes: [u8; 16]) -> (u32, u64) {
    let buffer = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[8..]);
    (buffer, u64::from_le_bytes(len))
}

/// This side's pool: the buffers it writes, which of them it may write now, and the pipe its
/// buffers come back on.
struct OwnPool {
    memfd: OwnedFd,
    mapping: Mapped,
    /// Sent to the peer yet (with the first message).
    handed_over: bool,
    free: Vec<u32>,
    returns: OwnedFd,
}

impl OwnPool {
    fn new(size: usize, returns: OwnedFd) -> io::Result<Self> {
        let memfd = rustix::fs::memfd_create(
            "ipc-profiler-pool",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        let pool_len = buffer_len(size) * POOL_BUFFERS as usize;
        rustix::fs::ftruncate(&memfd, pool_len as u64)?;
        // Sized for good: the peer refuses a pool that could shrink under its mapping.
        rustix::fs::fcntl_add_seals(
            &memfd,
            SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )?;
        Ok(Self {
            mapping: Mapped::writable(&memfd, pool_len)?,
            memfd,
            handed_over: false,
            free: (0..POOL_BUFFERS).rev().collect(),
            returns,
        })
    }

    /// Waits for buffers to come back, and takes all that have (each a 4-byte index). A
    /// buffer returned that was not out is an error, never a second owner.
    fn wait_for_returns(&mut self) -> io::Result<()> {
        let mut records = [0u8; 4 * POOL_BUFFERS as usize];
        let mut n = loop {
            match rustix::io::read(&self.returns, &mut records) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "peer closed the channel with buffers out",
                    ))
                }
                Ok(n) => break n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n % 4 != 0 {
            let whole = n.next_multiple_of(4);
            read_exact(&self.returns, &mut records[n..whole])?;
            n = whole;
        }
        for record in records[..n].chunks_exact(4) {
            let buffer = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
            if buffer >= POOL_BUFFERS || self.free.contains(&buffer) {
                return Err(io::Error::other(format!(
                    "buffer {buffer} returned, which was not out"
                )));
            }
            self.free.push(buffer);
        }
        Ok(())
    }
}

/// One side of a pair (or a fan-in writer, or one connection of the fan-in reader).
struct PoolEnd {
    socket: OwnedFd,
    buffer_len: usize,
    /// `None` for a side that only receives (a fan-in reader's connection).
    own: Option<OwnPool>,
    /// The peer's pool, mapped read-only when its first message brought it.
    peer: Option<Mapped>,
    /// Where this side returns the peer's buffers; `None` for a side that only sends.
    returns_to_peer: Option<OwnedFd>,
    /// Sends that had to wait for a buffer to come back.
    waited: u64,
}

impl PoolEnd {
    /// A side with a pool of its own, whose buffers come back on `returns`.
    fn sending(socket: OwnedFd, size: usize, returns: OwnedFd) -> io::Result<Self> {
        Ok(Self {
            own: Some(OwnPool::new(size, returns)?),
            ..Self::receiving(socket, size)
        })
    }

    /// A side that only receives (until given a way to return buffers).
    fn receiving(socket: OwnedFd, size: usize) -> Self {
        Self {
            socket,
            buffer_len: buffer_len(size),
            own: None,
            peer: None,
            returns_to_peer: None,
            waited: 0,
        }
    }

    fn returning_to_peer(self, returns: OwnedFd) -> Self {
        Self {
            returns_to_peer: Some(returns),
            ..self
        }
    }

    fn map_peer_pool(&mut self, fd: OwnedFd) -> io::Result<()> {
        if self.peer.is_some() {
            return Err(io::Error::other("a second pool came from the same peer"));
        }
        let seals = rustix::fs::fcntl_get_seals(&fd)?;
        if !seals.contains(SealFlags::SHRINK | SealFlags::GROW) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "a pool not sealed against shrinking and growing was refused",
            ));
        }
        let pool_len = self.buffer_len * POOL_BUFFERS as usize;
        let size = rustix::fs::fstat(&fd)?.st_size;
        if usize::try_from(size).ok() != Some(pool_len) {
            return Err(io::Error::other(format!(
                "a pool of {size} bytes came where {pool_len} were agreed"
            )));
        }
        self.peer = Some(Mapped::read_only(&fd, pool_len)?);
        Ok(())
    }

    /// The next message's buffer and length; `None` at the end of the stream (the peer
    /// closed its end between messages).
    fn next_filled(&mut self) -> io::Result<Option<(u32, u64)>> {
        let mut notice = [0u8; 16];
        let fd = match fd_passing::recv(&self.socket, &mut notice) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            other => other?,
        };
        if let Some(fd) = fd {
            self.map_peer_pool(fd)?;
        }
        Ok(Some(decode_filled(notice)))
    }

    /// Copies filled buffer `buffer` (`len` bytes, checked) into `out` and returns it.
    fn take(&mut self, (buffer, len): (u32, u64), out: &mut [u8]) -> io::Result<()> {
        check_len(usize::try_from(len).unwrap_or(usize::MAX), out.len())?;
        if buffer >= POOL_BUFFERS || out.len() > self.buffer_len {
            return Err(io::Error::other(format!(
                "buffer {buffer} of {len} bytes is outside the pool"
            )));
        }
        let peer = self
            .peer
            .as_ref()
            .ok_or_else(|| io::Error::other("a buffer named before its pool was handed over"))?;
        let start = buffer as usize * self.buffer_len;
        out.copy_from_slice(&peer.bytes()[start..start + out.len()]);
        let returns = self
            .returns_to_peer
            .as_ref()
            .ok_or_else(|| wrong_way("this side only sends"))?;
        match write_all(returns, &buffer.to_le_bytes()) {
            // A sender that has finished has no use for its buffers: nothing to return.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PIPE.raw_os_error()) => Ok(()),
            other => other,
        }
    }
}

impl Endpoint for PoolEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        if message.len() > self.buffer_len {
            return Err(io::Error::other("a message larger than the pool's buffers"));
        }
        let own = self
            .own
            .as_mut()
            .ok_or_else(|| wrong_way("this side only receives"))?;
        if own.free.is_empty() {
            self.waited += 1;
            own.wait_for_returns()?;
        }
        let buffer = own
            .free
            .pop()
            .ok_or_else(|| io::Error::other("no buffer came back"))?;
        let start = buffer as usize * self.buffer_len;
        own.mapping.bytes_mut()?[start..start + message.len()].copy_from_slice(message);
        let fd = (!own.handed_over).then(|| own.memfd.as_fd());
        fd_passing::send(
            &self.socket,
            &filled_notice(buffer, message.len() as u64),
            fd,
        )?;
        own.handed_over = true;
        Ok(())
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let filled = self.next_filled()?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed the channel mid-run",
            )
        })?;
        self.take(filled, buffer)
    }
}

/// The fan-in reader: one connection (and one peer pool) per writer, in one epoll set.
struct PoolsReader {
    connections: Vec<Option<PoolEnd>>,
    ready: ReadySet,
}

impl PoolsReader {
    fn new(connections: Vec<PoolEnd>) -> io::Result<Self> {
        let sockets: Vec<_> = connections.iter().map(|c| c.socket.as_fd()).collect();
        Ok(Self {
            ready: ReadySet::new(&sockets)?,
            connections: connections.into_iter().map(Some).collect(),
        })
    }
}

impl Endpoint for PoolsReader {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(wrong_way("a fan-in reader does not send"))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        loop {
            let i = self.ready.ready()?;
            let Some(connection) = &mut self.connections[i] else {
                continue;
            };
            match connection.next_filled()? {
                Some(filled) => return connection.take(filled, buffer),
                None => {
                    self.ready.retire(&connection.socket)?;
                    self.connections[i] = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Message `n`: every byte `n`.
    fn message(n: u8, size: usize) -> Vec<u8> {
        vec![n; size]
    }

    /// A sender and a receiver of `size`-byte messages, the receiver's returns reaching the
    /// sender; and the write end of the sender's returns, as a hostile receiver would hold it.
    fn one_way(size: usize) -> (PoolEnd, PoolEnd, OwnedFd) {
        let (a, b) = seqpacket_pair().unwrap();
        let (returns_read, returns_write) = rustix::pipe::pipe().unwrap();
        let hostile = returns_write.try_clone().unwrap();
        let sender = PoolEnd::sending(a, size, returns_read).unwrap();
        let receiver = PoolEnd::receiving(b, size).returning_to_peer(returns_write);
        (sender, receiver, hostile)
    }

    #[test]
    fn a_buffer_is_written_again_only_after_a_slow_receiver_returns_it() {
        const MESSAGES: u8 = 40;
        let size = 3_000;
        let (mut sender, mut receiver, _) = one_way(size);
        let receiving = std::thread::spawn(move || {
            let mut got = vec![0u8; size];
            for n in 0..MESSAGES {
                // Slowed by 1 ms a message: the sender runs out of buffers and must wait; had
                // it written a buffer before its return, this message would hold a later one.
                std::thread::sleep(std::time::Duration::from_millis(1));
                receiver.recv(&mut got).unwrap();
                assert_eq!(got, message(n, size), "message {n} was overwritten or lost");
            }
        });
        for n in 0..MESSAGES {
            sender.send(&message(n, size)).unwrap();
        }
        receiving.join().unwrap();
        assert!(sender.waited > 0, "the sender never ran out of buffers");
    }

    #[test]
    fn a_sender_waits_for_its_buffers_and_hostile_returns_or_notices_are_refused() {
        let (mut sender, mut receiver, hostile) = one_way(100);
        for n in 0..POOL_BUFFERS as u8 {
            sender.send(&message(n, 100)).unwrap();
        }
        assert_eq!(sender.own.as_ref().unwrap().free.len(), 0);
        let mut got = vec![0u8; 100];
        receiver.recv(&mut got).unwrap();
        sender.send(&message(99, 100)).unwrap();
        assert_eq!(
            sender.waited, 1,
            "the ninth send waited for the first return"
        );
        // A buffer returned that is not out, or one outside the pool: an error, not a reuse.
        for buffer in [3, POOL_BUFFERS] {
            let own = sender.own.as_mut().unwrap();
            own.free.clear();
            own.free.push(3);
            write_all(&hostile, &buffer.to_le_bytes()).unwrap();
            assert!(own.wait_for_returns().is_err(), "buffer {buffer}");
        }
        let (a, b) = seqpacket_pair().unwrap();
        fd_passing::send(&a, &filled_notice(POOL_BUFFERS, 100), None).unwrap();
        let mut victim = PoolEnd::receiving(b, 100);
        assert!(victim.recv(&mut got).is_err(), "outside the pool");
    }

    #[test]
    fn a_receiver_whose_sender_has_gone_keeps_its_messages() {
        let (mut sender, mut receiver, hostile) = one_way(100);
        drop(hostile);
        for n in 0..3 {
            sender.send(&message(n, 100)).unwrap();
        }
        drop(sender);
        let mut got = vec![0u8; 100];
        for n in 0..3 {
            receiver.recv(&mut got).unwrap();
            assert_eq!(got, message(n, 100));
        }
    }
}
