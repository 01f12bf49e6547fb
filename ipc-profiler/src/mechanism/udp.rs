//! `udp`: two UDP sockets on 127.0.0.1 connected to each other; blocking receive.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::OwnedFd;

use super::endpoints::fd::DatagramEnd;
use super::{Channel, Mechanism};
use crate::config::BenchConfig;
use crate::result::Pattern;

/// The largest UDP payload over IPv4: 65,535 less the IP and UDP headers.
const MAX_DATAGRAM: usize = 65_507;

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
            return Some("request-response over UDP needs one server socket that every client sends to, which this version does not build yet".into());
        }
        if config.pattern != Pattern::Latency {
            return Some("UDP has no flow control: a one-way stream over loopback drops datagrams once the receiver falls behind".into());
        }
        (config.message_size > MAX_DATAGRAM)
            .then(|| format!("a UDP datagram carries at most {MAX_DATAGRAM} bytes over IPv4"))
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        client.connect(server.local_addr()?)?;
        server.connect(client.local_addr()?)?;
        Ok(Channel::new(
            Box::new(DatagramEnd(OwnedFd::from(client))),
            Box::new(DatagramEnd(OwnedFd::from(server))),
        ))
    }
}
