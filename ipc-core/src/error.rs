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
            Self::WrongKind { expected, found } => {
                write!(
                    f,
                    "region holds structure kind {found}, expected {expected}"
                )
            }
            Self::CapacityNotPowerOfTwo { capacity } => {
                write!(f, "capacity {capacity} is not a non-zero power of two")
            }
            Self::UnknownValue { field, value } => {
                write!(f, "field {field} holds an unknown value {value}")
            }
            Self::OutOfRange { field, value } => {
                write!(
                    f,
                    "header field {field} = {value} points outside the region"
                )
            }
        }
    }
}

impl core::error::Error for LayoutError {}
