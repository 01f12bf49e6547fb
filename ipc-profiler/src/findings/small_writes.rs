//! `small-writes`: a message written in several small pieces on a byte stream: each piece is a
//! syscall (and on TCP, with Nagle's algorithm on, a small write waiting behind an unacknowledged
//! one waits for the peer's delayed ACK, up to 40 ms).

use super::{finding, MIN_MESSAGES};
use crate::result::{Channel, Finding};
use crate::units::{bytes, count};

/// Writes per read at which a direction is written in pieces (each read returning what
/// several writes put there).
pub const WRITES_PER_READ: f64 = 2.0;
/// The largest median write counted as a piece.
pub const SMALL_WRITE: u64 = 512;

/// A finding when a direction of a byte stream (TCP, a Unix stream socket, a pipe, a FIFO) has
/// at least [`MIN_MESSAGES`] reads, [`WRITES_PER_READ`] writes per read, and a median write of
/// at most [`SMALL_WRITE`] bytes.
pub fn find(channel: &Channel) -> Option<Finding> {
    if !matches!(
        channel.kind.as_str(),
        "tcp" | "unix-stream" | "pipe" | "fifo"
    ) {
        return None;
    }
    let d = channel.directions.iter().find(|d| {
        d.receives >= MIN_MESSAGES
            && d.sends as f64 >= WRITES_PER_READ * d.receives as f64
            && d.size_p50_at_most.is_some_and(|p50| p50 <= SMALL_WRITE)
    })?;
    let evidence = format!(
        "{} writes (median ≤ {}) read by {} reads: {:.1} writes per read, {} -> {}",
        count(d.sends as f64),
        bytes(d.size_p50_at_most.unwrap_or(0) as f64),
        count(d.receives as f64),
        d.sends as f64 / d.receives as f64,
        d.from.join(", "),
        d.to.join(", "),
    );
    let advice = if channel.kind == "tcp" {
        "build each message in one buffer and write it once (writev for pieces), and set \
         TCP_NODELAY for request-response traffic"
    } else {
        "build each message in one buffer and write it once (writev for pieces)"
    };
    Some(finding("small-writes", channel, evidence, advice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::sample::channel;

    fn pieces(kind: &str, writes: u64, reads: u64, size: u64) -> Channel {
        let mut c = channel(kind, "c", writes, size);
        c.directions[0].receives = reads;
        c
    }

    #[test]
    fn three_small_writes_per_read_are_found() {
        let found = find(&pieces("tcp", 3_000, 1_000, 64)).unwrap();
        assert_eq!(found.kind, "small-writes");
        assert!(found.evidence.contains("3.0 writes per read"), "{found:?}");
        assert!(found.advice.contains("TCP_NODELAY"));
    }

    #[test]
    fn one_write_per_read_large_writes_or_few_reads_are_no_finding() {
        assert_eq!(find(&pieces("tcp", 1_000, 1_000, 64)), None);
        assert_eq!(find(&pieces("pipe", 3_000, 1_000, 4_096)), None);
        assert_eq!(find(&pieces("pipe", 300, MIN_MESSAGES - 1, 64)), None);
        assert_eq!(
            find(&pieces("posix-mq", 3_000, 1_000, 64)),
            None,
            "messages keep bounds"
        );
    }
}
