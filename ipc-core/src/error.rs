//! The crate's typed errors: a region whose layout is wrong ([`LayoutError`]), shared state a
//! peer could not have written ([`Corruption`]), and why a write or a read gave nothing
//! ([`ReserveError`], [`ReadError`]), which the SPSC ring, fan-in and broadcast share.

use core::fmt;

use crate::wait::WaitError;

/// Why a region cannot be initialised or attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The region is smaller than the layout needs.
    RegionTooSmall {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The region does not start on the alignment the header needs.
    Misaligned {
        /// Required alignment in bytes.
        align: usize,
    },
    /// No header was written here (or it was overwritten): the magic number is wrong.
    BadMagic {
        /// The value found.
        found: u64,
    },
    /// The header was written by an incompatible layout version.
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// The region holds another kind of structure.
    WrongKind {
        /// The kind asked for.
        expected: u32,
        /// The kind found.
        found: u32,
    },
    /// A capacity must be a non-zero power of two.
    CapacityNotPowerOfTwo {
        /// The capacity found or asked for.
        capacity: u64,
    },
    /// A capacity (a power of two) outside what the structure allows.
    CapacityOutOfRange {
        /// The capacity found or asked for.
        capacity: u64,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A count (lanes, subscribers) outside what the structure allows.
    CountOutOfRange {
        /// What is counted ("lanes", "subscribers").
        what: &'static str,
        /// The count found or asked for.
        count: u64,
        /// The most allowed (the least is 1).
        max: u64,
    },
    /// The region is too small to hold even the header that says how large it must be.
    TooSmallForHeader {
        /// Bytes available.
        len: usize,
        /// Bytes of the header.
        header: usize,
    },
    /// A field holds a value this layout version does not define.
    UnknownValue {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A header field points outside the region.
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// `init` was asked to lay a structure out over one in use: `role` is held there (by a
    /// live side, or by one that died without releasing it).
    InUse {
        /// The first held role found.
        role: crate::role::Role,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::RegionTooSmall { len, needed } => {
                write!(
                    f,
                    "region of {len} bytes is too small: {needed} bytes needed"
                )
            }
            Self::Misaligned { align } => write!(f, "region is not aligned to {align} bytes"),
            Self::BadMagic { found } => write!(f, "no ipc-core header (magic {found:#018x})"),
            Self::UnsupportedVersion { found } => {
                let supported = crate::header::LAYOUT_VERSION;
                let written_by = if found < supported {
                    "an older"
                } else {
                    "a newer"
                };
                write!(
                    f,
                    "the region has ipc-core layout version {found}, written by {written_by} \
                     ipc-core; this one reads version {supported} only: lay the region out \
                     again with one version on both sides"
                )
            }
            Self::WrongKind { expected, found } => write!(
                f,
                "the region holds {}, not {}",
                KindName(found),
                KindName(expected)
            ),
            Self::CapacityNotPowerOfTwo { capacity } => {
                write!(f, "capacity {capacity} is not a non-zero power of two")
            }
            Self::CapacityOutOfRange { capacity, min, max } => write!(
                f,
                "capacity {capacity} is out of range: a power of two from {min} to {max} bytes"
            ),
            Self::CountOutOfRange { what, count, max } => {
                write!(f, "{count} {what} is out of range: 1 to {max}")
            }
            Self::TooSmallForHeader { len, header } => write!(
                f,
                "region of {len} bytes cannot hold even the {header}-byte header: map the whole \
                 region the structure was laid out in"
            ),
            Self::UnknownValue { field, value } => {
                write!(f, "field {field} holds an unknown value {value}")
            }
            Self::OutOfRange { field, value } => {
                write!(
                    f,
                    "header field {field} = {value} points outside the region"
                )
            }
            Self::InUse { role } => write!(
                f,
                "the region holds a structure in use ({role} is held): drop its sides before \
                 laying it out again, or use new memory (a side that died keeps its role: zero \
                 the region, or take the role over)"
            ),
        }
    }
}

impl core::error::Error for LayoutError {}

/// A structure kind as people name it: its four letters and what it is.
struct KindName(u32);

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A kind is four letters in memory (`spsc::KIND` is "SPSC").
        let letters = self.0.to_le_bytes();
        let what = match &letters {
            b"SPSC" => "an SPSC ring",
            b"FANI" => "a fan-in region",
            b"BCST" => "a broadcast region",
            _ => return write!(f, "an unknown structure kind ({:#010x})", self.0),
        };
        let letters = core::str::from_utf8(&letters).unwrap_or("?");
        write!(f, "{what} ({letters})")
    }
}

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

/// Why [`Producer::reserve`](crate::spsc::Producer::reserve) gave no grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveError {
    /// Not enough free space now.
    Full,
    /// The message can never fit: longer than [`Spsc::max_message_len`](crate::spsc::Spsc::max_message_len).
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

/// Why [`Consumer::read`](crate::spsc::Consumer::read) gave no grant.
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
