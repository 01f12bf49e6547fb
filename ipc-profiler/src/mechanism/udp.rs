//! `udp`: two UDP sockets on 127.0.0.1 connected to each other; blocking receive. UDP has no
//! flow control, so where many messages may be in flight to one socket (many clients'
//! requests to one server socket; a pub-sub or pipeline stream) its receive buffer is sized to
//! hold them all, and loopback drops none. A one-way stream of unknown length (the throughput
//! pattern, fan-in) stays unsupported.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::OwnedFd;

use super::endpoints::fd::DatagramEnd;
use super::{Channel, FanInChannel, Mechanism};
use crate::config::BenchConfig;
use crate::result::Pattern;

/// The largest UDP payload over IPv4: 65,535 less the IP and UDP headers.
const MAX_DATAGRAM: usize = 65_507;

/// Bytes a datagram costs in a receive buffer's accounting beyond its payload (the socket
/// buffer's bookkeeping; a generous bound for loopback).
const DATAGRAM_OVERHEAD: usize = 1024;

/// The receive buffer a server socket needs for `writers` datagrams of `size` bytes in flight
/// at once (doubled for margin: the kernel's accounting rounds up).
fn server_buffer(size: usize, writers: usize) -> usize {
    2 * writers * (size + DATAGRAM_OVERHEAD)
}

/// UDP over loopback.
pub struct Udp;

impl Mechanism for Udp {
    fn name(&self) -> &'static str {
        "udp"
    }

    fn summary(&self) -> &'static str {
        "UDP over 127.0.0.1; blocking recv"
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        if config.pattern == Pattern::RequestResponse {
            return buffer_limit(server_buffer(config.message_size, config.count)).or_else(|| {
                (config.message_size > MAX_DATAGRAM).then(|| {
                    format!("a UDP datagram carries at most {MAX_DATAGRAM} bytes over IPv4")
                })
            });
        }
        if matches!(config.pattern, Pattern::PubSub | Pattern::Pipeline) {
            // Every message of a phase may be in flight at once: the receivers' buffers hold
            // them all (the check names the sysctl where that takes more than is allowed).
            let in_flight = config.iterations.max(config.warmup) as usize;
            return buffer_limit(server_buffer(config.message_size, in_flight)).or_else(|| {
                (config.message_size > MAX_DATAGRAM).then(|| {
                    format!("a UDP datagram carries at most {MAX_DATAGRAM} bytes over IPv4")
                })
            });
        }
        if config.pattern != Pattern::Latency {
            return Some("UDP has no flow control: a one-way stream over loopback drops datagrams once the receiver falls behind".into());
        }
        (config.message_size > MAX_DATAGRAM)
            .then(|| format!("a UDP datagram carries at most {MAX_DATAGRAM} bytes over IPv4"))
    }

    /// Requests from every client into one server socket (request-response: each client has
    /// one request in flight at most, and the server's buffer holds them all).
    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        set_receive_buffer(&server, server_buffer(size, writers))?;
        let mut ends: Vec<Box<dyn super::Endpoint>> = Vec::with_capacity(writers);
        for _ in 0..writers {
            let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
            client.connect(server.local_addr()?)?;
            ends.push(Box::new(DatagramEnd(OwnedFd::from(client))));
        }
        Ok(FanInChannel::new(
            ends,
            Box::new(DatagramEnd(OwnedFd::from(server))),
        ))
    }

    fn connect_for_stream(&self, size: usize, in_flight: usize) -> io::Result<Channel> {
        pair(Some(server_buffer(size, in_flight)))
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        pair(None)
    }
}

/// Two sockets connected to each other; the server's receive buffer set to `server_buffer`
/// bytes when given (past net.core.rmem_max only with CAP_NET_ADMIN; refuses() checked the
/// others).
fn pair(server_buffer: Option<usize>) -> io::Result<Channel> {
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    if let Some(bytes) = server_buffer {
        set_receive_buffer(&server, bytes)?;
    }
    client.connect(server.local_addr()?)?;
    server.connect(client.local_addr()?)?;
    Ok(Channel::new(
        Box::new(DatagramEnd(OwnedFd::from(client))),
        Box::new(DatagramEnd(OwnedFd::from(server))),
    ))
}

/// Sets a socket's receive buffer, past net.core.rmem_max where this process may.
fn set_receive_buffer(socket: &UdpSocket, bytes: usize) -> io::Result<()> {
    rustix::net::sockopt::set_socket_recv_buffer_size_force(socket, bytes)
        .or_else(|_| rustix::net::sockopt::set_socket_recv_buffer_size(socket, bytes))?;
    Ok(())
}

/// Why a server socket cannot get a `needed`-byte receive buffer here, if it cannot: without
/// CAP_NET_ADMIN the kernel caps it at net.core.rmem_max.
fn buffer_limit(needed: usize) -> Option<String> {
    if rustix::process::geteuid().is_root() {
        return None;
    }
    let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (needed / 2 > max).then(|| {
        format!(
            "a UDP receiver needs a {needed}-byte receive buffer to hold every message that may \
             be in flight to it, over net.core.rmem_max ({max}): raise it with `sysctl \
             net.core.rmem_max={needed}`, or run as root"
        )
    })
}
