//! `memfd-pass`: each message in a memfd of its own, sealed and passed over a Unix seqpacket
//! socket (`SCM_RIGHTS`), the way Chrome hands a large object to another process. The sender
//! creates the memfd, sizes it, writes the payload through a writable mapping, *unmaps it*,
//! then seals it (`F_SEAL_WRITE` fails while a writable shared mapping exists), then sends the
//! descriptor with the length and closes its own. The receiver refuses an object not sealed
//! against writes and size changes (so the sender can neither change the bytes it reads nor
//! truncate them under it: `SIGBUS`), maps it read-only, copies the payload out and closes it.
//! The socket's own receive wakes the peer.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{MemfdFlags, SealFlags};

use super::endpoints::fd_passing::{self, seqpacket_pair};
use super::endpoints::{check_len, mapped::Mapped};
use super::{Channel, Endpoint, FanInChannel, Mechanism};

/// A sealed memfd per message over a seqpacket socket.
pub struct MemfdPass;

/// The seals a received message must carry: its bytes and its size can no longer change.
const MESSAGE_SEALS: SealFlags = SealFlags::WRITE
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW);

impl Mechanism for MemfdPass {
    fn name(&self) -> &'static str {
        "memfd-pass"
    }

    fn summary(&self) -> &'static str {
        "a sealed memfd per message, passed over a Unix socket (SCM_RIGHTS); blocking recvmsg"
    }

    fn available(&self) -> Result<(), String> {
        super::system::sealable_memfds()
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let (a, b) = seqpacket_pair()?;
        Ok(Channel::new(
            Box::new(MemfdPassEnd { socket: a }),
            Box::new(MemfdPassEnd { socket: b }),
        ))
    }

    fn connect_fan_in(&self, _size: usize, writers: usize) -> io::Result<FanInChannel> {
        // Each message is one seqpacket: writers share one end without interleaving.
        let (a, b) = seqpacket_pair()?;
        let ends = (0..writers)
            .map(|_| {
                Ok(Box::new(MemfdPassEnd {
                    socket: a.try_clone()?,
                }) as Box<dyn Endpoint>)
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(FanInChannel::new(
            ends,
            Box::new(MemfdPassEnd { socket: b }),
        ))
    }
}

/// One side: its end of the socket.
struct MemfdPassEnd {
    socket: OwnedFd,
}

impl Endpoint for MemfdPassEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let memfd = rustix::fs::memfd_create(
            "ipc-profiler-message",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        if !message.is_empty() {
            rustix::fs::ftruncate(&memfd, message.len() as u64)?;
            let mut mapping = Mapped::writable(&memfd, message.len())?;
            mapping.bytes_mut()?.copy_from_slice(message);
            // Unmapped before sealing: F_SEAL_WRITE is refused while a writable mapping lives.
            drop(mapping);
        }
        rustix::fs::fcntl_add_seals(&memfd, MESSAGE_SEALS | SealFlags::SEAL)?;
        let header = (message.len() as u64).to_le_bytes();
        fd_passing::send(&self.socket, &header, Some(memfd.as_fd()))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let mut header = [0u8; 8];
        let memfd = fd_passing::recv(&self.socket, &mut header)?
            .ok_or_else(|| io::Error::other("a message came without its memfd"))?;
        let len = u64::from_le_bytes(header);
        check_len(usize::try_from(len).unwrap_or(usize::MAX), buffer.len())?;
        let seals = rustix::fs::fcntl_get_seals(&memfd)?;
        if !seals.contains(MESSAGE_SEALS) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "a memfd not sealed against writes, shrinking and growing was refused",
            ));
        }
        let size = rustix::fs::fstat(&memfd)?.st_size;
        if u64::try_from(size).ok() != Some(len) {
            return Err(io::Error::other(format!(
                "a memfd of {size} bytes came for a {len}-byte message"
            )));
        }
        if !buffer.is_empty() {
            buffer.copy_from_slice(Mapped::read_only(&memfd, buffer.len())?.bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_goes_through_a_sealed_memfd_and_an_unsealed_one_is_refused() {
        let mut channel = MemfdPass.connect(5_000).unwrap();
        let message: Vec<u8> = (0..5_000).map(|i| (i % 251) as u8).collect();
        channel.client.send(&message).unwrap();
        let mut got = vec![0u8; 5_000];
        channel.server.recv(&mut got).unwrap();
        assert_eq!(got, message);
        // A hostile sender's memfd, still writable: refused, not mapped.
        let (a, b) = seqpacket_pair().unwrap();
        let memfd = rustix::fs::memfd_create("hostile", MemfdFlags::ALLOW_SEALING).unwrap();
        rustix::fs::ftruncate(&memfd, 8).unwrap();
        fd_passing::send(&a, &8u64.to_le_bytes(), Some(memfd.as_fd())).unwrap();
        let error = MemfdPassEnd { socket: b }.recv(&mut [0u8; 8]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{error}");
    }
}
