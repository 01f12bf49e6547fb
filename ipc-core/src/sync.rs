//! Atomics used by the ring's control words: loom's under `--cfg loom`, core's otherwise.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, Ordering};
#[cfg(not(loom))]
pub(crate) use portable_atomic::AtomicU64;

/// Bytes between control words: two cache lines, as the adjacent-line prefetcher of x86-64
/// pairs them.
pub const WORD_SPACING: usize = 128;

/// A control word followed by padding up to [`WORD_SPACING`] bytes.
///
/// Padding rather than `align(128)`: a region only promises its base's alignment (a page under
/// mmap, 8 bytes for memory from a `Vec<u64>`), and the words stay 128 bytes apart either way.
#[repr(C)]
#[derive(Debug)]
pub struct PaddedWord {
    word: AtomicU32,
    _padding: [u8; WORD_SPACING - core::mem::size_of::<AtomicU32>()],
}

impl Default for PaddedWord {
    fn default() -> Self {
        Self {
            word: AtomicU32::new(0),
            _padding: [0; WORD_SPACING - core::mem::size_of::<AtomicU32>()],
        }
    }
}

impl core::ops::Deref for PaddedWord {
    type Target = AtomicU32;
    fn deref(&self) -> &AtomicU32 {
        &self.word
    }
}
