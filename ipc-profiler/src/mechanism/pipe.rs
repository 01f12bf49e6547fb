//! `pipe`: an anonymous pipe in each direction, raised to hold a message (`pipe_capacity`);
//! the peer is woken by a blocking read.

use std::io;
use std::os::fd::OwnedFd;

use super::endpoints::fd::{read_exact, write_all};
use super::{Channel, Endpoint, FanInChannel, Mechanism};
use crate::config::BenchConfig;
use crate::result::Pattern;

/// Two anonymous pipes, one per direction.
pub struct Pipe;

struct PipeEnd {
    read: OwnedFd,
    write: OwnedFd,
}

impl Mechanism for Pipe {
    fn name(&self) -> &'static str {
        "pipe"
    }

    fn summary(&self) -> &'static str {
        "anonymous pipe pair; blocking read"
    }

    fn connect_fan_in(&self, _size: usize, writers: usize) -> io::Result<FanInChannel> {
        let (read, write) = rustix::pipe::pipe()?;
        super::system::shared_pipe_fan_in(read, write, writers)
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        matches!(config.pattern, Pattern::FanIn | Pattern::RequestResponse)
            .then(|| super::system::pipe_fan_in_limit(config.message_size))
            .flatten()
    }

    fn setting(&self, size: usize) -> Option<String> {
        super::pipe_capacity::setting(size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let (client_read, server_write) = rustix::pipe::pipe()?;
        let (server_read, client_write) = rustix::pipe::pipe()?;
        for write in [&server_write, &client_write] {
            super::pipe_capacity::fit(write, size)?;
        }
        Ok(Channel::new(
            Box::new(PipeEnd {
                read: client_read,
                write: client_write,
            }),
            Box::new(PipeEnd {
                read: server_read,
                write: server_write,
            }),
        ))
    }
}

impl Endpoint for PipeEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        write_all(&self.write, message)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        read_exact(&self.read, buffer)
    }
}
