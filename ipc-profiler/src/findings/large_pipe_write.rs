//! `large-pipe-write`: writes larger than a pipe holds (the comparison's Mistake 3): the writer
//! blocks until the reader has drained all but the last part, so one message costs several
//! switches, and writes over `PIPE_BUF` are no longer atomic among several writers.

use super::finding;
use crate::result::{Channel, Finding};
use crate::units::{bytes, count, duration_ns};

/// A pipe's capacity unless the program changed it (`F_SETPIPE_SZ`): 16 pages.
pub const PIPE_CAPACITY: u64 = 65_536;

/// A finding when a direction of a pipe or FIFO wrote more than [`PIPE_CAPACITY`] in one
/// call and its calls were blocked: the write waited for the reader. One such write is the
/// mistake already: no minimum count.
pub fn find(channel: &Channel) -> Option<Finding> {
    if !matches!(channel.kind.as_str(), "pipe" | "fifo") {
        return None;
    }
    let d = channel
        .directions
        .iter()
        .find(|d| d.size_max.is_some_and(|max| max > PIPE_CAPACITY) && d.blocked_ns > 0)?;
    let evidence = format!(
        "{} writes, up to {} in one call, on a pipe that holds {}; {} blocked",
        count(d.sends as f64),
        bytes(d.size_max.unwrap_or(0) as f64),
        bytes(PIPE_CAPACITY as f64),
        duration_ns(d.blocked_ns as f64),
    );
    Some(finding(
        "large-pipe-write",
        channel,
        evidence,
        "send large payloads through shared memory (or a memfd passed once) and keep the pipe for \
         small notifications; or raise the pipe's size with F_SETPIPE_SZ",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::sample::channel;

    #[test]
    fn a_write_larger_than_the_pipe_that_blocked_is_found() {
        let mut c = channel("pipe", "pipe a(1) -> b(2)", 10, 1 << 20);
        c.directions[0].blocked_ns = 5_000_000;
        let found = find(&c).unwrap();
        assert_eq!(found.kind, "large-pipe-write");
        assert!(found.evidence.contains("up to 1.00 MiB"), "{found:?}");
    }

    #[test]
    fn writes_the_pipe_holds_or_that_never_waited_are_no_finding() {
        let mut small = channel("pipe", "p", 10, PIPE_CAPACITY);
        small.directions[0].blocked_ns = 5_000_000;
        assert_eq!(find(&small), None);
        assert_eq!(
            find(&channel("pipe", "p", 10, 1 << 20)),
            None,
            "never blocked"
        );
        let mut socket = channel("unix-stream", "u", 10, 1 << 20);
        socket.directions[0].blocked_ns = 1;
        assert_eq!(find(&socket), None);
    }
}
