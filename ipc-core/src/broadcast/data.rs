//! The raw memory of a broadcast region's data area: record header words and payload bytes,
//! every access by address in one place. Header words are 4-byte atomics; payloads are copied
//! with 4-byte relaxed atomics in lossy mode (the producer may overwrite what a lapped
//! subscriber reads) and with plain copies under backpressure (nobody writes a record before
//! every subscriber has moved past it).

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32 as RegionU32, Ordering as RegionOrdering};

/// Word `index` (0: length, 1: tag, 2: sequence) of the record header at `offset`.
///
/// # Safety
/// `offset + 16 <= capacity`, 8-aligned, inside a mapped data area.
pub(super) unsafe fn header_word<'a>(
    data: NonNull<u8>,
    offset: u32,
    index: usize,
) -> &'a RegionU32 {
    // SAFETY: in bounds and aligned (caller); atomics tolerate concurrent peers.
    unsafe { data.add(offset as usize + 4 * index).cast().as_ref() }
}

/// Copies `message` into the data area at byte `at` as 4-byte relaxed atomic stores, the last
/// word padded with zeros.
///
/// # Safety
/// `at` is 4-aligned and `at + message.len()` rounded up to 4 lies inside the data area.
pub(super) unsafe fn store_words(data: NonNull<u8>, at: usize, message: &[u8]) {
    for (i, chunk) in message.chunks(4).enumerate() {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: inside the area and aligned (the caller's contract); an atomic tolerates a
        // subscriber reading the same word.
        let target = unsafe { data.add(at + 4 * i).cast::<RegionU32>().as_ref() };
        target.store(u32::from_ne_bytes(word), RegionOrdering::Relaxed);
    }
}

/// Copies data-area bytes from byte `at` into `buffer` with 4-byte relaxed atomic loads.
///
/// # Safety
/// `at` is 4-aligned and `at + buffer.len()` rounded up to 4 lies inside the data area.
pub(super) unsafe fn load_words(data: NonNull<u8>, at: usize, buffer: &mut [u8]) {
    for (i, chunk) in buffer.chunks_mut(4).enumerate() {
        // SAFETY: inside the area and aligned (the caller's contract); an atomic tolerates the
        // producer writing the same word.
        let source = unsafe { data.add(at + 4 * i).cast::<RegionU32>().as_ref() };
        let word = source.load(RegionOrdering::Relaxed).to_ne_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// Copies `message` into the data area at byte `at`.
///
/// # Safety
/// `at + message.len()` lies inside the data area, and no subscriber reads these bytes until
/// the record is published (backpressure).
pub(super) unsafe fn copy_in(data: NonNull<u8>, at: usize, message: &[u8]) {
    // SAFETY: in bounds and unread meanwhile (the caller's contract); `message` is this
    // process's memory, not the region, so the two do not overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(message.as_ptr(), data.as_ptr().add(at), message.len())
    }
}

/// Copies data-area bytes from byte `at` into `buffer`.
///
/// # Safety
/// `at + buffer.len()` lies inside the data area, and the producer does not write these bytes
/// meanwhile (backpressure: the record stays until every subscriber has moved past it).
pub(super) unsafe fn copy_out(data: NonNull<u8>, at: usize, buffer: &mut [u8]) {
    // SAFETY: in bounds and unwritten meanwhile (the caller's contract); `buffer` is this
    // process's memory, not the region.
    unsafe {
        core::ptr::copy_nonoverlapping(data.as_ptr().add(at), buffer.as_mut_ptr(), buffer.len())
    }
}
