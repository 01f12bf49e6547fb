//! `fifo`: a named pipe (mkfifo) in each direction, raised to hold a message as `pipe`'s are;
//! blocking read. The FIFOs are opened and their names removed at once, so no run leaves one
//! behind.

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::endpoints::fd::{read_exact, write_all};
use super::{Channel, Endpoint, FanInChannel, Mechanism};
use crate::config::BenchConfig;
use crate::result::Pattern;

/// Two FIFOs in a private temporary directory.
pub struct Fifo;

struct FifoEnd {
    read: OwnedFd,
    write: OwnedFd,
}

impl Mechanism for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn summary(&self) -> &'static str {
        "named pipe pair (mkfifo); blocking read"
    }

    fn connect_fan_in(&self, _size: usize, writers: usize) -> io::Result<FanInChannel> {
        let dir = private_dir()?;
        let opened = open_pair(&dir.path().join("fan-in"));
        drop(dir);
        let (read, write) = opened?;
        super::system::shared_pipe_fan_in(read, write, writers)
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        matches!(config.pattern, Pattern::FanIn | Pattern::RequestResponse)
            .then(|| super::system::pipe_fan_in_limit(config.message_size))
            .flatten()
    }

    fn setting(&self, size: usize) -> Option<String> {
        super::pipe_capacity::setting(size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let dir = private_dir()?;
        let opened = open_pair(&dir.path().join("to-server")).and_then(|to_server| {
            open_pair(&dir.path().join("to-client")).map(|to_client| (to_server, to_client))
        });
        // The names go whatever happened (dropping the directory removes it): open
        // descriptors keep the pipes alive.
        drop(dir);
        let ((server_read, client_write), (client_read, server_write)) = opened?;
        for write in [&server_write, &client_write] {
            super::pipe_capacity::fit(write, size)?;
        }
        Ok(Channel::new(
            Box::new(FifoEnd {
                read: client_read,
                write: client_write,
            }),
            Box::new(FifoEnd {
                read: server_read,
                write: server_write,
            }),
        ))
    }
}

/// A fresh directory only its owner can enter (0700), under a random name, created atomically:
/// nobody else can plant anything where the FIFOs go. Removed when dropped.
fn private_dir() -> io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("ipc-profiler-fifo-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

/// Makes a FIFO at `path` and opens (read end, write end) without blocking on each other.
fn open_pair(path: &Path) -> io::Result<(OwnedFd, OwnedFd)> {
    let name =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::mkfifo(name.as_ptr(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The read end opens at once with O_NONBLOCK; then the write end finds a reader.
    let read = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let write = rustix::fs::open(
        path,
        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::fs::fcntl_setfl(&read, OFlags::RDONLY)?;
    Ok((read, write))
}

impl Endpoint for FifoEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        write_all(&self.write, message)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        read_exact(&self.read, buffer)
    }
}
