//! How big a pipe the pipe mechanisms use: each pipe is raised with `F_SETPIPE_SZ` to hold a
//! whole message (the power of two at or above its size), at most
//! `/proc/sys/fs/pipe-max-size`; a larger message passes in pieces. The same for `pipe`,
//! `fifo` and `vmsplice`, so that what tells them apart is how the bytes move, not the pipe.

use std::io;
use std::os::fd::AsFd;

/// `/proc/sys/fs/pipe-max-size`: the most `F_SETPIPE_SZ` gives an unprivileged process.
fn max_size() -> usize {
    super::system::sysctl("/proc/sys/fs/pipe-max-size").unwrap_or(1 << 20)
}

/// The pipe size to ask for a `size`-byte message: the next power of two that holds it
/// (the kernel rounds up to one anyway), at most `max`.
fn wanted(size: usize, max: usize) -> usize {
    size.next_power_of_two().min(max)
}

/// Raises `pipe` to hold a `size`-byte message (at most `pipe-max-size`; never lowers it) and
/// returns its capacity, bytes.
pub fn fit(pipe: impl AsFd, size: usize) -> io::Result<usize> {
    let current = rustix::pipe::fcntl_getpipe_size(&pipe)?;
    match wanted(size, max_size()) {
        wanted if wanted > current => Ok(rustix::pipe::fcntl_setpipe_size(&pipe, wanted)?),
        _ => Ok(current),
    }
}

/// The pipes a run of `size`-byte messages uses, in words: "pipes of 1.00 MiB (F_SETPIPE_SZ;
/// pipe-max-size 1.00 MiB)".
pub fn setting(size: usize) -> Option<String> {
    let (_, write) = rustix::pipe::pipe().ok()?;
    let capacity = fit(&write, size).ok()?;
    Some(format!(
        "pipes of {} (F_SETPIPE_SZ; pipe-max-size {})",
        crate::units::bytes(capacity as f64),
        crate::units::bytes(max_size() as f64)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_raised_to_hold_a_message_up_to_the_system_s_most() {
        assert_eq!(wanted(100, 1 << 20), 128);
        assert_eq!(wanted(100_000, 1 << 20), 131_072);
        assert_eq!(wanted(5 << 20, 1 << 20), 1 << 20);
        let (_, write) = rustix::pipe::pipe().unwrap();
        let default = rustix::pipe::fcntl_getpipe_size(&write).unwrap();
        assert_eq!(fit(&write, 100).unwrap(), default, "never lowered");
        let wanted = wanted(4 * default, max_size()).max(default);
        assert_eq!(fit(&write, 4 * default).unwrap(), wanted);
    }
}
