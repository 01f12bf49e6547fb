//! A shared mailbox per direction, for the mechanisms that differ only in how the writer and
//! the reader hand a mailbox over (`shm-mutex`, `shm-sem`, `sysv-sem`, `eventfd`).
//!
//! Mailbox `d` (0: to the server, 1: to the client) is `[sync area][len: u64][data]` in one
//! memfd mapped before the fork. The writer waits until the mailbox is empty, copies in, marks it
//! full; the reader waits until it is full, copies out, marks it empty.

use std::io;
use std::ptr::NonNull;
use std::rc::Rc;

use ipc_core::shm::SharedMemory;

use crate::mechanism::{Channel, Endpoint, FanInChannel};

/// Bytes before each mailbox's length word, for the hand-off's synchronisation objects.
pub const SYNC_AREA: usize = 256;
const TO_SERVER: usize = 0;
const TO_CLIENT: usize = 1;

/// How a mailbox passes between writer and reader. Objects that live in shared memory are
/// found in `boxes`' sync areas.
pub trait Handoff {
    /// Blocks until mailbox `d` may be written.
    fn wait_empty(&self, boxes: &Mailboxes, d: usize) -> io::Result<()>;
    /// Marks mailbox `d` written and wakes its reader.
    fn post_full(&self, boxes: &Mailboxes, d: usize) -> io::Result<()>;
    /// Blocks until mailbox `d` holds a message.
    fn wait_full(&self, boxes: &Mailboxes, d: usize) -> io::Result<()>;
    /// Marks mailbox `d` read and wakes its writer.
    fn post_empty(&self, boxes: &Mailboxes, d: usize) -> io::Result<()>;
}

/// The two mailboxes' memory.
pub struct Mailboxes {
    memory: SharedMemory,
    stride: usize,
    size: usize,
}

impl Mailboxes {
    /// Memory for two mailboxes of `size`-byte messages.
    pub fn new(size: usize) -> io::Result<Self> {
        let stride = (SYNC_AREA + 8 + size).next_multiple_of(4096);
        Ok(Self {
            memory: SharedMemory::memfd("mailboxes", 2 * stride)?,
            stride,
            size,
        })
    }

    /// The start of mailbox `d`'s sync area (page-aligned).
    pub fn sync_area(&self, d: usize) -> NonNull<u8> {
        // SAFETY: d < 2 and the mapping holds two strides.
        unsafe { self.memory.region().base().add(d * self.stride) }
    }

    fn len_word(&self, d: usize) -> *mut u64 {
        // SAFETY: inside mailbox d, 8-aligned.
        unsafe { self.sync_area(d).add(SYNC_AREA).cast::<u64>().as_ptr() }
    }

    fn data(&self, d: usize) -> *mut u8 {
        // SAFETY: inside mailbox d, followed by `size` bytes.
        unsafe { self.sync_area(d).add(SYNC_AREA + 8).as_ptr() }
    }
}

/// Makes the connected pair once `handoff` has set up its objects in `mailboxes`.
pub fn channel(mailboxes: Mailboxes, handoff: impl Handoff + 'static) -> Channel {
    let mailboxes = Rc::new(mailboxes);
    let handoff: Rc<dyn Handoff> = Rc::new(handoff);
    let end = |send, recv| SlotEnd {
        mailboxes: Rc::clone(&mailboxes),
        handoff: Rc::clone(&handoff),
        send,
        recv,
    };
    Channel::new(
        Box::new(end(TO_SERVER, TO_CLIENT)),
        Box::new(end(TO_CLIENT, TO_SERVER)),
    )
}

/// Every writer sends into the mailbox to the server, which the reader empties: the "empty"
/// hand-off admits one writer at a time.
pub fn fan_in(
    mailboxes: Mailboxes,
    handoff: impl Handoff + 'static,
    writers: usize,
) -> FanInChannel {
    let mailboxes = Rc::new(mailboxes);
    let handoff: Rc<dyn Handoff> = Rc::new(handoff);
    let end = || SlotEnd {
        mailboxes: Rc::clone(&mailboxes),
        handoff: Rc::clone(&handoff),
        send: TO_SERVER,
        recv: TO_SERVER,
    };
    let ends = (0..writers)
        .map(|_| Box::new(end()) as Box<dyn Endpoint>)
        .collect();
    FanInChannel::new(ends, Box::new(end()))
}

struct SlotEnd {
    mailboxes: Rc<Mailboxes>,
    handoff: Rc<dyn Handoff>,
    send: usize,
    recv: usize,
}

impl Endpoint for SlotEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let boxes = &self.mailboxes;
        if message.len() > boxes.size {
            return Err(io::Error::other("message larger than the mailbox"));
        }
        self.handoff.wait_empty(boxes, self.send)?;
        // SAFETY: the hand-off gives this side the mailbox until post_full; it has room for
        // `size` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(message.as_ptr(), boxes.data(self.send), message.len());
            boxes
                .len_word(self.send)
                .write_volatile(message.len() as u64);
        }
        self.handoff.post_full(boxes, self.send)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let boxes = &self.mailboxes;
        self.handoff.wait_full(boxes, self.recv)?;
        // SAFETY: the hand-off gives this side the mailbox until post_empty.
        let len = unsafe { boxes.len_word(self.recv).read_volatile() } as usize;
        super::check_len(len, buffer.len())?;
        // SAFETY: the hand-off gives this side the mailbox until post_empty; len equals
        // buffer.len() (checked above) and the writer kept it within the mailbox's size.
        unsafe { std::ptr::copy_nonoverlapping(boxes.data(self.recv), buffer.as_mut_ptr(), len) };
        self.handoff.post_empty(boxes, self.recv)
    }
}

/// Turns a C-style return code into a result (retrying is the caller's business).
pub fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
