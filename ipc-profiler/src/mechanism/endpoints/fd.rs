//! Whole-message reads and writes on file descriptors, shared by the fd-based mechanisms.

use std::io;
use std::os::fd::AsFd;

use super::wrong_way;

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
                Ok((n, _)) => return super::check_len(n, buffer.len()),
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
        Err(wrong_way("a fan-in writer does not receive"))
    }
}

/// A receiving-only endpoint (the fan-in reader of a pipe or FIFO).
pub struct FdReader(pub std::os::fd::OwnedFd);

impl crate::mechanism::Endpoint for FdReader {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(wrong_way("a fan-in reader does not send"))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        read_exact(&self.0, buffer)
    }
}

/// The fan-in reader of byte-stream sockets: one connection per writer, all in one epoll set,
/// as a server watches its clients; each message is read whole from the connection it starts
/// on. One `epoll_wait` per message, whatever the number of connections (a `poll` over them
/// all would cost the server O(connections) per message).
pub struct StreamsReader {
    /// One connection per writer; `None` once its writer has finished and closed it.
    connections: Vec<Option<std::os::fd::OwnedFd>>,
    ready: super::ready_set::ReadySet,
}

impl StreamsReader {
    /// A reader over these connections.
    pub fn new(connections: Vec<std::os::fd::OwnedFd>) -> io::Result<Self> {
        Ok(Self {
            ready: super::ready_set::ReadySet::new(&connections)?,
            connections: connections.into_iter().map(Some).collect(),
        })
    }
}

impl crate::mechanism::Endpoint for StreamsReader {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(wrong_way("a fan-in reader does not send"))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        loop {
            let i = self.ready.ready()?;
            let Some(connection) = &self.connections[i] else {
                continue;
            };
            let first = loop {
                match rustix::io::read(connection, &mut *buffer) {
                    Err(rustix::io::Errno::INTR) => continue,
                    other => break other?,
                }
            };
            // A writer that has sent everything closes its connection: end of file at a
            // message boundary retires it; inside a message it is an error.
            if first == 0 {
                self.ready.retire(connection)?;
                self.connections[i] = None;
                continue;
            }
            return read_exact(connection, &mut buffer[first..]);
        }
    }
}
