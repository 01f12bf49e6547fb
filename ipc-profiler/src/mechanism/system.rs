//! What the kernel offers and allows: the checks several mechanisms make before they run.

use std::io;
use std::os::fd::OwnedFd;

use super::endpoints::fd::{FdReader, FdWriter};
use super::{Endpoint, FanInChannel};

/// The largest write a pipe or FIFO keeps whole when several writers share it.
pub const PIPE_BUF: usize = 4096;

/// `Ok` when `path` exists (a kernel feature's /proc entry), else `Err(missing)`.
pub fn kernel_has(path: &str, missing: &str) -> Result<(), String> {
    if std::path::Path::new(path).exists() {
        Ok(())
    } else {
        Err(missing.to_string())
    }
}

/// `Ok` when this kernel makes memfds that can be sealed (Linux 3.17+, unless a seccomp filter
/// refuses `memfd_create`), else the kernel's reason.
pub fn sealable_memfds() -> Result<(), String> {
    rustix::fs::memfd_create(
        "ipc-profiler-probe",
        rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
    )
    .map(drop)
    .map_err(|e| format!("the kernel refused a sealable memfd ({e})"))
}

/// A number from a /proc/sys file, if it can be read.
pub fn sysctl(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Why `size`-byte writes from several writers sharing a pipe or FIFO would interleave.
pub fn pipe_fan_in_limit(size: usize) -> Option<String> {
    (size > PIPE_BUF)
        .then(|| format!("writes over PIPE_BUF ({PIPE_BUF} bytes) from several writers interleave"))
}

/// A fan-in over one pipe or FIFO: every writer gets its own copy of the write end.
pub fn shared_pipe_fan_in(
    read: OwnedFd,
    write: OwnedFd,
    writers: usize,
) -> io::Result<FanInChannel> {
    let ends = (0..writers)
        .map(|_| Ok(Box::new(FdWriter(write.try_clone()?)) as Box<dyn Endpoint>))
        .collect::<io::Result<Vec<_>>>()?;
    Ok(FanInChannel::new(ends, Box::new(FdReader(read))))
}
