//! `shm-sem`: shared mailboxes handed over with process-shared POSIX semaphores (sem_init in
//! the shared memory: unnamed, so nothing to clean up); sem_wait / sem_post.

use std::io;

use super::endpoints::mailbox::{self, check, Handoff, Mailboxes};
use super::{Channel, FanInChannel, Mechanism};

/// Mailboxes and POSIX semaphores.
pub struct ShmSem;

/// Semaphores 0 (full) and 1 (empty) in each mailbox's sync area.
struct Semaphores;

const FULL: usize = 0;
const EMPTY: usize = 1;

fn sem(boxes: &Mailboxes, d: usize, which: usize) -> *mut libc::sem_t {
    // SAFETY: two sem_t (32 bytes each) fit the 256-byte sync area at 64-byte steps.
    unsafe { boxes.sync_area(d).add(64 * which).cast().as_ptr() }
}

fn wait(boxes: &Mailboxes, d: usize, which: usize) -> io::Result<()> {
    loop {
        // SAFETY: initialised by connect, in memory mapped for the channel's life.
        match check(unsafe { libc::sem_wait(sem(boxes, d, which)) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn post(boxes: &Mailboxes, d: usize, which: usize) -> io::Result<()> {
    // SAFETY: a semaphore connect initialised in memory mapped for the channel's life.
    check(unsafe { libc::sem_post(sem(boxes, d, which)) })
}

impl Handoff for Semaphores {
    fn wait_empty(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        wait(boxes, d, EMPTY)
    }
    fn post_full(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        post(boxes, d, FULL)
    }
    fn wait_full(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        wait(boxes, d, FULL)
    }
    fn post_empty(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        post(boxes, d, EMPTY)
    }
}

impl Mechanism for ShmSem {
    fn name(&self) -> &'static str {
        "shm-sem"
    }

    fn summary(&self) -> &'static str {
        "shared mailboxes + process-shared POSIX semaphores; sem_wait/sem_post"
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let (boxes, handoff) = (with_semaphores(size)?, Semaphores);
        Ok(mailbox::fan_in(boxes, handoff, writers))
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        Ok(mailbox::channel(with_semaphores(size)?, Semaphores))
    }
}

/// Mailboxes with their semaphores initialised (full 0, empty 1).
fn with_semaphores(size: usize) -> io::Result<Mailboxes> {
    let boxes = Mailboxes::new(size)?;
    for d in 0..2 {
        for (which, value) in [(FULL, 0), (EMPTY, 1)] {
            // SAFETY: fresh shared memory; pshared = 1 for use across processes.
            check(unsafe { libc::sem_init(sem(&boxes, d, which), 1, value) })?;
        }
    }
    Ok(boxes)
}
