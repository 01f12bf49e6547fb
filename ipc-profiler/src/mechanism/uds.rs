//! `uds`, `uds-dgram`, `uds-seqpacket`: a connected Unix socket pair of each type; the peer is
//! woken by a blocking receive. A socketpair has no path, so nothing is left in the filesystem.

use std::io;

use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};

use super::endpoints::fd::{DatagramEnd, StreamEnd, StreamsReader};
use super::{Channel, Endpoint, FanInChannel, Mechanism};
use crate::config::BenchConfig;

/// Unix socket of one type.
pub struct Uds {
    kind: SocketType,
}

/// `uds`: SOCK_STREAM.
pub const STREAM: Uds = Uds {
    kind: SocketType::STREAM,
};
/// `uds-dgram`: SOCK_DGRAM.
pub const DGRAM: Uds = Uds {
    kind: SocketType::DGRAM,
};
/// `uds-seqpacket`: SOCK_SEQPACKET.
pub const SEQPACKET: Uds = Uds {
    kind: SocketType::SEQPACKET,
};

impl Mechanism for Uds {
    fn name(&self) -> &'static str {
        match self.kind {
            SocketType::STREAM => "uds",
            SocketType::DGRAM => "uds-dgram",
            _ => "uds-seqpacket",
        }
    }

    fn summary(&self) -> &'static str {
        match self.kind {
            SocketType::STREAM => "Unix socket pair, SOCK_STREAM; blocking recv",
            SocketType::DGRAM => "Unix socket pair, SOCK_DGRAM; blocking recv",
            _ => "Unix socket pair, SOCK_SEQPACKET; blocking recv",
        }
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        if self.kind == SocketType::STREAM {
            // A byte stream would interleave writers: one connection each.
            let mut ends = Vec::new();
            let mut readers = Vec::new();
            for _ in 0..writers {
                let (a, b) =
                    socketpair(AddressFamily::UNIX, self.kind, SocketFlags::CLOEXEC, None)?;
                ends.push(Box::new(StreamEnd(a)) as Box<dyn Endpoint>);
                readers.push(b);
            }
            return Ok(FanInChannel::new(
                ends,
                Box::new(StreamsReader::new(readers)?),
            ));
        }
        // Datagrams stay whole: every writer sends on the same socket.
        let (a, b) = socketpair(AddressFamily::UNIX, self.kind, SocketFlags::CLOEXEC, None)?;
        for fd in [&a, &b] {
            rustix::net::sockopt::set_socket_send_buffer_size(fd, size.max(4096) + 64)?;
            rustix::net::sockopt::set_socket_recv_buffer_size(fd, size.max(4096) + 64)?;
        }
        let ends = (0..writers)
            .map(|_| Ok(Box::new(DatagramEnd(a.try_clone()?)) as Box<dyn Endpoint>))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(FanInChannel::new(ends, Box::new(DatagramEnd(b))))
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        self.size_limit(config.message_size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let (a, b) = socketpair(AddressFamily::UNIX, self.kind, SocketFlags::CLOEXEC, None)?;
        if self.kind == SocketType::STREAM {
            return Ok(Channel::new(Box::new(StreamEnd(a)), Box::new(StreamEnd(b))));
        }
        for fd in [&a, &b] {
            rustix::net::sockopt::set_socket_send_buffer_size(fd, size.max(4096) + 64)?;
            rustix::net::sockopt::set_socket_recv_buffer_size(fd, size.max(4096) + 64)?;
        }
        Ok(Channel::new(
            Box::new(DatagramEnd(a)),
            Box::new(DatagramEnd(b)),
        ))
    }
}

impl Uds {
    /// Why this socket type cannot carry `size`-byte messages here, if it cannot.
    fn size_limit(&self, size: usize) -> Option<String> {
        if self.kind == SocketType::STREAM {
            return None;
        }
        // A Unix datagram must fit the sender's buffer: at most twice net.core.wmem_max, less
        // the kernel's 32-byte allowance (setsockopt doubles the value it is given).
        let wmem_max = super::system::sysctl("/proc/sys/net/core/wmem_max").unwrap_or(212_992);
        let limit = 2 * wmem_max - 32;
        (size > limit).then(|| {
            format!("a Unix datagram is at most {limit} bytes here (2 x net.core.wmem_max - 32)")
        })
    }
}
