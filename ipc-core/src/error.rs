//! Typed errors for regions whose layout is wrong.

use core::fmt;

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
        let what = match self.0 {
            crate::spsc::KIND => "an SPSC ring",
            crate::fan_in::KIND => "a fan-in region",
            crate::broadcast::KIND => "a broadcast region",
            other => return write!(f, "an unknown structure kind ({other:#010x})"),
        };
        let letters = self.0.to_le_bytes();
        let letters = core::str::from_utf8(&letters).unwrap_or("?");
        write!(f, "{what} ({letters})")
    }
}
