//! A ring's data area: record header words (length and tag) and payload bytes.
//!
//! Normally the header words are 4-byte atomics inside the area's own bytes, and payload bytes
//! are plain memory. Under `--cfg loom` the same protocol runs on a stand-in layout: loom's
//! atomics cannot live in a region's bytes, so each 8-byte slot of the area has a *shadow slot*
//! after the area, holding its length and tag as loom atomics and a loom cell that stands for
//! its payload bytes. The ring marks each payload write (at commit, before the tag is released)
//! and each payload read (when a read grant is made, after the tag is acquired) on the cells it
//! covers, so loom reports a data race if the release/acquire pairs of tags and indices fail to
//! order a write before the reads of it, or a read before the space is written again.

use core::ptr::NonNull;

use crate::sync::AtomicU32;
#[cfg(loom)]
use crate::Region;

/// Where a ring's data area is, and how to reach its header words.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Data {
    base: NonNull<u8>,
    #[cfg(loom)]
    shadow: NonNull<Slot>,
}

impl Data {
    /// The data area at `base`, of `capacity` bytes.
    ///
    /// # Safety
    /// `base..base + capacity` lies in a mapped region, and under loom `shadow_len(capacity)`
    /// more bytes after it hold initialised shadow slots.
    #[inline]
    pub(crate) unsafe fn new(base: NonNull<u8>, capacity: usize) -> Self {
        #[cfg(not(loom))]
        let _ = capacity;
        Self {
            base,
            // SAFETY: the shadow follows the area (the caller's contract).
            #[cfg(loom)]
            shadow: unsafe { base.add(capacity).cast() },
        }
    }

    /// The first byte of the area.
    #[inline]
    pub(crate) fn as_ptr(self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The length word of the record at `offset`.
    ///
    /// # Safety
    /// `offset + 8 <= capacity` and `offset` is 8-aligned.
    #[inline]
    pub(crate) unsafe fn length<'a>(self, offset: u32) -> &'a AtomicU32 {
        #[cfg(not(loom))]
        // SAFETY: in bounds and aligned (caller); atomics are valid for any bits and any
        // concurrent access by the peer.
        unsafe {
            self.base.add(offset as usize).cast().as_ref()
        }
        #[cfg(loom)]
        // SAFETY: slot offset / 8 exists (offset < capacity) and was initialised.
        unsafe {
            &self.shadow.add(offset as usize / 8).as_ref().length
        }
    }

    /// The tag word of the record at `offset`, right after its length.
    ///
    /// # Safety
    /// As for [`length`](Self::length).
    #[inline]
    pub(crate) unsafe fn tag<'a>(self, offset: u32) -> &'a AtomicU32 {
        #[cfg(not(loom))]
        // SAFETY: offset + 4 + 4 <= capacity and 4-aligned (caller); atomics tolerate the peer.
        unsafe {
            self.base.add(offset as usize + 4).cast().as_ref()
        }
        #[cfg(loom)]
        // SAFETY: as in length.
        unsafe {
            &self.shadow.add(offset as usize / 8).as_ref().tag
        }
    }

    /// Marks payload bytes `offset..offset + len` of the record at `position`, in a data area
    /// of `capacity` bytes, as written by this side (loom only).
    ///
    /// Under loom the payload also plays the adversary to the tags: each of its 8-byte slots
    /// takes the header words of a record the consumer could meet there one lap later (length
    /// 0, that position's tag), as a real payload's bytes may. Only the stand-in's words are
    /// written: the payload bytes themselves are the caller's.
    #[inline(always)]
    pub(crate) fn wrote(self, position: u32, offset: u32, len: u32, capacity: u32) {
        #[cfg(loom)]
        self.forge_headers(position.wrapping_add(capacity), offset, len);
        #[cfg(not(loom))]
        let _ = (position, offset, len, capacity);
    }

    /// [`wrote`](Self::wrote)'s work under loom, out of line: loom runs threads on small
    /// stacks, and the loop inlined into the ring's deep frames overflowed them.
    #[cfg(loom)]
    #[inline(never)]
    fn forge_headers(self, next_lap: u32, offset: u32, len: u32) {
        for (i, slot) in self.slots(offset, len).enumerate() {
            slot.bytes.with_mut(|_| ());
            let slot_position = next_lap.wrapping_add(super::RECORD_HEADER as u32 + 8 * i as u32);
            slot.length.store(0, crate::sync::Ordering::Relaxed);
            slot.tag.store(
                super::tag_for(slot_position),
                crate::sync::Ordering::Relaxed,
            );
        }
    }

    /// Marks payload bytes `offset..offset + len` as read by this side (loom only).
    #[inline(always)]
    pub(crate) fn read(self, offset: u32, len: u32) {
        #[cfg(loom)]
        for slot in self.slots(offset, len) {
            slot.bytes.with(|_| ());
        }
        #[cfg(not(loom))]
        let _ = (offset, len);
    }

    #[cfg(loom)]
    fn slots<'a>(self, offset: u32, len: u32) -> impl Iterator<Item = &'a Slot> {
        let (first, end) = (offset as usize / 8, (offset + len).div_ceil(8) as usize);
        // SAFETY: the payload lies inside the area (validated by the caller), so its slots
        // exist and were initialised.
        (first..end).map(move |i| unsafe { self.shadow.add(i).as_ref() })
    }
}

/// The stand-in for one 8-byte slot of the data area under loom.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct Slot {
    length: AtomicU32,
    tag: AtomicU32,
    bytes: loom::cell::UnsafeCell<u8>,
}

/// Bytes a region needs after a `capacity`-byte data area: none, or the shadow slots under
/// loom.
pub(crate) const fn shadow_len(capacity: usize) -> usize {
    #[cfg(loom)]
    return capacity / 8 * core::mem::size_of::<Slot>();
    #[cfg(not(loom))]
    {
        let _ = capacity;
        0
    }
}

/// Initialises the shadow slots after the data area at `data_offset` (loom only).
///
/// # Safety
/// The region holds `data_offset + capacity + shadow_len(capacity)` bytes, `data_offset +
/// capacity` is 8-aligned from an 8-aligned base, and nobody else uses the region yet.
#[cfg(loom)]
pub(crate) unsafe fn init_shadow(region: Region<'_>, data_offset: usize, capacity: usize) {
    for i in 0..capacity / 8 {
        let slot = Slot {
            length: AtomicU32::new(0),
            tag: AtomicU32::new(0),
            bytes: loom::cell::UnsafeCell::new(0),
        };
        let at = data_offset + capacity + i * core::mem::size_of::<Slot>();
        // SAFETY: inside the region and aligned (the caller's contract); not yet shared.
        unsafe { region.init_block(at, slot) };
    }
}
