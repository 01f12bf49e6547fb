//! The header at the start of every region: what lives there and where.
//!
//! | offset | field | meaning |
//! |---|---|---|
//! | 0 | `magic` | [`MAGIC`], stored last with release ordering: a reader that sees it sees the rest |
//! | 4 | `version` | [`LAYOUT_VERSION`] |
//! | 8 | `kind` | what structure follows (a ring kind chosen by the caller) |
//! | 12 | `region_len` | bytes the creator mapped |
//! | 16 | `capacity` | bytes of the data area, a power of two |
//! | 20 | `control_offset` | offset of the structure's control block (its indices) |
//! | 24 | `data_offset` | offset of the data area |
//!
//! All fields are 32-bit atomics, so the header works on every target with 32-bit atomics and
//! is never read with a plain (racy) load. Offsets are from the start of the region, so the two
//! processes may map it at different addresses.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::role::Role;
use crate::{LayoutError, Region};

/// Marks an initialised ipc-core region ("IPCR" in memory).
pub const MAGIC: u32 = u32::from_le_bytes(*b"IPCR");
/// The layout version this crate writes and accepts. Version 3 added the role claims to every
/// control block; version 4 the eventfd wake-up modes of a ring (a version-3 reader would take
/// them for a plain futex ring and wake nobody); version 5 the producers that clear the next
/// record's tag before they publish and broadcast's 64-bit positions (a version-4 producer
/// leaves old bytes there, which a consumer can take for a record); version 6 the record of
/// each role's holder beside its claim word, which the default wait reads to tell a dead peer.
/// A region of another version is refused, never read with the wrong layout or protocol.
pub const LAYOUT_VERSION: u32 = 6;
/// Alignment of the control block and data area: two cache lines, so that the adjacent-line
/// prefetcher of x86-64 does not couple them.
pub const BLOCK_ALIGN: usize = 128;

/// The header, as it lies at offset 0 of a region.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    magic: AtomicU32,
    version: AtomicU32,
    kind: AtomicU32,
    region_len: AtomicU32,
    capacity: AtomicU32,
    control_offset: AtomicU32,
    data_offset: AtomicU32,
}

/// What a structure asks [`init`] to lay out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutRequest {
    /// The structure's kind, checked by [`attach`].
    pub kind: u32,
    /// Bytes of its control block.
    pub control_len: usize,
    /// Bytes of its data area: a non-zero power of two.
    pub capacity: usize,
}

/// Where things are in a validated region. Every range here lies inside the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The structure's kind.
    pub kind: u32,
    /// Bytes of the data area (a power of two).
    pub capacity: usize,
    /// Offset of the control block.
    pub control_offset: usize,
    /// Offset of the data area; `data_offset + capacity <= region.len()`.
    pub data_offset: usize,
}

/// Bytes a region needs for `request`'s layout.
pub fn required_len(control_len: usize, capacity: usize) -> usize {
    data_offset_for(control_len) + capacity
}

fn data_offset_for(control_len: usize) -> usize {
    BLOCK_ALIGN + control_len.next_multiple_of(BLOCK_ALIGN)
}

/// Writes a header describing `request` at the start of `region`.
///
/// The caller must be the only process using the region while it initialises it (it has just
/// created it). The control block and data area are not touched: the structure initialises its
/// own control block before publishing the region to its peer.
///
/// # Errors
/// [`LayoutError::RegionTooSmall`], [`LayoutError::Misaligned`] or
/// [`LayoutError::CapacityNotPowerOfTwo`].
pub fn init(region: Region<'_>, request: LayoutRequest) -> Result<Geometry, LayoutError> {
    if !request.capacity.is_power_of_two() {
        return Err(LayoutError::CapacityNotPowerOfTwo {
            capacity: request.capacity as u64,
        });
    }
    if request.capacity > u32::MAX as usize / 2 {
        return Err(LayoutError::CapacityOutOfRange {
            capacity: request.capacity as u64,
            min: 1,
            max: u64::from(u32::MAX / 2 + 1),
        });
    }
    let needed = required_len(request.control_len, request.capacity);
    if region.len() < needed {
        return Err(LayoutError::RegionTooSmall {
            len: region.len(),
            needed,
        });
    }
    let header = header_of(region)?;
    let region_len = u32::try_from(region.len()).unwrap_or(u32::MAX);
    let geometry = Geometry {
        kind: request.kind,
        capacity: request.capacity,
        control_offset: BLOCK_ALIGN,
        data_offset: data_offset_for(request.control_len),
    };
    // Hide any earlier header while the fields change, then publish with the magic last.
    header.magic.store(0, Ordering::Relaxed);
    header.version.store(LAYOUT_VERSION, Ordering::Relaxed);
    header.kind.store(request.kind, Ordering::Relaxed);
    header.region_len.store(region_len, Ordering::Relaxed);
    header
        .capacity
        .store(geometry.capacity as u32, Ordering::Relaxed);
    header
        .control_offset
        .store(geometry.control_offset as u32, Ordering::Relaxed);
    header
        .data_offset
        .store(geometry.data_offset as u32, Ordering::Relaxed);
    header.magic.store(MAGIC, Ordering::Release);
    Ok(geometry)
}

/// Validates the header at the start of `region` and returns where things are.
///
/// Every field is checked against `region` as this process mapped it: a header written by a
/// buggy or hostile peer gives an error, never a geometry that reaches outside the region.
///
/// # Errors
/// A [`LayoutError`] naming the first field that is wrong for this region as this process
/// mapped it: the magic, the version (another ipc-core wrote it), the kind, the capacity, or an
/// offset or length outside the region.
pub fn attach(region: Region<'_>, kind: u32, control_len: usize) -> Result<Geometry, LayoutError> {
    let header = header_of(region)?;
    let magic = header.magic.load(Ordering::Acquire);
    if magic != MAGIC {
        return Err(LayoutError::BadMagic {
            found: u64::from(magic),
        });
    }
    let version = header.version.load(Ordering::Relaxed);
    if version != LAYOUT_VERSION {
        return Err(LayoutError::UnsupportedVersion { found: version });
    }
    let found_kind = header.kind.load(Ordering::Relaxed);
    if found_kind != kind {
        return Err(LayoutError::WrongKind {
            expected: kind,
            found: found_kind,
        });
    }
    let capacity = header.capacity.load(Ordering::Relaxed) as usize;
    if !capacity.is_power_of_two() {
        return Err(LayoutError::CapacityNotPowerOfTwo {
            capacity: capacity as u64,
        });
    }
    let field = |name: &'static str, value: u32| LayoutError::OutOfRange {
        field: name,
        value: u64::from(value),
    };
    let region_len = header.region_len.load(Ordering::Relaxed);
    if region_len as usize > region.len() {
        // The creator mapped more than this view holds: a view cut short.
        return Err(LayoutError::RegionTooSmall {
            len: region.len(),
            needed: region_len as usize,
        });
    }
    let control_offset = header.control_offset.load(Ordering::Relaxed);
    if control_offset as usize != BLOCK_ALIGN {
        return Err(field("control_offset", control_offset));
    }
    let data_offset = header.data_offset.load(Ordering::Relaxed);
    let data_end = (data_offset as usize).checked_add(capacity);
    if (data_offset as usize) < data_offset_for(control_len)
        || !(data_offset as usize).is_multiple_of(BLOCK_ALIGN)
        || data_end.is_none_or(|end| end > region.len())
    {
        return Err(field("data_offset", data_offset));
    }
    Ok(Geometry {
        kind,
        capacity,
        control_offset: control_offset as usize,
        data_offset: data_offset as usize,
    })
}

/// Refuses to lay a structure of `kind` out over one in use, before anything is written: over
/// another kind of this layout version ([`LayoutError::WrongKind`]: its roles cannot be read
/// from here, so it may be in use; zero the region to lay it out anew), or over its own kind
/// while `held()` names a role held there ([`LayoutError::InUse`]). `init` over a live ring
/// would reset its indices and claims under the processes using it.
pub(crate) fn refuse_in_use(
    region: Region<'_>,
    kind: u32,
    held: impl FnOnce() -> Option<Role>,
) -> Result<(), LayoutError> {
    let Ok(header) = header_of(region) else {
        return Ok(()); // Too small or misaligned: init refuses it for that.
    };
    let laid_out = header.magic.load(Ordering::Acquire) == MAGIC
        && header.version.load(Ordering::Relaxed) == LAYOUT_VERSION;
    match header.kind.load(Ordering::Relaxed) {
        _ if !laid_out => Ok(()),
        found if found != kind => Err(LayoutError::WrongKind {
            expected: kind,
            found,
        }),
        _ => held().map_or(Ok(()), |role| Err(LayoutError::InUse { role })),
    }
}

/// Refuses a capacity that is not a power of two from `min` to `max`.
pub(crate) fn check_capacity(capacity: usize, min: usize, max: usize) -> Result<(), LayoutError> {
    if !capacity.is_power_of_two() {
        return Err(LayoutError::CapacityNotPowerOfTwo {
            capacity: capacity as u64,
        });
    }
    if !(min..=max).contains(&capacity) {
        return Err(LayoutError::CapacityOutOfRange {
            capacity: capacity as u64,
            min: min as u64,
            max: max as u64,
        });
    }
    Ok(())
}

/// Refuses a count of `what` outside 1 to `max`.
pub(crate) fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), LayoutError> {
    if count == 0 || count > max {
        return Err(LayoutError::CountOutOfRange {
            what,
            count: count as u64,
            max: max as u64,
        });
    }
    Ok(())
}

fn header_of(region: Region<'_>) -> Result<&Header, LayoutError> {
    let align = core::mem::align_of::<Header>();
    if region.len() < core::mem::size_of::<Header>() {
        return Err(LayoutError::TooSmallForHeader {
            len: region.len(),
            header: core::mem::size_of::<Header>(),
        });
    }
    if region.base().as_ptr().align_offset(align) != 0 {
        return Err(LayoutError::Misaligned { align });
    }
    // SAFETY: the region is mapped for its lifetime (Region's contract), large enough and
    // aligned for a Header (checked above), and Header is made of atomics, which any bit
    // pattern and any concurrent access by the peer leave valid.
    Ok(unsafe { region.base().cast::<Header>().as_ref() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: u32 = 7;
    const REQUEST: LayoutRequest = LayoutRequest {
        kind: KIND,
        control_len: 64,
        capacity: 1024,
    };

    /// 2048 bytes of zeroed, 8-aligned memory.
    fn words() -> [u64; 256] {
        [0; 256]
    }

    fn write_u32(memory: &mut [u64], offset: usize, value: u32) {
        let bytes: &mut [u8] = bytemuck_bytes(memory);
        bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn bytemuck_bytes(memory: &mut [u64]) -> &mut [u8] {
        let len = core::mem::size_of_val(memory);
        // SAFETY: u64 memory viewed as bytes: same allocation, alignment 1 needed.
        unsafe { core::slice::from_raw_parts_mut(memory.as_mut_ptr().cast(), len) }
    }

    #[test]
    fn init_then_attach_agree() {
        let mut memory = words();
        let written = init(Region::from_slice(&mut memory), REQUEST).unwrap();
        let read = attach(Region::from_slice(&mut memory), KIND, 64).unwrap();
        assert_eq!(written, read);
        assert_eq!(read.control_offset, BLOCK_ALIGN);
        assert_eq!(read.data_offset, 2 * BLOCK_ALIGN);
        assert_eq!(read.capacity, 1024);
    }

    #[test]
    fn init_refuses_bad_requests() {
        let mut memory = words();
        let region = Region::from_slice(&mut memory);
        let odd = LayoutRequest {
            capacity: 1000,
            ..REQUEST
        };
        assert_eq!(
            init(region, odd),
            Err(LayoutError::CapacityNotPowerOfTwo { capacity: 1000 })
        );
        let big = LayoutRequest {
            capacity: 4096,
            ..REQUEST
        };
        assert!(matches!(
            init(region, big),
            Err(LayoutError::RegionTooSmall { len: 2048, .. })
        ));
    }

    #[test]
    fn attach_refuses_an_empty_region() {
        let mut memory = words();
        assert_eq!(
            attach(Region::from_slice(&mut memory), KIND, 64),
            Err(LayoutError::BadMagic { found: 0 })
        );
    }

    #[test]
    fn attach_names_each_corrupted_field() {
        let cases: [(usize, u32, LayoutError); 6] = [
            (4, 9, LayoutError::UnsupportedVersion { found: 9 }),
            (
                8,
                3,
                LayoutError::WrongKind {
                    expected: KIND,
                    found: 3,
                },
            ),
            (
                16,
                1000,
                LayoutError::CapacityNotPowerOfTwo { capacity: 1000 },
            ),
            (
                12,
                1 << 20,
                // A region_len past the view: the view is cut short.
                LayoutError::RegionTooSmall {
                    len: 2048,
                    needed: 1 << 20,
                },
            ),
            (
                20,
                8,
                LayoutError::OutOfRange {
                    field: "control_offset",
                    value: 8,
                },
            ),
            (
                24,
                1 << 30,
                LayoutError::OutOfRange {
                    field: "data_offset",
                    value: 1 << 30,
                },
            ),
        ];
        for (offset, value, expected) in cases {
            let mut memory = words();
            init(Region::from_slice(&mut memory), REQUEST).unwrap();
            write_u32(&mut memory, offset, value);
            assert_eq!(
                attach(Region::from_slice(&mut memory), KIND, 64),
                Err(expected)
            );
        }
    }

    #[test]
    fn a_region_of_the_previous_layout_is_refused_with_a_message_that_says_so() {
        extern crate std;
        let mut memory = words();
        init(Region::from_slice(&mut memory), REQUEST).unwrap();
        // Version 5's claims had no holder record beside them.
        write_u32(&mut memory, 4, 5);
        let refused = attach(Region::from_slice(&mut memory), KIND, 64).unwrap_err();
        assert_eq!(refused, LayoutError::UnsupportedVersion { found: 5 });
        let message = std::format!("{refused}");
        assert!(
            message.contains("version 5, written by an older ipc-core")
                && message.contains("reads version 6 only"),
            "{message}"
        );
    }

    #[test]
    fn attach_refuses_a_data_area_past_the_end() {
        let mut memory = words();
        init(Region::from_slice(&mut memory), REQUEST).unwrap();
        // Capacity grown to a power of two that no longer fits.
        write_u32(&mut memory, 16, 4096);
        assert_eq!(
            attach(Region::from_slice(&mut memory), KIND, 64),
            Err(LayoutError::OutOfRange {
                field: "data_offset",
                value: 256
            })
        );
    }

    #[test]
    fn attach_refuses_short_and_misaligned_regions() {
        let mut memory = words();
        let short = &mut memory[..2];
        assert!(matches!(
            attach(Region::from_slice(short), KIND, 64),
            Err(LayoutError::TooSmallForHeader {
                len: 16,
                header: 28
            })
        ));
        let base = core::ptr::NonNull::from(&mut memory).cast::<u8>();
        // SAFETY: one byte into memory this test owns, well inside its bounds.
        let skewed = unsafe { Region::from_raw(base.add(1), 1024) };
        assert_eq!(
            attach(skewed, KIND, 64),
            Err(LayoutError::Misaligned { align: 4 })
        );
    }

    #[test]
    fn attach_never_accepts_geometry_outside_arbitrary_bytes() {
        // A hostile peer may write anything: every outcome must be an error or a geometry
        // that stays inside the region.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let rounds = if cfg!(miri) { 40 } else { 20_000 };
        for round in 0..rounds {
            let mut memory = words();
            for word in memory.iter_mut().take(4) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *word = state;
            }
            if round % 2 == 0 {
                // Keep a valid magic and version half the time so later checks are reached.
                write_u32(&mut memory, 0, MAGIC);
                write_u32(&mut memory, 4, LAYOUT_VERSION);
                write_u32(&mut memory, 8, KIND);
            }
            if let Ok(g) = attach(Region::from_slice(&mut memory), KIND, 64) {
                assert!(g.capacity.is_power_of_two());
                assert!(g.data_offset + g.capacity <= 2048);
                assert!(g.data_offset >= g.control_offset + 64);
            }
        }
    }
}
