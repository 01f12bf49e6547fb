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

impl crate::mechanism::Endpoint for StreamEnd {
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

impl crate::mechanism::Endpoint for DatagramEnd {
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

/// A sending-only endpoint on a shared descriptor (fan-in writers of a pipe or FIFO).
pub struct FdWriter(pub std::os::fd::OwnedFd);

impl crate::mechanism::Endpoint for FdWriter {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        write_all(&self.0, message)
    }

    fn recv(&mut self, _buffer: &mut [u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a fan-in writer does not receive",
        ))
    }
}

/// A receiving-only endpoint (the fan-in reader of a pipe or FIFO).
pub struct FdReader(pub std::os::fd::OwnedFd);

impl crate::mechanism::Endpoint for FdReader {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a fan-in reader does not send",
        ))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        read_exact(&self.0, buffer)
    }
}

/// The fan-in reader of byte-stream sockets: one connection per writer, served in turn by
/// poll; each message is read whole from the connection it starts on.
pub struct StreamsReader {
    /// One connection per writer.
    pub connections: Vec<std::os::fd::OwnedFd>,
    next: usize,
}

impl StreamsReader {
    /// A reader over these connections.
    pub fn new(connections: Vec<std::os::fd::OwnedFd>) -> Self {
        Self {
            connections,
            next: 0,
        }
    }
}

impl crate::mechanism::Endpoint for StreamsReader {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a fan-in reader does not send",
        ))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        use rustix::event::{poll, PollFd, PollFlags};
        loop {
            let mut fds: Vec<PollFd<'_>> = self
                .connections
                .iter()
                .map(|fd| PollFd::new(fd, PollFlags::IN))
                .collect();
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let count = fds.len();
            let ready = (0..count)
                .map(|i| (self.next + i) % count)
                .find(|&i| !fds[i].revents().is_empty());
            drop(fds);
            let Some(i) = ready else { continue };
            // A writer that has sent everything closes its connection: end of file at a
            // message boundary retires it; inside a message it is an error.
            let first = loop {
                match rustix::io::read(&self.connections[i], &mut *buffer) {
                    Err(rustix::io::Errno::INTR) => continue,
                    other => break other?,
                }
            };
            if first == 0 {
                self.connections.remove(i);
                if self.connections.is_empty() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                self.next = 0;
                continue;
            }
            self.next = (i + 1) % count;
            return read_exact(&self.connections[i], &mut buffer[first..]);
        }
    }
}
