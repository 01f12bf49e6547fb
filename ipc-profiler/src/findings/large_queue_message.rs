//! `large-queue-message`: a message queue carrying large messages: each is copied into the
//! kernel and out again, which shared memory (or a memfd) would not do.

use super::{finding, MIN_MESSAGES};
use crate::result::{Channel, Finding};
use crate::units::{bytes, count};

/// The median message size from which a queue's copies are worth avoiding (two pages).
pub const LARGE_MESSAGE: u64 = 8_192;

/// A finding when a POSIX or System V queue's median message is at least [`LARGE_MESSAGE`]
/// over at least [`MIN_MESSAGES`] messages.
pub fn find(channel: &Channel) -> Option<Finding> {
    if !matches!(channel.kind.as_str(), "posix-mq" | "sysv-mq") {
        return None;
    }
    let d = channel.directions.iter().find(|d| {
        d.sends >= MIN_MESSAGES && d.size_p50_at_most.is_some_and(|p50| p50 >= LARGE_MESSAGE)
    })?;
    let evidence = format!(
        "{} messages of median ≤ {} (largest {}): {} copied into the kernel and out again",
        count(d.sends as f64),
        bytes(d.size_p50_at_most.unwrap_or(0) as f64),
        bytes(d.size_max.unwrap_or(0) as f64),
        bytes(d.bytes_sent as f64),
    );
    Some(finding(
        "large-queue-message",
        channel,
        evidence,
        "put large payloads in shared memory and queue only small descriptors of them",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::sample::channel;

    #[test]
    fn a_queue_of_large_messages_is_found() {
        let found = find(&channel("posix-mq", "posix-mq /q", 500, 65_536)).unwrap();
        assert_eq!(found.kind, "large-queue-message");
        assert!(found.evidence.contains("median ≤ 64.0 KiB"), "{found:?}");
        assert!(find(&channel("sysv-mq", "sysv-mq 3", 500, LARGE_MESSAGE)).is_some());
    }

    #[test]
    fn small_messages_few_messages_or_a_socket_are_no_finding() {
        assert_eq!(
            find(&channel("posix-mq", "q", 500, LARGE_MESSAGE - 1)),
            None
        );
        assert_eq!(
            find(&channel("posix-mq", "q", MIN_MESSAGES - 1, 65_536)),
            None
        );
        assert_eq!(find(&channel("unix-dgram", "u", 500, 65_536)), None);
    }
}
