//! `uds-tokio`: a Unix stream socket pair driven by tokio (`tokio::net::UnixStream`): each side
//! awaits readiness through the runtime's epoll instead of blocking in `recv`.

use std::io;
use std::os::unix::net::UnixStream;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::endpoints::runtime::Lazy;
use super::shm_tokio::one_connection_per_pair;
use super::{Channel, Endpoint, Mechanism};
use crate::config::BenchConfig;

/// A Unix stream socket pair in tokio runtimes.
pub struct UdsTokio;

impl Mechanism for UdsTokio {
    fn name(&self) -> &'static str {
        "uds-tokio"
    }

    fn summary(&self) -> &'static str {
        "Unix socket pair, SOCK_STREAM, in tokio runtimes; await readiness (epoll)"
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        one_connection_per_pair("uds-tokio", config)
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let (client, server) = UnixStream::pair()?;
        Ok(Channel::new(
            Box::new(TokioStreamEnd(Lazy::Plain(client))),
            Box::new(TokioStreamEnd(Lazy::Plain(server))),
        ))
    }
}

/// One end of the pair, registered with its runtime at first use.
struct TokioStreamEnd(Lazy<UnixStream, tokio::net::UnixStream>);

impl TokioStreamEnd {
    fn started(&mut self) -> io::Result<(&tokio::runtime::Runtime, &mut tokio::net::UnixStream)> {
        self.0.get(|stream| {
            stream.set_nonblocking(true)?;
            tokio::net::UnixStream::from_std(stream)
        })
    }
}

/// As for `shm-tokio`: each call first does what the future's first poll does (a
/// non-blocking attempt through tokio's readiness, `try_read` / `try_write`) and enters the
/// runtime (`block_on`) only to await readiness.
impl Endpoint for TokioStreamEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let (runtime, stream) = self.started()?;
        let sent = first_poll(message.len(), |from| stream.try_write(&message[from..]))?;
        if sent < message.len() {
            runtime.block_on(stream.write_all(&message[sent..]))?;
        }
        Ok(())
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let (runtime, stream) = self.started()?;
        let len = buffer.len();
        let got = first_poll(len, |from| stream.try_read(&mut buffer[from..]))?;
        if got < len {
            runtime.block_on(stream.read_exact(&mut buffer[got..]))?;
        }
        Ok(())
    }
}

/// Moves bytes with `attempt` (from the offset it is given) until `len` are done or it would
/// block; returns how many were done. A read of 0 bytes is the peer's end of stream.
fn first_poll(
    len: usize,
    mut attempt: impl FnMut(usize) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut done = 0;
    while done < len {
        match attempt(done) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
