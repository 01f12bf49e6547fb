//! Errors of the SPSC ring.

use core::fmt;

use crate::wait::WaitError;

/// Shared state that a well-behaved peer could not have written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The producer's published position is more than a capacity ahead of the consumer's.
    HeadIndex {
        /// The head position read.
        head: u32,
        /// The consumer's position.
        tail: u32,
    },
    /// The consumer's published position is ahead of the producer's or too far behind it.
    TailIndex {
        /// The tail position read.
        tail: u32,
        /// The producer's position.
        head: u32,
    },
    /// The producer published a head past the consumer, but wrote no record at the consumer's
    /// position.
    Unpublished {
        /// The head position read.
        head: u32,
        /// The consumer's position.
        tail: u32,
    },
    /// A record seen whole a moment ago is gone: the peer rewrote published data.
    Vanished {
        /// Where it was.
        position: u32,
    },
    /// A record's length is larger than the ring allows or runs past the data area.
    RecordLength {
        /// Where the record starts.
        position: u32,
        /// The length read.
        len: u32,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::HeadIndex { head, tail } => {
                write!(
                    f,
                    "corrupted ring: head {head} is out of range for tail {tail}"
                )
            }
            Self::TailIndex { tail, head } => {
                write!(
                    f,
                    "corrupted ring: tail {tail} is out of range for head {head}"
                )
            }
            Self::Unpublished { head, tail } => {
                write!(
                    f,
                    "corrupted ring: head {head} was published but no record is at {tail}"
                )
            }
            Self::Vanished { position } => {
                write!(
                    f,
                    "corrupted ring: the record at {position} vanished while being read"
                )
            }
            Self::RecordLength { position, len } => {
                write!(f, "corrupted ring: record at {position} claims {len} bytes")
            }
        }
    }
}

/// Why [`Producer::reserve`](super::Producer::reserve) gave no grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveError {
    /// Not enough free space now.
    Full,
    /// The message can never fit: longer than [`Spsc::max_message_len`](super::Spsc::max_message_len).
    TooLarge {
        /// Bytes asked for.
        len: usize,
        /// The most the ring takes.
        max: usize,
    },
    /// The consumer's index is corrupted.
    Corrupt(Corruption),
    /// A blocking reserve gave up.
    Wait(WaitError),
}

/// Why [`Consumer::read`](super::Consumer::read) gave no grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The producer's index or a record is corrupted.
    Corrupt(Corruption),
    /// A blocking read gave up.
    Wait(WaitError),
    /// The next message is longer than the buffer it was to be copied into: it stays in the
    /// ring, whole (read it with a buffer of `len` bytes, or in place).
    BufferTooSmall {
        /// The message's length.
        len: usize,
        /// The buffer's length.
        buffer: usize,
    },
}

impl fmt::Display for ReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("the ring is full"),
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "a {len}-byte message is larger than the ring's maximum of {max}"
                )
            }
            Self::Corrupt(c) => c.fmt(f),
            Self::Wait(w) => w.fmt(f),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(c) => c.fmt(f),
            Self::Wait(w) => w.fmt(f),
            Self::BufferTooSmall { len, buffer } => write!(
                f,
                "the next message is {len} bytes and the buffer {buffer}: the message stays in \
                 the ring"
            ),
        }
    }
}

impl core::error::Error for Corruption {}
impl core::error::Error for ReserveError {}
impl core::error::Error for ReadError {}
