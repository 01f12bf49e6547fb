//! `tcp-loopback`: TCP or UDP between two processes of one machine (the comparison's Mistake 1):
//! every message crosses the whole network stack for nothing a Unix socket would not do.

use std::net::IpAddr;

use super::{finding, messages, MIN_MESSAGES};
use crate::result::{Channel, Finding};
use crate::units::{count, duration_ns, or_na};

/// A finding when `channel` is TCP or UDP over loopback addresses with at least
/// [`MIN_MESSAGES`] messages.
pub fn find(channel: &Channel) -> Option<Finding> {
    if !matches!(channel.kind.as_str(), "tcp" | "udp") || messages(channel) < MIN_MESSAGES {
        return None;
    }
    let loopback =
        !channel.addresses.is_empty() && channel.addresses.iter().all(|a| is_loopback(a));
    if !loopback {
        return None;
    }
    let round_trip = channel
        .directions
        .iter()
        .filter_map(|d| d.round_trip_p50_ns_at_most)
        .max();
    // The addresses are in the channel's name, beside the evidence.
    let evidence = format!(
        "{} messages over {} between loopback addresses; round trip p50 ≤ {}",
        count(messages(channel) as f64),
        channel.kind.to_uppercase(),
        or_na(round_trip.map(|ns| ns as f64), duration_ns),
    );
    Some(finding(
        "tcp-loopback",
        channel,
        evidence,
        "use a Unix domain socket between local processes (same API, no network stack)",
    ))
}

/// True when `address` (`127.0.0.1:6379`, `[::1]:53`) is a loopback address.
fn is_loopback(address: &str) -> bool {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::sample::channel;

    fn tcp(addresses: &[&str], sends: u64) -> Channel {
        let mut c = channel("tcp", "tcp x", sends, 64);
        c.addresses = addresses.iter().map(|a| a.to_string()).collect();
        c
    }

    #[test]
    fn tcp_between_loopback_addresses_is_found_with_its_messages() {
        let found = find(&tcp(&["127.0.0.1:41234", "127.0.0.1:6379"], 150)).unwrap();
        assert_eq!(found.kind, "tcp-loopback");
        assert!(
            found.evidence.starts_with("150 messages over TCP"),
            "{found:?}"
        );
        assert!(find(&tcp(&["[::1]:5000", "[::ffff:127.0.0.1]:80"], 150)).is_some());
    }

    #[test]
    fn a_remote_peer_or_a_handful_of_messages_is_no_finding() {
        assert_eq!(find(&tcp(&["10.0.0.2:41234", "10.0.0.9:6379"], 500)), None);
        assert_eq!(
            find(&tcp(&["127.0.0.1:1", "127.0.0.1:2"], MIN_MESSAGES - 1)),
            None
        );
        assert_eq!(find(&channel("unix-stream", "u", 500, 64)), None);
    }
}
