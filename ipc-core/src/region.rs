//! A region: shared memory the caller mapped, seen as bytes at some address in this process.

use core::marker::PhantomData;
use core::ptr::NonNull;

/// Memory shared with a peer process, borrowed for `'a`.
///
/// A `Region` never owns or maps memory: the caller maps it (memfd, `shm_open`, a file) and keeps
/// it mapped for `'a`. The peer may write any byte at any time, so nothing read from a region is
/// trusted before it is checked.
#[derive(Clone, Copy, Debug)]
pub struct Region<'a> {
    base: NonNull<u8>,
    len: usize,
    _memory: PhantomData<&'a [u8]>,
}

impl<'a> Region<'a> {
    /// Wraps `len` bytes of shared memory at `base`.
    ///
    /// # Safety
    /// `base..base + len` must be mapped readable and writable for all of `'a`, and be accessed
    /// by other code (this process or a peer) only through ipc-core or through atomic or volatile
    /// accesses, as with any memory shared between processes.
    pub unsafe fn from_raw(base: NonNull<u8>, len: usize) -> Self {
        Self {
            base,
            len,
            _memory: PhantomData,
        }
    }

    /// A region over memory of this process, for tests and in-process use.
    pub fn from_slice(memory: &'a mut [u64]) -> Self {
        let len = core::mem::size_of_val(memory);
        // SAFETY: the exclusive borrow keeps the memory valid and untouched by others for 'a.
        unsafe { Self::from_raw(NonNull::from(memory).cast(), len) }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Address of the first byte.
    pub fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// The `T` at `offset` bytes into the region (a structure's control block), for as long as
    /// the region is mapped.
    ///
    /// # Safety
    /// `offset + size_of::<T>() <= self.len()`, `base + offset` is aligned for `T`, and `T` stays
    /// valid whatever bits a peer writes, whenever (atomics and padding only).
    pub(crate) unsafe fn block<T>(&self, offset: usize) -> &'a T {
        // SAFETY: in bounds, aligned and always valid (the caller's contract); the memory is
        // mapped for 'a (Region's contract).
        unsafe { self.base.add(offset).cast::<T>().as_ref() }
    }

    /// Writes the initial `value` of a block at `offset`, before the region is shared.
    ///
    /// # Safety
    /// As for [`Region::block`], and no other process or thread uses the region yet.
    pub(crate) unsafe fn init_block<T>(&self, offset: usize, value: T) {
        // SAFETY: in bounds and aligned (the caller's contract); nobody else reads or writes
        // the region yet, so a plain write races with nothing.
        unsafe { self.base.add(offset).cast::<T>().as_ptr().write(value) }
    }
}
