//! A mapping, unmapped on drop: a memory object shared writable or read-only (what the memfd
//! mechanisms read and write their payloads through), or private anonymous pages (the
//! page-aligned buffers `vmsplice` hands to a pipe).

use std::io;
use std::os::fd::AsFd;
use std::ptr::NonNull;

use rustix::mm::{MapFlags, ProtFlags};

/// `len` bytes mapped at `base`.
pub struct Mapped {
    base: NonNull<u8>,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is owned by this value alone; its bytes are reached only through `&self`
// (read) and `&mut self` (write).
unsafe impl Send for Mapped {}

impl Mapped {
    /// The first `len` bytes (at least one) of `fd`, readable and writable.
    pub fn writable(fd: impl AsFd, len: usize) -> io::Result<Self> {
        Self::map(fd, len, true)
    }

    /// The first `len` bytes (at least one) of `fd`, readable only: the way to map an object
    /// sealed against writes (`F_SEAL_WRITE` refuses a shared writable mapping).
    pub fn read_only(fd: impl AsFd, len: usize) -> io::Result<Self> {
        Self::map(fd, len, false)
    }

    /// `len` bytes (at least one) of fresh private memory, page-aligned, readable and writable.
    pub fn anonymous(len: usize) -> io::Result<Self> {
        // SAFETY: a new mapping at an address the kernel picks: it aliases no Rust object.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }?;
        Self::owning(base, len, true)
    }

    fn owning(base: *mut std::ffi::c_void, len: usize, writable: bool) -> io::Result<Self> {
        Ok(Self {
            base: NonNull::new(base.cast()).ok_or_else(|| io::Error::other("mmap gave null"))?,
            len,
            writable,
        })
    }

    fn map(fd: impl AsFd, len: usize, writable: bool) -> io::Result<Self> {
        let protection = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a new mapping at an address the kernel picks: it aliases no Rust object.
        let base = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                protection,
                MapFlags::SHARED,
                fd,
                0,
            )
        }?;
        Self::owning(base, len, writable)
    }

    /// The mapped bytes. A shared object's size was fixed by its seals before it was mapped
    /// (its sender's or this side's), so no access here can fault past its end.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` mapped, readable bytes that live as long as `self`; no `&mut` to them
        // exists while this borrow lives (writes need `&mut self`). A peer sharing the object
        // writes only the parts the mechanism's protocol gives it.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// The mapped bytes, to write; an error for a read-only mapping.
    pub fn bytes_mut(&mut self) -> io::Result<&mut [u8]> {
        if !self.writable {
            return Err(io::Error::other("a read-only mapping is not written"));
        }
        // SAFETY: as for `bytes`, and the mapping is writable and borrowed uniquely.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) })
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped once; no borrow of it outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}
