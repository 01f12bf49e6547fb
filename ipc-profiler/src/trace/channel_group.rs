//! The model the channel pairing works on: an end's figures as read from the kernel side's
//! maps, ends grouped into a channel with the sides its messages go between, and how an end is
//! named (the pairing itself is in `channels`, for TCP and UDP `inet_channels`, for shared
//! memory `shared_memory_channels`).

use ipc_ebpf::{EndInfo, EndSizes, EndStat, WordStat};

use crate::result::ChannelEnd;

/// What the kernel side counted for one end, summed over CPUs.
#[derive(Clone, Debug, Default)]
pub struct EndFigures {
    /// What the end is.
    pub info: EndInfo,
    /// Its calls, bytes and times (min and max sizes combined, not summed).
    pub stat: EndStat,
    /// Its size histograms.
    pub sizes: EndSizes,
    /// Its round trips (a send, then the same thread's receive on it), log2 buckets of ns.
    pub turns: [u64; ipc_ebpf::LATENCY_BUCKETS],
    /// For shared memory: its futex words (offset in the object) and the calls on each.
    pub words: Vec<(u64, WordStat)>,
}

/// The process in a slot: (pid, command name).
pub type SlotProcess = (u32, String);

/// Ends grouped into one channel, with the sides messages go between.
pub(super) struct Group<'a> {
    /// `pipe`, `unix-stream`, `tcp`, ...
    pub kind: String,
    /// The channel's inodes (a socket pair's two, a pipe's one, every inet socket's).
    pub inodes: Vec<u64>,
    /// Its addresses (inet sockets only), as `127.0.0.1:6379`.
    pub addresses: Vec<String>,
    /// Every end of it.
    pub members: Vec<&'a EndFigures>,
    /// Its sides: a pipe has one, a socket pair two.
    pub sides: Vec<Side<'a>>,
    /// The directions messages go, as (sending side, receiving side); `None`: not traced.
    pub ways: Vec<(Option<usize>, Option<usize>)>,
    /// How the channel is named.
    pub naming: Naming,
    /// What names it beside its kind (a POSIX queue's name), if anything.
    pub title: Option<String>,
}

/// One side of a channel: the ends on one socket (or every end of a pipe).
pub(super) struct Side<'a> {
    /// Its inode, where it has one.
    pub inode: Option<u64>,
    /// Its address (inet sockets).
    pub address: Option<String>,
    /// The descriptors on it.
    pub ends: Vec<&'a EndFigures>,
}

/// How a channel's name is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Naming {
    /// `pipe writer(1) -> reader(2)`.
    OneWay,
    /// `unix-stream a(1) <-> b(2)`, one side's processes each.
    Processes,
    /// `tcp 127.0.0.1:41234 <-> 127.0.0.1:6379 (loopback)`.
    Addresses,
}

/// The file name the kernel side read (a queue's), up to its first NUL.
pub(super) fn name_of(info: &EndInfo) -> String {
    let end = info
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(info.name.len());
    String::from_utf8_lossy(&info.name[..end]).into_owned()
}

/// The model's view of `end`, whose process `who` names (no descriptor: shared memory).
pub(super) fn channel_end(
    end: &EndFigures,
    who: &impl Fn(&EndFigures) -> SlotProcess,
) -> ChannelEnd {
    let (pid, process) = who(end);
    ChannelEnd {
        pid,
        process,
        fd: (end.info.fd != ipc_ebpf::NO_DESCRIPTOR).then_some(end.info.fd),
        inode: end.info.ino,
    }
}

/// A process as the channel view names it: `name(pid)`.
pub(super) fn process_label(pid: u32, name: &str) -> String {
    format!("{name}({pid})")
}

/// `name(pid)` of each process among `ends`, once each, in order.
pub(super) fn processes(
    ends: &[&EndFigures],
    who: &impl Fn(&EndFigures) -> SlotProcess,
) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for end in ends {
        let (pid, name) = who(end);
        let label = process_label(pid, &name);
        if !names.contains(&label) {
            names.push(label);
        }
    }
    names
}

/// Adds one CPU's `stat` of an end into `total`: counts and times add up, the smallest and
/// largest sizes are the smallest and largest of any CPU.
pub fn add_cpu(total: &mut EndStat, stat: &EndStat) {
    for d in 0..2 {
        total.calls[d] += stat.calls[d];
        total.bytes[d] += stat.bytes[d];
        total.time_ns[d] += stat.time_ns[d];
        total.blocked_ns[d] += stat.blocked_ns[d];
        total.empty_calls[d] += stat.empty_calls[d];
        if stat.min_size[d] != 0 && (total.min_size[d] == 0 || stat.min_size[d] < total.min_size[d])
        {
            total.min_size[d] = stat.min_size[d];
        }
        total.max_size[d] = total.max_size[d].max(stat.max_size[d]);
        total.wakeups_caused[d] += stat.wakeups_caused[d];
    }
}
