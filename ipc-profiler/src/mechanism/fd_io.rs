//! Whole-message reads and writes on file descriptors, shared by the fd-based mechanisms.

use std::io;
use std::os::fd::AsFd;

/// Writes all of `message`, looping over partial writes and retrying on EINTR.
pub fn write_all(fd: impl AsFd, mut message: &[u8]) -> io::Result<()> {
    while !message.is_empty() {
        match rustix::io::write(&fd, message) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "peer stopped reading",
                ))
            }
            Ok(n) => message = &message[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Fills all of `buffer`, looping over partial reads and retrying on EINTR; end of file before
/// the buffer is full is an error (the peer went away mid-message).
pub fn read_exact(fd: impl AsFd, mut buffer: &mut [u8]) -> io::Result<()> {
    while !buffer.is_empty() {
        match rustix::io::read(&fd, &mut *buffer) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the channel mid-run",
                ))
            }
            Ok(n) => buffer = &mut buffer[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A byte-stream endpoint on one file descriptor (socketpair, TCP): partial transfers looped.
pub struct StreamEnd(pub std::os::fd::OwnedFd);

impl super::Endpoint for StreamEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        write_all(&self.0, message)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        read_exact(&self.0, buffer)
    }
}

/// A message-preserving endpoint (datagram, seqpacket): one call sends or receives one whole
/// message; a short one is an error, never silently accepted.
pub struct DatagramEnd(pub std::os::fd::OwnedFd);

impl super::Endpoint for DatagramEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        loop {
            match rustix::net::send(&self.0, message, rustix::net::SendFlags::empty()) {
                Ok(n) if n == message.len() => return Ok(()),
                Ok(n) => {
                    return Err(io::Error::other(format!(
                        "sent {n} of {} bytes as one message",
                        message.len()
                    )))
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        loop {
            // TRUNC: the kernel reports the full length even when the buffer was shorter.
            match rustix::net::recv(&self.0, &mut *buffer, rustix::net::RecvFlags::TRUNC) {
                Ok((n, _)) if n == buffer.len() => return Ok(()),
                Ok((0, _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok((n, _)) => {
                    return Err(io::Error::other(format!(
                        "a {n}-byte message arrived where {} bytes were expected",
                        buffer.len()
                    )))
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
