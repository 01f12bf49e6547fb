//! `eventfd`: shared mailboxes; the peer is woken by a blocking read on an eventfd (in
//! semaphore mode, one per mailbox state).

use std::io;
use std::os::fd::OwnedFd;

use rustix::event::{eventfd, EventfdFlags};

use super::endpoints::fd::{read_exact, write_all};
use super::endpoints::mailbox::{self, Handoff, Mailboxes};
use super::{Channel, FanInChannel, Mechanism};

/// Mailboxes and eventfds.
pub struct Eventfd;

/// `fds[2d]` counts mailbox `d` full, `fds[2d + 1]` empty.
struct Counters {
    fds: Vec<OwnedFd>,
}

impl Counters {
    fn take(&self, index: usize) -> io::Result<()> {
        read_exact(&self.fds[index], &mut [0u8; 8])
    }

    fn give(&self, index: usize) -> io::Result<()> {
        write_all(&self.fds[index], &1u64.to_ne_bytes())
    }
}

impl Handoff for Counters {
    fn wait_empty(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.take(2 * d + 1)
    }
    fn post_full(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.give(2 * d)
    }
    fn wait_full(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.take(2 * d)
    }
    fn post_empty(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.give(2 * d + 1)
    }
}

impl Mechanism for Eventfd {
    fn name(&self) -> &'static str {
        "eventfd"
    }

    fn summary(&self) -> &'static str {
        "shared mailboxes + eventfd notification; read on eventfd"
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let (boxes, handoff) = with_counters(size)?;
        Ok(mailbox::fan_in(boxes, handoff, writers))
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let (boxes, counters) = with_counters(size)?;
        Ok(mailbox::channel(boxes, counters))
    }
}

/// Mailboxes and their four eventfds (full 0, empty 1 for each).
fn with_counters(size: usize) -> io::Result<(Mailboxes, Counters)> {
    let boxes = Mailboxes::new(size)?;
    let flags = EventfdFlags::SEMAPHORE | EventfdFlags::CLOEXEC;
    let fds = [0, 1, 0, 1]
        .into_iter()
        .map(|initial| eventfd(initial, flags).map_err(io::Error::from))
        .collect::<io::Result<Vec<_>>>()?;
    Ok((boxes, Counters { fds }))
}
