//! Pairs the ends the kernel side found (one process's descriptor onto one open file) into
//! channels: the ends of one pipe or FIFO by its inode, the two sockets of a Unix pair by
//! each one's peer. Files that are not IPC (regular files, terminals) are left out.

use std::collections::BTreeMap;

use ipc_ebpf::{direction, end_kind, EndInfo, EndStat, SIZE_BUCKETS};

use super::channel_group::{
    channel_end, name_of, process_label, processes, EndFigures, SlotProcess,
};
use super::channel_group::{Group, Naming, Side};

use crate::findings::UsedObject;
use crate::result::{Channel, ChannelDirection, ChannelEnd};

/// How pipe, FIFO and Unix ends are grouped into one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// A pipe, FIFO or POSIX queue: its kind and inode.
    Pipe(u32, u64),
    /// An eventfd: its open file (every eventfd shares one inode).
    File(u32, u64),
    /// A connected Unix socket pair: both inodes, lower first.
    UnixPair(u64, u64),
    /// A socket whose peer is unknown: its inode.
    Socket(u64),
}

/// The channels `ends` make, busiest first; `process_of` names each end's slot.
pub fn pair(ends: &[EndFigures], process_of: impl Fn(u32) -> Option<SlotProcess>) -> Vec<Channel> {
    let mut keyed: BTreeMap<Key, Vec<&EndFigures>> = BTreeMap::new();
    let mut inet: Vec<&EndFigures> = Vec::new();
    let mut shared: Vec<&EndFigures> = Vec::new();
    for end in ends {
        let info = &end.info;
        let key = match info.kind {
            end_kind::PIPE
            | end_kind::FIFO
            | end_kind::MQUEUE
            | end_kind::SYSV_MQ
            | end_kind::SYSV_SEM => Key::Pipe(info.kind, info.ino),
            end_kind::EVENTFD => Key::File(info.kind, info.file),
            end_kind::UNIX if info.peer_ino != 0 => {
                Key::UnixPair(info.ino.min(info.peer_ino), info.ino.max(info.peer_ino))
            }
            end_kind::UNIX | end_kind::OTHER_SOCKET => Key::Socket(info.ino),
            end_kind::INET => {
                inet.push(end);
                continue;
            }
            end_kind::SHARED_MEMORY => {
                shared.push(end);
                continue;
            }
            _ => continue,
        };
        keyed.entry(key).or_default().push(end);
    }
    let mut groups: Vec<Group> = keyed
        .into_iter()
        .map(|(key, members)| group(key, members))
        .collect();
    groups.extend(super::inet_channels::groups(&inet));
    let mut channels: Vec<Channel> = groups.iter().map(|g| channel(g, &process_of)).collect();
    channels.sort_by_key(|c| {
        std::cmp::Reverse(
            c.directions
                .iter()
                .map(|d| d.bytes_sent + d.bytes_received)
                .sum::<u64>(),
        )
    });
    channels.extend(super::shared_memory_channels::channels(
        &shared,
        &process_of,
    ));
    channels
}

/// The named objects (POSIX queues, System V queues, shared memory) `ends` used, each with its
/// process as `process_of` names it: what ties an object left behind to the program.
pub fn used_objects(
    ends: &[EndFigures],
    process_of: impl Fn(u32) -> Option<SlotProcess>,
) -> Vec<UsedObject> {
    ends.iter()
        .filter_map(|end| {
            let info = &end.info;
            let kind = match info.kind {
                end_kind::MQUEUE | end_kind::SYSV_MQ | end_kind::SYSV_SEM => kind_name(info),
                end_kind::SHARED_MEMORY => super::shared_memory_channels::kind_and_title(info).0,
                _ => return None,
            };
            let (pid, name) = process_of(info.slot)?;
            Some(UsedObject {
                kind: kind.to_string(),
                ident: info.ino,
                by: process_label(pid, &name),
            })
        })
        .collect()
}

/// The group of pipe, FIFO or Unix ends under `key`.
fn group(key: Key, members: Vec<&EndFigures>) -> Group<'_> {
    let kind = kind_name(&members[0].info).to_string();
    let side = |ino: u64| Side {
        inode: Some(ino),
        address: None,
        ends: members
            .iter()
            .copied()
            .filter(|e| e.info.ino == ino)
            .collect(),
    };
    let (inodes, sides, ways, naming) = match key {
        Key::Pipe(_, ino) => (
            vec![ino],
            vec![side(ino)],
            vec![(Some(0), Some(0))],
            Naming::OneWay,
        ),
        // Every eventfd has the same inode: it is shown, but the open file is the key.
        Key::File(..) => (
            vec![members[0].info.ino],
            vec![Side {
                inode: Some(members[0].info.ino),
                address: None,
                ends: members.clone(),
            }],
            vec![(Some(0), Some(0))],
            Naming::OneWay,
        ),
        Key::UnixPair(a, b) => (
            vec![a, b],
            vec![side(a), side(b)],
            vec![(Some(0), Some(1)), (Some(1), Some(0))],
            Naming::Processes,
        ),
        Key::Socket(ino) => (
            vec![ino],
            vec![side(ino)],
            vec![(Some(0), None), (None, Some(0))],
            Naming::Processes,
        ),
    };
    let title = (members[0].info.kind == end_kind::MQUEUE).then(|| name_of(&members[0].info));
    Group {
        kind,
        inodes,
        addresses: Vec::new(),
        members,
        sides,
        ways,
        naming,
        title,
    }
}

/// The model's channel of `group`.
fn channel(group: &Group, process_of: &impl Fn(u32) -> Option<SlotProcess>) -> Channel {
    let who = |end: &EndFigures| match process_of(end.info.slot) {
        Some((pid, name)) => (pid, name),
        None => (0, "?".to_string()),
    };
    let ends: Vec<ChannelEnd> = group.members.iter().map(|e| channel_end(e, &who)).collect();
    let none: Vec<&EndFigures> = Vec::new();
    let directions: Vec<ChannelDirection> = group
        .ways
        .iter()
        .map(|&(from, to)| {
            let side = |i: Option<usize>| i.map(|i| &group.sides[i]);
            let ends_of = |i: Option<usize>| side(i).map_or(&none, |s| &s.ends);
            ChannelDirection {
                from_inode: side(from).and_then(|s| s.inode),
                to_inode: side(to).and_then(|s| s.inode),
                from_address: side(from).and_then(|s| s.address.clone()),
                to_address: side(to).and_then(|s| s.address.clone()),
                ..direction_of(ends_of(from), ends_of(to), &who)
            }
        })
        .collect();
    let kind = match &group.title {
        Some(title) => format!("{} {title}", group.kind),
        None => group.kind.clone(),
    };
    let name = match group.naming {
        Naming::OneWay => {
            let d = &directions[0];
            if d.from.is_empty() && d.to.is_empty() {
                format!("{kind} {}", processes(&group.members, &who).join(", "))
            } else {
                format!("{kind} {} -> {}", or_none(&d.from), or_none(&d.to))
            }
        }
        Naming::Processes => {
            let named: Vec<String> = group
                .sides
                .iter()
                .map(|s| processes(&s.ends, &who).join(", "))
                .collect();
            match named.as_slice() {
                [one] => format!("{kind} {one} <-> (peer not traced)"),
                many => format!("{kind} {}", many.join(" <-> ")),
            }
        }
        Naming::Addresses => {
            let loopback = if super::inet_channels::all_loopback(&group.members) {
                " (loopback)"
            } else {
                ""
            };
            format!("{kind} {}{loopback}", group.addresses.join(" <-> "))
        }
    };
    Channel {
        kind: group.kind.clone(),
        name,
        inodes: group.inodes.clone(),
        addresses: group.addresses.clone(),
        ends,
        messages: Some(directions.iter().map(|d| d.sends).sum()),
        bytes: Some(directions.iter().map(|d| d.bytes_sent).sum()),
        directions,
        futex: None,
    }
}

/// `pipe`, `fifo`, `unix-stream`, `unix-dgram`, `unix-seqpacket` or `socket`.
pub(super) fn kind_name(info: &EndInfo) -> &'static str {
    match (info.kind, info.socket_type) {
        (end_kind::PIPE, _) => "pipe",
        (end_kind::FIFO, _) => "fifo",
        (end_kind::UNIX, 1) => "unix-stream",
        (end_kind::UNIX, 2) => "unix-dgram",
        (end_kind::UNIX, 5) => "unix-seqpacket",
        (end_kind::UNIX, _) => "unix",
        (end_kind::EVENTFD, _) => "eventfd",
        (end_kind::MQUEUE, _) => "posix-mq",
        (end_kind::SYSV_MQ, _) => "sysv-mq",
        (end_kind::SYSV_SEM, _) => "sysv-sem",
        _ => "socket",
    }
}

/// The list, or `(none)`.
fn or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// The messages sent by the ends of `senders` and received by those of `receivers`.
fn direction_of(
    senders: &[&EndFigures],
    receivers: &[&EndFigures],
    who: &impl Fn(&EndFigures) -> SlotProcess,
) -> ChannelDirection {
    let (out, inn) = (direction::OUT, direction::IN);
    let sending: Vec<&EndFigures> = senders
        .iter()
        .copied()
        .filter(|e| e.stat.calls[out] != 0)
        .collect();
    let receiving: Vec<&EndFigures> = receivers
        .iter()
        .copied()
        .filter(|e| e.stat.calls[inn] != 0)
        .collect();
    let sum = |ends: &[&EndFigures], f: &dyn Fn(&EndStat) -> u64| -> u64 {
        ends.iter().map(|e| f(&e.stat)).sum()
    };
    let buckets: [u64; SIZE_BUCKETS] = summed(&sending, |e| e.sizes.buckets[out]);
    let size_min = sending
        .iter()
        .map(|e| e.stat.min_size[out])
        .filter(|&m| m != 0)
        .min();
    let size_max = sending
        .iter()
        .map(|e| e.stat.max_size[out])
        .filter(|&m| m != 0)
        .max();
    let turns: [u64; ipc_ebpf::LATENCY_BUCKETS] = summed(senders, |e| e.turns);
    ChannelDirection {
        from_inode: None,
        to_inode: None,
        from_address: None,
        to_address: None,
        from: processes(&sending, who),
        to: processes(&receiving, who),
        sends: sum(&sending, &|s| s.calls[out]),
        bytes_sent: sum(&sending, &|s| s.bytes[out]),
        receives: sum(&receiving, &|s| s.calls[inn]),
        bytes_received: sum(&receiving, &|s| s.bytes[inn]),
        size_p50_at_most: median_at_most(&buckets, size_min, size_max),
        size_min,
        size_max,
        send_ns: sum(&sending, &|s| s.time_ns[out]),
        receive_ns: sum(&receiving, &|s| s.time_ns[inn]),
        blocked_ns: sum(&sending, &|s| s.blocked_ns[out]) + sum(&receiving, &|s| s.blocked_ns[inn]),
        empty_calls: sum(senders, &|s| s.empty_calls[out])
            + sum(receivers, &|s| s.empty_calls[inn]),
        round_trips: turns.iter().sum(),
        round_trip_p50_ns_at_most: quantile_at_most(&turns, 0.5),
        round_trip_p99_ns_at_most: quantile_at_most(&turns, 0.99),
        wakeups: sum(&sending, &|s| s.wakeups_caused[out])
            + sum(&receiving, &|s| s.wakeups_caused[inn]),
    }
}

/// The histograms `of` each end, added bucket by bucket.
fn summed<const N: usize>(ends: &[&EndFigures], of: impl Fn(&EndFigures) -> [u64; N]) -> [u64; N] {
    let mut total = [0u64; N];
    for end in ends {
        for (sum, n) in total.iter_mut().zip(of(end)) {
            *sum += n;
        }
    }
    total
}

/// The `q` quantile of a log2 histogram of ns, at most: its bucket's upper bound.
fn quantile_at_most(buckets: &[u64], q: f64) -> Option<u64> {
    let total: u64 = buckets.iter().sum();
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if *n != 0 && seen as f64 >= q * total as f64 {
            return Some(1u64 << (i + 1));
        }
    }
    None
}

/// The median of a power-of-two size histogram, at most (its bucket's upper bound), held
/// within the sizes seen; exact when the smallest and largest agree.
fn median_at_most(buckets: &[u64], min: Option<u64>, max: Option<u64>) -> Option<u64> {
    let (min, max) = (min?, max?);
    if min == max {
        return Some(min);
    }
    let total: u64 = buckets.iter().sum();
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen * 2 >= total && *n != 0 {
            let upper = (1u64 << (i + 1)) - 1;
            return Some(upper.clamp(min, max));
        }
    }
    Some(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(slot: u32, fd: u32, kind: u32, ino: u64, peer: u64) -> EndFigures {
        EndFigures {
            info: EndInfo {
                slot,
                fd,
                kind,
                socket_type: 1,
                ino,
                peer_ino: peer,
                ..EndInfo::default()
            },
            ..EndFigures::default()
        }
    }

    fn moved(mut e: EndFigures, way: usize, calls: u64, size: u64) -> EndFigures {
        e.stat.calls[way] += calls;
        e.stat.bytes[way] += calls * size;
        e.stat.min_size[way] = size;
        e.stat.max_size[way] = size;
        e.sizes.buckets[way][ipc_ebpf::latency_bucket(size)] += calls;
        e
    }

    fn names(slot: u32) -> Option<SlotProcess> {
        Some((
            100 + slot,
            ["writer", "reader", "other"][slot as usize].to_string(),
        ))
    }

    #[test]
    fn a_pipe_s_two_ends_in_two_processes_make_one_channel_one_way() {
        let ends = [
            moved(end(0, 4, end_kind::PIPE, 77, 0), direction::OUT, 10, 128),
            moved(end(1, 3, end_kind::PIPE, 77, 0), direction::IN, 5, 256),
            end(2, 9, end_kind::OTHER, 5, 0),
        ];
        let channels = pair(&ends, names);
        assert_eq!(channels.len(), 1, "the regular file is not a channel");
        let pipe = &channels[0];
        assert_eq!(pipe.name, "pipe writer(100) -> reader(101)");
        assert_eq!(pipe.directions.len(), 1);
        let d = &pipe.directions[0];
        assert_eq!(
            (d.sends, d.bytes_sent, d.receives, d.bytes_received),
            (10, 1280, 5, 1280)
        );
        assert_eq!(
            (d.size_min, d.size_p50_at_most, d.size_max),
            (Some(128), Some(128), Some(128))
        );
    }

    #[test]
    fn the_two_sockets_of_a_unix_pair_are_one_channel_with_two_directions() {
        let a = moved(end(0, 5, end_kind::UNIX, 10, 11), direction::OUT, 3, 8);
        let a = moved(a, direction::IN, 2, 16);
        let b = moved(end(1, 6, end_kind::UNIX, 11, 10), direction::IN, 3, 8);
        let b = moved(b, direction::OUT, 2, 16);
        let lone = moved(end(2, 7, end_kind::UNIX, 12, 0), direction::OUT, 1, 1);
        let channels = pair(&[a, b, lone], names);
        assert_eq!(channels.len(), 2);
        let pair = channels.iter().find(|c| c.inodes == [10, 11]).unwrap();
        assert_eq!(pair.name, "unix-stream writer(100) <-> reader(101)");
        assert_eq!(pair.directions[0].from, ["writer(100)"]);
        assert_eq!(pair.directions[0].to, ["reader(101)"]);
        assert_eq!(
            (pair.directions[0].sends, pair.directions[0].receives),
            (3, 3)
        );
        assert_eq!(
            (pair.directions[1].sends, pair.directions[1].bytes_received),
            (2, 32)
        );
        let alone = channels.iter().find(|c| c.inodes == [12]).unwrap();
        assert!(alone.name.ends_with("(peer not traced)"), "{}", alone.name);
    }

    #[test]
    fn a_median_of_mixed_sizes_is_its_bucket_s_upper_bound_within_what_was_seen() {
        let mut buckets = [0u64; SIZE_BUCKETS];
        buckets[ipc_ebpf::latency_bucket(100)] = 3; // 64..127
        buckets[ipc_ebpf::latency_bucket(5000)] = 1;
        assert_eq!(median_at_most(&buckets, Some(100), Some(5000)), Some(127));
        assert_eq!(median_at_most(&buckets, Some(120), Some(120)), Some(120));
        assert_eq!(median_at_most(&buckets, None, None), None);
    }
}
