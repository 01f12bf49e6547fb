//! Whole-message reads and writes on file descriptors, shared by the fd-based mechanisms.

use std::io;
use std::os::fd::AsFd;

/// Writes all of `message`, looping over partial writes and retrying on EINTR.
pub fn write_all(fd: impl AsFd, mut message: &[u8]) -> io::Result<()> {
    while !message.is_empty() {
        match rustix::io::write(&fd, message) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "peer stopped reading",
                ))
            }
            Ok(n) => message = &message[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Fills all of `buffer`, looping over partial reads and retrying on EINTR; end of file before
/// the buffer is full is an error (the peer went away mid-message).
pub fn read_exact(fd: impl AsFd, mut buffer: &mut [u8]) -> io::Result<()> {
    while !buffer.is_empty() {
        match rustix::io::read(&fd, &mut *buffer) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the channel mid-run",
                ))
            }
            Ok(n) => buffer = &mut buffer[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
