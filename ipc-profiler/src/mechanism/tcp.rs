//! `tcp`: a TCP connection over 127.0.0.1 with TCP_NODELAY; blocking receive.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;

use super::endpoints::fd::{StreamEnd, StreamsReader};
use super::{Channel, Endpoint, FanInChannel, Mechanism};

/// TCP over loopback.
pub struct Tcp;

impl Mechanism for Tcp {
    fn name(&self) -> &'static str {
        "tcp"
    }

    fn summary(&self) -> &'static str {
        "TCP over 127.0.0.1, TCP_NODELAY; blocking recv"
    }

    fn connect_fan_in(&self, _size: usize, writers: usize) -> io::Result<FanInChannel> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let mut ends = Vec::new();
        let mut readers = Vec::new();
        for _ in 0..writers {
            let client = TcpStream::connect(listener.local_addr()?)?;
            let (server, _) = listener.accept()?;
            client.set_nodelay(true)?;
            ends.push(Box::new(StreamEnd(OwnedFd::from(client))) as Box<dyn Endpoint>);
            readers.push(OwnedFd::from(server));
        }
        Ok(FanInChannel::new(
            ends,
            Box::new(StreamsReader::new(readers)?),
        ))
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        for stream in [&client, &server] {
            stream.set_nodelay(true)?;
        }
        Ok(Channel::new(
            Box::new(StreamEnd(OwnedFd::from(client))),
            Box::new(StreamEnd(OwnedFd::from(server))),
        ))
    }
}
