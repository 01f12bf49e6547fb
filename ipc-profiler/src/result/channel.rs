//! A traced program's IPC channels: each found from what its processes did, its ends paired
//! across processes, its figures per direction (docs/design.md, "Channels").

use serde::{Deserialize, Serialize};

/// One channel: a pipe, a FIFO, a Unix socket pair (or one unpaired socket), a queue, an
/// eventfd, or one shared memory object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// `pipe`, `fifo`, `unix-stream`, `unix-dgram`, `unix-seqpacket`, `tcp`, `udp`, `socket`,
    /// `eventfd`, `posix-mq`, `sysv-mq`, `sysv-sem` (posts are its sends, waits its receives, no
    /// bytes); shared memory: `memfd`, `posix-shm`, `sysv-shm`,
    /// `shared-anon` (`MAP_SHARED | MAP_ANONYMOUS`, shared across fork), `shared-file`.
    pub kind: String,
    /// As a person would name it: `pipe sh(812) -> cat(815)`.
    pub name: String,
    /// The inode numbers the kernel gave it (one for a pipe, FIFO or queue, each socket's for a
    /// pair or a TCP or UDP channel), as `/proc/PID/fd` shows them; an eventfd shows the one
    /// inode every eventfd shares (its channel is its open file); a System V queue its id.
    pub inodes: Vec<u64>,
    /// For TCP and UDP: each side's address and port (`127.0.0.1:6379`, `[::1]:53`).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Every descriptor that used it.
    pub ends: Vec<ChannelEnd>,
    /// Its figures, one entry per direction messages went (a pipe has one, a socket pair two;
    /// shared memory none).
    pub directions: Vec<ChannelDirection>,
    /// Messages sent, over all directions; `None` for shared memory, whose messages the kernel
    /// does not see.
    #[serde(default)]
    pub messages: Option<u64>,
    /// Bytes sent, over all directions; `None` for shared memory.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// For shared memory: the futex calls on words inside it (a sleeping reader, a writer's
    /// wake), the only part of its use the kernel sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub futex: Option<FutexFigures>,
}

/// One futex word in shared memory and the calls on it, by every process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FutexWord {
    /// Its offset in the object, in bytes.
    pub offset: u64,
    /// Wait calls on it, whatever they returned.
    pub waits: u64,
    /// Wake calls on it, whether they woke anyone or not.
    pub wakes: u64,
}

impl Channel {
    /// True when something went through it: a message either way, or (shared memory) a second
    /// process mapping it or a futex call inside it.
    pub fn carried_anything(&self) -> bool {
        self.futex.is_some() || self.directions.iter().any(|d| d.sends + d.receives != 0)
    }
}

/// The futex calls made on words inside one shared memory object, by every process mapping it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FutexFigures {
    /// The processes that waited, as `name(pid)`.
    pub waiters: Vec<String>,
    /// The processes that woke a waiter.
    pub wakers: Vec<String>,
    /// Waits that slept until a wake.
    pub waits: u64,
    /// Time inside those waits, ns.
    pub wait_ns: u64,
    /// The part of it spent switched out, ns.
    pub blocked_ns: u64,
    /// Waits that returned without sleeping through to a wake: the word had already changed
    /// (`EAGAIN`), the time ran out, or a signal came.
    pub waits_not_woken: u64,
    /// Wake calls that woke someone.
    pub wakes: u64,
    /// Threads those calls woke.
    pub woken: u64,
    /// Time inside those calls, ns.
    pub wake_ns: u64,
    /// Wake calls that found nobody waiting (a syscall spent for nothing).
    pub wakes_of_nobody: u64,
    /// The words waited on or woken, by offset in the object (the same in every process).
    #[serde(default)]
    pub words: Vec<FutexWord>,
}

/// One process's descriptor onto a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelEnd {
    /// The process.
    pub pid: u32,
    /// Its command name.
    pub process: String,
    /// The descriptor number (for a System V queue, which has none, its id; `None` for shared
    /// memory, found through its mapping).
    pub fd: Option<u32>,
    /// The inode of the side this end is on (a socket's own; the pipe's; the shared memory's).
    pub inode: u64,
}

/// The messages that went one way along a channel, from the calls of both sides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelDirection {
    /// The sending processes, as `name(pid)`.
    pub from: Vec<String>,
    /// The receiving processes, as `name(pid)`.
    pub to: Vec<String>,
    /// The inode messages leave from (a socket's own; the pipe's), when known.
    pub from_inode: Option<u64>,
    /// The inode messages arrive at, when known (not for a socket whose peer was not traced).
    pub to_inode: Option<u64>,
    /// For TCP and UDP: the address messages leave from.
    #[serde(default)]
    pub from_address: Option<String>,
    /// For TCP and UDP: the address messages go to.
    #[serde(default)]
    pub to_address: Option<String>,
    /// Calls that sent something (a write, a send): messages as the senders made them.
    pub sends: u64,
    /// Bytes they sent.
    pub bytes_sent: u64,
    /// Calls that received something.
    pub receives: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// The median bytes of a send, at most (from a power-of-two histogram: exact when every
    /// send moved the same size, then `size_min == size_max`).
    pub size_p50_at_most: Option<u64>,
    /// The fewest bytes one send moved.
    pub size_min: Option<u64>,
    /// The most bytes one send moved.
    pub size_max: Option<u64>,
    /// Time inside the sends, ns.
    pub send_ns: u64,
    /// Time inside the receives, ns.
    pub receive_ns: u64,
    /// The part of both spent switched out (blocked), ns.
    pub blocked_ns: u64,
    /// Calls on it that moved nothing (end of file, an error such as `EAGAIN`).
    pub empty_calls: u64,
    /// Round trips started by these sends: a send, then the same thread's next receive on the
    /// same descriptor (a client's request and its answer).
    #[serde(default)]
    pub round_trips: u64,
    /// Their median, from the send's start to the receive's end, at most (log2 buckets).
    #[serde(default)]
    pub round_trip_p50_ns_at_most: Option<u64>,
    /// Their 99th percentile, at most.
    #[serde(default)]
    pub round_trip_p99_ns_at_most: Option<u64>,
    /// Wake-ups of a traced thread made from inside these sends and receives (a send waking
    /// the reader, a read waking a writer that waited for room).
    #[serde(default)]
    pub wakeups: u64,
}
