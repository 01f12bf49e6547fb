//! `vmsplice`: a pipe in each direction, fed with `vmsplice(2)`: the pipe takes references to
//! the sender's pages instead of copying them, and the reader's `read` copies once. The pages
//! stay the pipe's until they are read, so a sender must not write a buffer again before the
//! reader has consumed it. The rule here: each side sends from a ring of page-aligned buffers,
//! one per message, as many as the pipe can hold messages plus two; a pipe holds at most as
//! many messages as it has page slots (each spliced page takes one, never merged), so by the
//! time a buffer comes round again the messages sent after it fill whatever the pipe holds:
//! it has been read. `FIONREAD` (the bytes still in the pipe) checks that before each reuse,
//! and a buffer still in the pipe is an error, never overwritten. Each pipe is raised to hold a
//! whole message, as `pipe`'s are (`pipe_capacity`).

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::pipe::{IoSliceRaw, SpliceFlags};

use super::endpoints::fd::{read_exact, StreamsReader};
use super::endpoints::{mapped::Mapped, wrong_way};
use super::{Channel, Endpoint, FanInChannel, Mechanism};

/// A pipe pair fed with vmsplice.
pub struct Vmsplice;

impl Mechanism for Vmsplice {
    fn name(&self) -> &'static str {
        "vmsplice"
    }

    fn summary(&self) -> &'static str {
        "pipe pair fed with vmsplice (the pipe holds the sender's pages); blocking read"
    }

    fn setting(&self, size: usize) -> Option<String> {
        super::pipe_capacity::setting(size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let (client_read, server_write) = rustix::pipe::pipe()?;
        let (server_read, client_write) = rustix::pipe::pipe()?;
        Ok(Channel::new(
            Box::new(VmspliceEnd {
                read: Some(client_read),
                sender: SplicingSender::new(client_write, size)?,
            }),
            Box::new(VmspliceEnd {
                read: Some(server_read),
                sender: SplicingSender::new(server_write, size)?,
            }),
        ))
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        // A pipe per writer: a splice into a shared pipe is not one atomic write.
        let mut ends = Vec::with_capacity(writers);
        let mut reads = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (read, write) = rustix::pipe::pipe()?;
            ends.push(Box::new(VmspliceEnd {
                read: None,
                sender: SplicingSender::new(write, size)?,
            }) as Box<dyn Endpoint>);
            reads.push(read);
        }
        Ok(FanInChannel::new(
            ends,
            Box::new(StreamsReader::new(reads)?),
        ))
    }
}

/// The sending side: the pipe's write end and the ring of buffers spliced into it.
struct SplicingSender {
    pipe: OwnedFd,
    buffers: Mapped,
    buffer_len: usize,
    count: usize,
    next: usize,
    /// Bytes spliced into the pipe so far.
    spliced: u64,
    /// Bytes the reader had consumed when last asked (`spliced` less `FIONREAD`).
    consumed: u64,
    /// For each buffer, the value of `spliced` just after its last message.
    ends: Vec<u64>,
}

impl SplicingSender {
    fn new(pipe: OwnedFd, size: usize) -> io::Result<Self> {
        let capacity = super::pipe_capacity::fit(&pipe, size)?;
        let page = rustix::param::page_size();
        let buffer_len = size.max(1).next_multiple_of(page);
        // The pipe's page slots over the slots one message takes: the most messages it holds
        // at once, one of them partly read; two more buffers keep a reused one out of it.
        let count = (capacity / page) / (buffer_len / page) + 2;
        Ok(Self {
            pipe,
            buffers: Mapped::anonymous(buffer_len * count)?,
            buffer_len,
            count,
            next: 0,
            spliced: 0,
            consumed: 0,
            ends: vec![0; count],
        })
    }

    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let i = self.next;
        if self.ends[i] > self.consumed {
            let in_pipe = rustix::io::ioctl_fionread(&self.pipe)?;
            self.consumed = self.spliced.saturating_sub(in_pipe);
            if self.ends[i] > self.consumed {
                return Err(io::Error::other(format!(
                    "buffer {i} is still in the pipe ({in_pipe} bytes unread): not rewritten"
                )));
            }
        }
        let start = i * self.buffer_len;
        let buffer = &mut self.buffers.bytes_mut()?[start..start + message.len()];
        buffer.copy_from_slice(message);
        let mut sent = 0;
        while sent < message.len() {
            let rest = [IoSliceRaw::from_slice(&buffer[sent..])];
            // SAFETY: `pipe` is a pipe's write end, so the kernel only reads these pages (it
            // takes references to them, no gift); they are not written again until the reader
            // has consumed them (checked above on every reuse).
            match unsafe { rustix::pipe::vmsplice(&self.pipe, &rest, SpliceFlags::empty()) } {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "peer stopped reading",
                    ))
                }
                Ok(n) => sent += n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        self.spliced += message.len() as u64;
        self.ends[i] = self.spliced;
        self.next = (i + 1) % self.count;
        Ok(())
    }
}

/// One side: the pipe it reads (none for a fan-in writer) and the one it splices into.
struct VmspliceEnd {
    read: Option<OwnedFd>,
    sender: SplicingSender,
}

impl Endpoint for VmspliceEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.sender.send(message)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let read = self
            .read
            .as_ref()
            .ok_or_else(|| wrong_way("a fan-in writer does not receive"))?;
        read_exact(read.as_fd(), buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_though_a_slow_reader_holds_the_pages() {
        const MESSAGES: u32 = 200;
        let size = 1_000;
        let (read, write) = rustix::pipe::pipe().unwrap();
        let mut sender = SplicingSender::new(write, size).unwrap();
        let reading = std::thread::spawn(move || {
            let mut got = vec![0u8; size];
            for n in 0..MESSAGES {
                if n % 20 == 0 {
                    // Slowed now and then: the pipe fills with the sender's pages.
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                read_exact(&read, &mut got).unwrap();
                let expected: Vec<u8> = (0..size).map(|i| (n as usize + i) as u8).collect();
                assert_eq!(got, expected, "message {n}");
            }
        });
        for n in 0..MESSAGES {
            let message: Vec<u8> = (0..size).map(|i| (n as usize + i) as u8).collect();
            sender.send(&message).unwrap();
        }
        reading.join().unwrap();
        assert!(sender.count < MESSAGES as usize, "the buffers were reused");
    }
}
