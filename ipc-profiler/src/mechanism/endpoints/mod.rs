//! Endpoints that several mechanisms share: whole-message reads and writes over file
//! descriptors (`fd`), a pair of ipc-core rings (`ring_pair`), shared mailboxes with a
//! pluggable hand-off (`mailbox`), the lazily started tokio runtime of the tokio mechanisms
//! (`runtime`), and for the memfd mechanisms, descriptors passed over a socket (`fd_passing`)
//! and shared mappings (`mapped`); a fan-in reader's epoll set (`ready_set`).

pub mod fd;
pub mod fd_passing;
pub mod mailbox;
pub mod mapped;
pub mod ready_set;
pub mod ring_pair;
pub mod runtime;

use std::io;

/// The error of an endpoint asked to go the one way it does not (`what`: "a fan-in reader does
/// not send").
pub fn wrong_way(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, what)
}

/// An error unless a receive on a channel that may lose messages lost none (`lost`): what a
/// plain `recv` on a broadcast subscriber asks.
pub fn none_lost(lost: u32) -> io::Result<()> {
    match lost {
        0 => Ok(()),
        lost => Err(io::Error::other(format!(
            "{lost} messages were lost before this one"
        ))),
    }
}

/// An error unless a received message of `len` bytes fills the `expected`-byte buffer: every
/// endpoint hands over whole messages of the run's size, never a shorter or longer one.
pub fn check_len(len: usize, expected: usize) -> io::Result<()> {
    if len == expected {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "a {len}-byte message arrived where {expected} bytes were expected"
    )))
}
