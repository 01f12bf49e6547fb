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

/// Sends `message` as one datagram or packet, whole (a partial send is an error), retrying on
/// EINTR.
pub fn send_datagram(
    socket: impl AsFd,
    message: &[u8],
    flags: rustix::net::SendFlags,
) -> io::Result<()> {
    loop {
        match rustix::net::send(&socket, message, flags) {
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

/// Receives one datagram or packet into `buffer` and returns its whole length, which may be
/// more than `buffer` holds (`MSG_TRUNC`: the rest is dropped) or less; 0 at end of file.
/// Retries on EINTR.
pub fn recv_datagram(socket: impl AsFd, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::net::recv(&socket, &mut *buffer, rustix::net::RecvFlags::TRUNC) {
            Ok((_, whole)) => return Ok(whole),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A message-preserving endpoint (datagram, seqpacket): one call sends or receives one whole
/// message; a short or a long one is an error, never silently accepted.
pub struct DatagramEnd(pub std::os::fd::OwnedFd);

impl crate::mechanism::Endpoint for DatagramEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        send_datagram(&self.0, message, rustix::net::SendFlags::empty())
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        match recv_datagram(&self.0, buffer)? {
            0 if !buffer.is_empty() => Err(io::ErrorKind::UnexpectedEof.into()),
            whole => super::check_len(whole, buffer.len()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::Endpoint;

    #[test]
    fn a_datagram_of_another_length_is_refused_whole_or_short() {
        let (a, b) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let (mut sender, mut receiver) = (DatagramEnd(a), DatagramEnd(b));
        let mut buffer = [0u8; 8];
        sender.send(&[1; 8]).unwrap();
        receiver.recv(&mut buffer).unwrap();
        assert_eq!(buffer, [1; 8]);
        // A longer message would fill the buffer exactly and lose its tail: refused.
        sender.send(&[2; 12]).unwrap();
        let long = receiver.recv(&mut buffer).unwrap_err();
        assert!(long.to_string().contains("a 12-byte message"), "{long}");
        sender.send(&[3; 5]).unwrap();
        let short = receiver.recv(&mut buffer).unwrap_err();
        assert!(short.to_string().contains("a 5-byte message"), "{short}");
        drop(sender);
        let end = receiver.recv(&mut buffer).unwrap_err();
        assert_eq!(end.kind(), io::ErrorKind::UnexpectedEof);
    }
}
