//! Types shared by the eBPF programs of `ipc-profiler trace` and the userspace that reads them.
//!
//! Everything here is `#[repr(C)]` plain data: the eBPF side writes it into maps, userspace
//! reads it back with aya (the `user` feature adds the `aya::Pod` impls). Changing a type here
//! changes the kept object: rebuild it with `cargo xtask build-ebpf`.
#![no_std]
#![deny(missing_docs)]

/// Names of the maps in the eBPF object, so that both sides agree on them.
pub mod map_names {
    /// `HashMap<u32 tid, ThreadState>`: every traced thread, the only hash map the programs
    /// look up; a thread without an entry costs one failed lookup per event.
    pub const THREADS: &str = "THREADS";
    /// `Array<ThreadState>` indexed by thread id: `THREADS` as an array, when `pid_max` allows.
    pub const THREAD_TABLE: &str = "THREAD_TABLE";
    /// `Array<u32>` indexed by process slot: non-zero inside that process's measured phase.
    pub const PHASE: &str = "PHASE";
    /// `Array<ProcessSlot>` indexed by process slot: which process each slot holds.
    pub const PROCESSES: &str = "PROCESSES";
    /// `Array<u64>` of one element: where the search for a free process slot starts.
    pub const NEXT_SLOT: &str = "NEXT_SLOT";
    /// `HashMap<u32 slot, u32 tgid>`: the slots taken; a slot is claimed by inserting it.
    pub const CLAIMS: &str = "CLAIMS";
    /// `PerCpuArray<OnCpu>` of one element: the syscall fast path's record.
    pub const ON_CPU: &str = "ON_CPU";
    /// `Array<u32>` of one element: non-zero once a `sched_switch` program is attached.
    pub const SWITCHES_TRACED: &str = "SWITCHES_TRACED";
    /// `PerCpuArray<SyscallStat>` indexed by [`syscall_index`](super::syscall_index).
    pub const SYSCALLS: &str = "SYSCALLS";
    /// `Array<LatencyHistogram>` indexed by [`syscall_index`](super::syscall_index), shared by
    /// all CPUs (atomic adds: per-CPU copies would cost megabytes per CPU).
    pub const LATENCY: &str = "LATENCY";
    /// `PerCpuArray<SchedStat>` indexed by process slot.
    pub const SCHED: &str = "SCHED";
    /// `PerCpuArray<u64>` indexed by process slot: bytes copied out of socket buffers.
    pub const SKB_COPIED: &str = "SKB_COPIED";
    /// `PerCpuArray<IoUringStat>` indexed by process slot: its io_uring requests and
    /// completions.
    pub const IO_URING: &str = "IO_URING";
    /// `Array<CachedEnd>` indexed by [`fd_cache_index`](super::fd_cache_index): the end each
    /// process's descriptor was found to be, until it is closed.
    pub const FD_CACHE: &str = "FD_CACHE";
    /// `Array<EndInfo>` indexed by end: what each end is.
    pub const ENDS: &str = "ENDS";
    /// `HashMap<u32 end, u32 slot>`: the ends taken; an end is claimed by inserting it.
    pub const END_CLAIMS: &str = "END_CLAIMS";
    /// `Array<u64>` of one element: where the search for a free end starts.
    pub const NEXT_END: &str = "NEXT_END";
    /// `PerCpuArray<EndStat>` indexed by end.
    pub const END_STATS: &str = "END_STATS";
    /// `Array<EndSizes>` indexed by end, shared by all CPUs (atomic adds).
    pub const END_SIZES: &str = "END_SIZES";
    /// `Array<EndTurns>` indexed by end: round trips made through it by one thread.
    pub const END_TURNS: &str = "END_TURNS";
    /// `HashMap<u64 (slot << 32 | queue id), u32 end>`: each process's end on each System V
    /// queue it used.
    pub const SYSV_ENDS: &str = "SYSV_ENDS";
    /// `HashMap<[u64; 2] (slot, inode address), u32 end>`: each process's end on each shared
    /// memory object it mapped or waited in.
    pub const SHARED_ENDS: &str = "SHARED_ENDS";
    /// `LruHashMap<[u64; 2] (slot, page address), CachedPage>`: the shared-memory end a page
    /// of a process's memory was found to be in (or that it is private), so that a futex call
    /// on a known page needs no walk of the process's mappings.
    pub const SHARED_PAGES: &str = "SHARED_PAGES";
    /// `HashMap<[u64; 2] (end, offset in the object), WordStat>`: the futex calls on each word
    /// of shared memory, by the end (process) that made them.
    pub const FUTEX_WORDS: &str = "FUTEX_WORDS";
    /// `PerCpuArray<SampleStat>` indexed by process slot: where the CPU-clock samples found
    /// each process's threads.
    pub const SAMPLES: &str = "SAMPLES";
    /// `LruHashMap<[u64; 2] (slot, instruction address), u64>`: user-mode samples by the
    /// address they found each process at (a loop that polls memory runs at a handful).
    pub const SAMPLED_ADDRESSES: &str = "SAMPLED_ADDRESSES";
}

/// A syscall between its entry and its exit: kept on the CPU's [`OnCpu`] record while its
/// thread stays there, and moved into the thread's [`ThreadState`] when it is switched out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallInFlight {
    /// The syscall number.
    pub nr: u64,
    /// `bpf_ktime_get_ns()` at its entry; 0 when none began inside the measured phase.
    pub start_ns: u64,
    /// Off-CPU time accumulated while it was in flight.
    pub off_cpu_ns: u64,
    /// A second argument, kept for the calls that need it: the bytes a send returning 0 copies
    /// ([`SENDS_RETURNING_ZERO`]), or a futex call's operation.
    pub arg: u64,
    /// The descriptor it works on, for the calls a channel is counted from
    /// ([`channel_direction`]) and those that end a descriptor's channel ([`FD_ENDING`]); a
    /// futex call on a shared word ([`futex::watched`]): the word's address; [`NO_FD`]
    /// otherwise.
    pub fd: u64,
}

/// `SyscallInFlight::fd` of a call that names no descriptor of interest.
pub const NO_FD: u64 = u64::MAX;

/// Everything the programs keep about one traced thread, in one hash entry keyed by thread id,
/// updated in place (an insert or delete per event would cost far more than the lookup).
///
/// Userspace creates the entry of a process's first thread when it registers the process; the
/// fork program creates one for every thread or process a traced thread starts. A thread whose
/// `tgid` differs from the one it was created with is the first thread of a new process: it
/// gets a process slot of its own at its first event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadState {
    /// The process the entry was made for.
    pub tgid: u32,
    /// Its process slot (`0..MAX_TRACED_PROCESSES`).
    pub slot: u32,
    /// Its syscall in flight, when it was switched out inside one.
    pub call: SyscallInFlight,
    /// `bpf_ktime_get_ns()` when it left the CPU inside the phase; 0 when it is not switched
    /// out.
    pub switched_at_ns: u64,
    /// `bpf_ktime_get_ns()` when it was woken after that; 0 until then.
    pub woken_ns: u64,
    /// `bpf_ktime_get_ns()` when it last came onto a CPU inside the phase; 0 when it is not
    /// on one (or has been on it since before it was traced).
    pub on_cpu_since_ns: u64,
}

/// Per CPU: the traced thread that last entered a syscall on this CPU and that syscall.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OnCpu {
    /// The thread (0: none).
    pub tid: u32,
    /// Its process slot.
    pub slot: u32,
    /// Its syscall in flight.
    pub call: SyscallInFlight,
}

/// Which process a slot holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessSlot {
    /// Its process id (for the last, shared slot: the last process put there).
    pub tgid: u32,
    /// The slot of the process that started it, or [`NO_PARENT`].
    pub parent_slot: u32,
    /// Bumped when the process's descriptors are replaced wholesale (`execve`, `close_range`)
    /// or the slot passes to another process: [`CachedEnd`] entries of an older generation are
    /// stale.
    pub fd_generation: u32,
    /// Bumped when the process's mappings change (`mmap`, `munmap`, `mremap`, `shmat`,
    /// `shmdt`, `execve`) or the slot passes to another process: `SHARED_PAGES` entries of an
    /// older generation are stale.
    pub map_generation: u32,
    /// Its command name (`comm`), NUL-padded, as of its last `execve` inside the trace.
    pub comm: [u8; 16],
}

/// `ProcessSlot::parent_slot` of a process the user named (not started by a traced one).
pub const NO_PARENT: u32 = u32::MAX;

/// Threads the `THREADS` hash map holds (used when thread ids are too large for the table).
pub const MAX_HASHED_THREADS: u32 = 16384;

/// How many processes one trace can follow: the per-process arrays have this many blocks. When
/// traced processes start more, the extra ones share the last block ([`SHARED_SLOT`]).
pub const MAX_TRACED_PROCESSES: u32 = 128;
/// The block shared by processes started after every other slot was taken.
pub const SHARED_SLOT: u32 = MAX_TRACED_PROCESSES - 1;

/// Buckets of a [`LatencyHistogram`]: bucket `i` counts calls that took `[2^i, 2^(i+1))` ns
/// (bucket 0 also takes 0 ns; the last takes everything from 2^31 ns, about 2 s, up).
pub const LATENCY_BUCKETS: usize = 32;

/// Log2 histogram of one syscall's entry-to-exit time, for one process.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Calls per bucket (u64: the eBPF target has no 32-bit atomics).
    pub buckets: [u64; LATENCY_BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: [0; LATENCY_BUCKETS],
        }
    }
}

/// The histogram bucket of a `ns`-nanosecond call.
pub const fn latency_bucket(ns: u64) -> usize {
    let log2 = if ns == 0 {
        0
    } else {
        63 - ns.leading_zeros() as usize
    };
    if log2 >= LATENCY_BUCKETS {
        LATENCY_BUCKETS - 1
    } else {
        log2
    }
}

/// Syscall numbers per process block of `SYSCALLS`: numbers at or above it are folded into
/// [`SYSCALL_NR_OTHER`].
pub const SYSCALL_SLOTS: u32 = 512;
/// The syscall slot that collects numbers outside `0..SYSCALL_SLOTS - 1`.
pub const SYSCALL_NR_OTHER: u32 = SYSCALL_SLOTS - 1;

/// Index of `(process slot, syscall number)` in the `SYSCALLS` array.
pub const fn syscall_index(slot: u32, nr: u32) -> u32 {
    slot * SYSCALL_SLOTS + nr
}

/// Per-syscall totals for the traced processes inside their measured phase.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallStat {
    /// Completed calls (entry and exit both inside the measured phase).
    pub count: u64,
    /// Sum of entry-to-exit time, in nanoseconds, including time blocked inside the call.
    pub total_ns: u64,
    /// Sum of the positive return values: bytes moved, for the read/write family.
    pub ret_sum: u64,
    /// Calls that returned an error (a negative value).
    pub errors: u64,
}

/// Scheduler totals for the traced processes inside their measured phase.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedStat {
    /// Switches away from a traced thread that was blocked (it gave up the CPU).
    pub voluntary_switches: u64,
    /// Switches away from a traced thread that was still runnable (preempted).
    pub involuntary_switches: u64,
    /// Time traced threads spent switched out, in nanoseconds.
    pub off_cpu_ns: u64,
    /// The part of `off_cpu_ns` spent while inside a syscall (blocked in the kernel).
    pub off_cpu_in_syscall_ns: u64,
    /// Times a switched-out traced thread was woken.
    pub wakeups: u64,
    /// Time from those wake-ups to running again, in nanoseconds.
    pub wake_to_run_ns: u64,
    /// Time traced threads spent on a CPU, from each switch-in inside the phase to the next
    /// switch-out or exit, in nanoseconds.
    pub on_cpu_ns: u64,
    /// Times a traced thread was moved to another CPU.
    pub migrations: u64,
}

/// Tracepoint record offsets the programs read at. They have been stable for many kernel
/// releases; userspace checks them against tracefs before loading and refuses a kernel whose
/// layout differs, rather than count garbage.
pub mod offsets {
    /// `raw_syscalls:sys_enter` field `id` (long).
    pub const SYS_ENTER_ID: usize = 8;
    /// `raw_syscalls:sys_enter` field `args` (unsigned long[6]).
    pub const SYS_ENTER_ARGS: usize = 16;
    /// `raw_syscalls:sys_exit` field `id` (long).
    pub const SYS_EXIT_ID: usize = 8;
    /// `raw_syscalls:sys_exit` field `ret` (long).
    pub const SYS_EXIT_RET: usize = 16;
    /// `sched:sched_switch` field `prev_pid` (pid_t).
    pub const SWITCH_PREV_PID: usize = 24;
    /// `sched:sched_switch` field `prev_state` (long).
    pub const SWITCH_PREV_STATE: usize = 32;
    /// `sched:sched_switch` field `next_pid` (pid_t).
    pub const SWITCH_NEXT_PID: usize = 56;
    /// `sched:sched_waking` field `pid` (pid_t).
    pub const WAKEUP_PID: usize = 24;
    /// `sched:sched_migrate_task` field `pid` (pid_t), after `comm` became a `__data_loc`
    /// string (older kernels hold `comm` inline and `pid` at 24: their layout is refused and
    /// migrations are not counted there unless tp_btf is allowed).
    pub const MIGRATE_PID: usize = 12;
    /// `sched:sched_process_fork` field `child_pid` (pid_t).
    pub const FORK_CHILD_PID: usize = 20;
    /// `skb:skb_copy_datagram_iovec` field `len` (int).
    pub const SKB_COPY_LEN: usize = 16;
}

/// x86-64 syscall numbers of `msgsnd` and `mq_timedsend`: they return 0 on success, and copy
/// the byte count of their third argument.
pub const SENDS_RETURNING_ZERO: [u64; 2] = [69, 242];

/// Offset of `dx` (the third syscall argument) in x86-64's `struct pt_regs`.
pub const PT_REGS_DX: usize = 12 * 8;
/// Offset of `si` (the second syscall argument) in x86-64's `struct pt_regs`.
pub const PT_REGS_SI: usize = 13 * 8;

/// x86-64 syscall numbers of `execve` and `execveat`: after one succeeds, the process's slot
/// takes its new command name.
pub const EXEC_SYSCALLS: [u64; 2] = [59, 322];

/// Bit of `sched_switch`'s `prev_state` that marks a preempted task (`TASK_REPORT_MAX`).
pub const PREV_STATE_PREEMPTED: i64 = 0x100;

/// Descriptor numbers below this are followed to their channel; calls on higher ones are
/// counted as syscalls only.
pub const MAX_CACHED_FDS: u32 = 1024;
/// Ends one trace can tell apart (an end: one process's descriptor onto one open file, from
/// its first use to its close).
pub const MAX_ENDS: u32 = 2048;
/// Pages the shared-page cache holds (least recently used ones make room).
pub const MAX_SHARED_PAGES: u32 = 4096;
/// User-mode instruction addresses the sampler counts apart, over all processes (least
/// recently sampled ones make room: a loop's few addresses stay, a computation's spread does
/// not need to).
pub const MAX_SAMPLED_ADDRESSES: u32 = 16_384;
/// Futex words (per end) whose calls are counted apart; calls on more are counted on their
/// end only.
pub const MAX_FUTEX_WORDS: u32 = 4096;

/// A page of a process's memory, as last found: the shared-memory end it is in and where in
/// the object it lies, while `generation` is its slot's [`ProcessSlot::map_generation`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachedPage {
    /// The slot's `map_generation` when it was found.
    pub generation: u32,
    /// The end, plus one (0: not shared memory).
    pub end_plus_one: u32,
    /// The page's offset in the shared object, in bytes (the same in every process mapping
    /// it, wherever each maps it).
    pub object_offset: u64,
}

/// Per CPU, per process slot: what io_uring's tracepoints saw of it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoUringStat {
    /// Requests submitted.
    pub submissions: u64,
    /// Completions posted.
    pub completions: u64,
}

/// Per CPU, per process slot: the CPU-clock samples that found one of its threads running,
/// and where.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleStat {
    /// Samples that found it on a CPU.
    pub samples: u64,
    /// Those in user mode.
    pub user_samples: u64,
    /// Those in user mode at or just after a `pause` instruction: a spin-wait's loop.
    pub pause_samples: u64,
}

/// x86's `pause` (`F3 90`), the instruction spin-wait loops run while they wait.
pub const PAUSE: [u8; 2] = [0xf3, 0x90];
/// Offsets of `ip` and `cs` in x86-64's `struct pt_regs` (a perf event's saved registers).
pub const PT_REGS_IP: usize = 16 * 8;
/// See [`PT_REGS_IP`].
pub const PT_REGS_CS: usize = 17 * 8;

/// The futex calls one process made on one word of shared memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WordStat {
    /// Wait calls, whatever they returned.
    pub waits: u64,
    /// Wake calls, whether they woke anyone or not.
    pub wakes: u64,
}

/// Index of `(process slot, descriptor)` in `FD_CACHE`.
pub const fn fd_cache_index(slot: u32, fd: u32) -> u32 {
    slot * MAX_CACHED_FDS + fd
}

/// Which way a call moves a channel's messages, as seen from the calling end.
pub mod direction {
    /// Into the caller (`read`, `recvmsg`, ...).
    pub const IN: usize = 0;
    /// Out of the caller (`write`, `sendmsg`, ...).
    pub const OUT: usize = 1;
}

/// x86-64 syscalls that receive messages on their first argument's descriptor: `read`,
/// `pread64`, `readv`, `recvfrom`, `recvmsg`, `preadv`, `recvmmsg`, `mq_timedreceive`; and
/// `msgrcv`, whose first argument is a System V queue's id ([`SYSV_QUEUE_CALLS`]).
pub const CHANNEL_READS: [u64; 9] = [0, 17, 19, 45, 47, 295, 299, 243, 70];
/// x86-64 syscalls that send messages on their first argument's descriptor: `write`,
/// `pwrite64`, `writev`, `sendto`, `sendmsg`, `pwritev`, `sendmmsg`, `mq_timedsend` (which
/// returns 0: its length argument counts, as [`SENDS_RETURNING_ZERO`] says); and `msgsnd`
/// (a System V queue's id, and 0 returned too).
pub const CHANNEL_WRITES: [u64; 9] = [1, 18, 20, 44, 46, 296, 307, 242, 69];
/// `msgsnd` and `msgrcv`: their first argument is a System V queue's id, not a descriptor.
pub const SYSV_QUEUE_CALLS: [u64; 2] = [69, 70];
/// `semop` and `semtimedop`: their first argument is a System V semaphore set's id, their
/// second its operations (`struct sembuf`: the first one's `sem_op` says post or wait).
pub const SEMAPHORE_CALLS: [u64; 2] = [65, 220];
/// Offset of `sem_op` (an `i16`) in `struct sembuf`.
pub const SEMBUF_SEM_OP: u64 = 2;
/// `recvmmsg` and `sendmmsg`: they return a count of messages, not of bytes.
pub const MULTI_MESSAGE_CALLS: [u64; 2] = [299, 307];

/// The direction a channel call `nr` moves messages in, if it is one.
pub fn channel_direction(nr: u64) -> Option<usize> {
    if CHANNEL_READS.contains(&nr) {
        Some(direction::IN)
    } else if CHANNEL_WRITES.contains(&nr) {
        Some(direction::OUT)
    } else {
        None
    }
}

/// x86-64 syscalls after which a descriptor names no file it named before: `close` (its first
/// argument), `dup2` and `dup3` (the descriptor they return).
pub const FD_ENDING: [u64; 3] = [3, 33, 292];
/// x86-64 syscalls after which any descriptor may name another file: `close_range`, `execve`,
/// `execveat` (descriptors marked close-on-exec).
pub const FDS_REPLACED: [u64; 3] = [436, 59, 322];

/// A process's descriptor (or page of memory), as last found: the end it is, while
/// `generation` is its process slot's [`ProcessSlot::fd_generation`] (or `map_generation`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachedEnd {
    /// The slot's `fd_generation` when it was found.
    pub generation: u32,
    /// The end, plus one (0: not found since its last close; for a page: not shared memory).
    pub end_plus_one: u32,
}

/// What kind of file an end is.
pub mod end_kind {
    /// An anonymous pipe (`pipe(2)`).
    pub const PIPE: u32 = 1;
    /// A named pipe (FIFO).
    pub const FIFO: u32 = 2;
    /// A Unix domain socket (`EndInfo::socket_type` says stream, datagram or seqpacket).
    pub const UNIX: u32 = 3;
    /// A socket of another family (`EndInfo::family` says which).
    pub const OTHER_SOCKET: u32 = 4;
    /// An IPv4 or IPv6 socket (`EndInfo::protocol` says TCP or UDP; its addresses are kept).
    pub const INET: u32 = 6;
    /// An eventfd (every eventfd shares one anonymous inode: ends pair by open file).
    pub const EVENTFD: u32 = 7;
    /// A POSIX message queue (`EndInfo::name` holds its name).
    pub const MQUEUE: u32 = 8;
    /// A System V message queue (`EndInfo::ino` and `EndInfo::fd` hold its id).
    pub const SYSV_MQ: u32 = 9;
    /// A System V semaphore set (`EndInfo::ino` and `EndInfo::fd` hold its id): its posts
    /// count as sends, its waits as receives, no bytes.
    pub const SYSV_SEM: u32 = 11;
    /// Any other file (a regular file, a character device, an anonymous inode).
    pub const OTHER: u32 = 5;
    /// Shared memory: a `MAP_SHARED` mapping (memfd, `shm_open`, a file, anonymous memory
    /// shared across fork) or a System V segment. `EndInfo::file` holds the inode's address
    /// (the key ends pair by), `EndInfo::name` its name, `EndInfo::fs_magic` its filesystem;
    /// its figures are futex waits and wakes ([`EndStat`] says how).
    pub const SHARED_MEMORY: u32 = 10;
}

/// The end's `fd` when it has no descriptor (shared memory is found through its mapping).
pub const NO_DESCRIPTOR: u32 = u32::MAX;

/// Futex calls on words in shared memory.
pub mod futex {
    /// x86-64's `futex`.
    pub const SYSCALL: u64 = 202;
    /// `FUTEX_PRIVATE_FLAG`: the word is in memory of this process only.
    pub const PRIVATE: u64 = 128;
    /// The operation without its flags.
    pub const COMMAND_MASK: u64 = 127;
    /// Operations that wait: `FUTEX_WAIT`, `FUTEX_LOCK_PI`, `FUTEX_WAIT_BITSET`,
    /// `FUTEX_WAIT_REQUEUE_PI`, `FUTEX_LOCK_PI2`.
    pub const WAITS: [u64; 5] = [0, 6, 9, 11, 13];
    /// Operations that wake: `FUTEX_WAKE`, `FUTEX_REQUEUE`, `FUTEX_CMP_REQUEUE`,
    /// `FUTEX_WAKE_OP`, `FUTEX_UNLOCK_PI`, `FUTEX_WAKE_BITSET`.
    pub const WAKES: [u64; 6] = [1, 3, 4, 5, 7, 10];

    /// The direction a futex call with operation `op` counts in: waits in, wakes out; `None`
    /// for a private word or another operation.
    pub fn direction(op: u64) -> Option<usize> {
        if op & PRIVATE != 0 {
            return None;
        }
        let command = op & COMMAND_MASK;
        if WAITS.contains(&command) {
            Some(super::direction::IN)
        } else if WAKES.contains(&command) {
            Some(super::direction::OUT)
        } else {
            None
        }
    }

    /// True when a futex call with operation `op` is counted on its shared memory.
    pub fn watched(op: u64) -> bool {
        direction(op).is_some()
    }
}

/// x86-64 syscalls that return the address of a new mapping: `mmap`, `mremap`, `shmat`.
pub const MAPPING_CALLS: [u64; 3] = [9, 25, 30];
/// x86-64 syscalls after which an address may lie in another mapping: [`MAPPING_CALLS`],
/// `munmap` and `shmdt`.
pub const MAPPING_CHANGES: [u64; 5] = [9, 25, 30, 11, 67];
/// The page size the shared-page cache is keyed by (x86-64's smallest; a mapping never starts
/// inside one).
pub const PAGE_SIZE: u64 = 4096;

/// `EndInfo::shared_flags`: the process mapped the shared memory so that it can write it
/// (`VM_SHARED`: its file opened for writing). Memory no process can write carries nothing from
/// one to another (a read-only cache file many processes map).
pub const WRITABLE_SHARED: u16 = 1;

/// `VM_SHARED` in `vm_area_struct.vm_flags`: a shared mapping that may be written.
pub const VM_SHARED: u64 = 0x8;

/// `VM_MAYSHARE` in `vm_area_struct.vm_flags`: the mapping is shared (`MAP_SHARED`, System V
/// shared memory), even when it cannot be written.
pub const VM_MAYSHARE: u64 = 0x80;

/// One end of a channel: a process's descriptor onto one open file, as the kernel described
/// it when the descriptor was first used (found again after each close).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndInfo {
    /// The process slot.
    pub slot: u32,
    /// The descriptor number.
    pub fd: u32,
    /// An [`end_kind`].
    pub kind: u32,
    /// For sockets: the address family (`AF_UNIX` = 1, `AF_INET` = 2, ...).
    pub family: u16,
    /// For sockets: `SOCK_STREAM` = 1, `SOCK_DGRAM` = 2, `SOCK_SEQPACKET` = 5.
    pub socket_type: u16,
    /// The file's inode number (a pipe's or socket's, as `/proc/PID/fd` shows it).
    pub ino: u64,
    /// For a connected Unix socket: the peer socket's inode number (0: none or unknown).
    pub peer_ino: u64,
    /// The kernel's address of the open file (`struct file`), a key that tells two opens of
    /// one FIFO apart and joins descriptors shared by `dup` and `fork`.
    pub file: u64,
    /// For an inet socket: its own address (IPv4 in the first 4 bytes, as the kernel keeps
    /// it: network order; IPv6 all 16).
    pub local_addr: [u8; 16],
    /// For an inet socket: the peer's address (all zero: not connected).
    pub remote_addr: [u8; 16],
    /// For an inet socket: its own port (host order).
    pub local_port: u16,
    /// For an inet socket: the peer's port (host order; 0: not connected).
    pub remote_port: u16,
    /// For an inet socket: `IPPROTO_TCP` (6) or `IPPROTO_UDP` (17).
    pub protocol: u16,
    /// For shared memory: [`WRITABLE_SHARED`] when one of the process's mappings of it can
    /// write it (0 for any other end).
    pub shared_flags: u16,
    /// For an anonymous inode, a POSIX queue or shared memory: the file's name (`[eventfd]`,
    /// the queue's name, `memfd:NAME`, `SYSV0000002a`, `dev/zero`), NUL-padded, cut at 16
    /// bytes.
    pub name: [u8; 16],
    /// For shared memory: its filesystem's magic number (`super_block.s_magic`).
    pub fs_magic: u64,
}

/// Per CPU, per end: its calls, bytes, time in the calls and time blocked, each direction.
///
/// A shared-memory end counts futex calls instead: `IN` its waits (`calls`: waits a wake ended,
/// with their time and time blocked; `empty_calls`: waits that returned at once or with an
/// error, the word having changed or the time run out), `OUT` its wakes (`calls`: wakes that
/// woke someone, `wakeups_caused`: the threads they woke; `empty_calls`: wakes that woke
/// nobody). `bytes` and the sizes stay 0: the kernel does not see what moves.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndStat {
    /// Calls that moved something (a positive return), by [`direction`].
    pub calls: [u64; 2],
    /// Bytes they moved (messages, for `recvmmsg` and `sendmmsg`).
    pub bytes: [u64; 2],
    /// Time inside those calls, in nanoseconds.
    pub time_ns: [u64; 2],
    /// The part of it spent switched out (blocked), in nanoseconds.
    pub blocked_ns: [u64; 2],
    /// Calls that returned an error or nothing (end of file, `EAGAIN`), by direction.
    pub empty_calls: [u64; 2],
    /// The fewest bytes one call moved (0: no call yet), by direction.
    pub min_size: [u64; 2],
    /// The most bytes one call moved, by direction.
    pub max_size: [u64; 2],
    /// Wake-ups of a traced thread made from inside a call on this end (a send waking its
    /// reader, a read waking a writer that waited for room), by the call's direction.
    pub wakeups_caused: [u64; 2],
}

/// Buckets of an end's message-size histogram: bucket `i` counts calls that moved
/// `[2^i, 2^(i+1))` bytes.
pub const SIZE_BUCKETS: usize = 32;

/// Per end, shared by all CPUs: how many bytes each call moved, each direction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndSizes {
    /// `[direction][bucket]`.
    pub buckets: [[u64; SIZE_BUCKETS]; 2],
}

impl Default for EndSizes {
    fn default() -> Self {
        Self {
            buckets: [[0; SIZE_BUCKETS]; 2],
        }
    }
}

/// Per end, shared by all CPUs: round trips made through it, each a send followed by the same
/// thread's next receive on the same end.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndTurns {
    /// The thread whose send is waiting for its answer (0: none).
    pub tid: u32,
    /// Padding (always 0).
    pub padding: u32,
    /// `bpf_ktime_get_ns()` at that send's entry.
    pub sent_ns: u64,
    /// Log2 histogram of the round trips, from the send's entry to the receive's exit, in ns
    /// (bucket `i`: `[2^i, 2^(i+1))`, as [`latency_bucket`]).
    pub buckets: [u64; LATENCY_BUCKETS],
}

impl Default for EndTurns {
    fn default() -> Self {
        Self {
            tid: 0,
            padding: 0,
            sent_ns: 0,
            buckets: [0; LATENCY_BUCKETS],
        }
    }
}

/// Where the kernel keeps what identifies a descriptor's file, found in its BTF by userspace
/// and set before loading. All zero: channels are not followed (no BTF, or a field missing).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    /// `task_struct.files`.
    pub task_files: u32,
    /// `files_struct.fdt`.
    pub files_fdt: u32,
    /// `fdtable.max_fds`.
    pub fdt_max_fds: u32,
    /// `fdtable.fd`.
    pub fdt_fd: u32,
    /// `file.f_inode`.
    pub file_inode: u32,
    /// `file.private_data` (a socket file's `struct socket`).
    pub file_private_data: u32,
    /// `inode.i_mode`.
    pub inode_mode: u32,
    /// `inode.i_ino`.
    pub inode_ino: u32,
    /// `inode.i_sb`.
    pub inode_sb: u32,
    /// `super_block.s_magic`.
    pub sb_magic: u32,
    /// `socket.type`.
    pub socket_type: u32,
    /// `socket.sk`.
    pub socket_sk: u32,
    /// `sock_common.skc_family` (`sock` starts with its `sock_common`).
    pub sock_family: u32,
    /// `sock.sk_socket`.
    pub sock_socket: u32,
    /// `unix_sock.peer`.
    pub unix_peer: u32,
    /// `socket_alloc.vfs_inode` minus `socket_alloc.socket`: from a `struct socket` to its
    /// inode.
    pub socket_to_inode: u32,
    /// 1 when the inet fields below were all found (they may be at offset 0).
    pub inet: u32,
    /// `sock.sk_protocol`.
    pub sock_protocol: u32,
    /// `sock_common.skc_daddr` (from the start of `sock`).
    pub sock_daddr: u32,
    /// `sock_common.skc_rcv_saddr`.
    pub sock_rcv_saddr: u32,
    /// `sock_common.skc_dport` (network order).
    pub sock_dport: u32,
    /// `sock_common.skc_num` (host order).
    pub sock_num: u32,
    /// `sock_common.skc_v6_daddr` (0 in `inet6`: no IPv6 in this kernel).
    pub sock_v6_daddr: u32,
    /// `sock_common.skc_v6_rcv_saddr`.
    pub sock_v6_rcv_saddr: u32,
    /// 1 when the IPv6 fields were found.
    pub inet6: u32,
    /// `file.f_path` plus `path.dentry`: the file's dentry pointer (0: names not read).
    pub file_dentry: u32,
    /// `dentry.d_name` plus `qstr.name`: the dentry's name pointer.
    pub dentry_name: u32,
    /// `vm_area_struct.vm_flags` (0: shared memory is not followed: a field is missing, or
    /// the kernel lacks `bpf_find_vma`).
    pub vma_flags: u32,
    /// `vm_area_struct.vm_file`.
    pub vma_file: u32,
    /// `vm_area_struct.vm_start` (may be 0).
    pub vma_start: u32,
    /// `vm_area_struct.vm_pgoff`: the mapping's offset in its file, in pages.
    pub vma_pgoff: u32,
}

impl KernelOffsets {
    /// True when every offset was found (a zero offset is never right for all of them).
    pub fn complete(&self) -> bool {
        self.task_files != 0 && self.files_fdt != 0 && self.fdt_fd != 0 && self.file_inode != 0
    }

    /// True when shared memory can be followed too: the mapping's fields were found, on a
    /// kernel that has `bpf_find_vma`.
    pub fn follows_shared_memory(&self) -> bool {
        self.complete() && self.vma_flags != 0
    }
}

/// The pipe filesystem's magic number (`super_block.s_magic`): a FIFO inode elsewhere is a
/// named pipe.
pub const PIPEFS_MAGIC: u64 = 0x5049_5045;
/// The anonymous inode filesystem's magic number (eventfds, epoll, timerfds, ...).
pub const ANON_INODE_FS_MAGIC: u64 = 0x0904_1934;
/// The POSIX message queue filesystem's magic number.
pub const MQUEUE_MAGIC: u64 = 0x1980_0202;

/// Offset of `di` (the first syscall argument) in x86-64's `struct pt_regs`.
pub const PT_REGS_DI: usize = 14 * 8;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: #[repr(C)]: five u64 fields, no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SyscallInFlight {}
    // SAFETY: #[repr(C)]: two u32, a SyscallInFlight (u64 fields), three u64: no padding.
    unsafe impl aya::Pod for super::ThreadState {}
    // SAFETY: #[repr(C)]: four u32 and a byte array (32 bytes), no padding.
    unsafe impl aya::Pod for super::ProcessSlot {}
    // SAFETY: #[repr(C)]: two u32, no padding.
    unsafe impl aya::Pod for super::CachedEnd {}
    // SAFETY: #[repr(C)]: three u32, two u16, three u64, two 16-byte arrays, four u16, a
    // 16-byte array and a u64 (104 bytes), no padding.
    unsafe impl aya::Pod for super::EndInfo {}
    // SAFETY: #[repr(C)]: arrays of u64.
    unsafe impl aya::Pod for super::EndStat {}
    // SAFETY: #[repr(C)]: two u32 and a u64, no padding.
    unsafe impl aya::Pod for super::CachedPage {}
    // SAFETY: #[repr(C)]: two u64.
    unsafe impl aya::Pod for super::WordStat {}
    // SAFETY: #[repr(C)]: three u64.
    unsafe impl aya::Pod for super::SampleStat {}
    // SAFETY: two u64 fields, repr(C), no padding; any bit pattern is valid.
    unsafe impl aya::Pod for super::IoUringStat {}
    // SAFETY: #[repr(C)]: arrays of u64.
    unsafe impl aya::Pod for super::EndSizes {}
    // SAFETY: #[repr(C)]: two u32, a u64 and an array of u64: no padding.
    unsafe impl aya::Pod for super::EndTurns {}
    // SAFETY: #[repr(C)]: u32 fields only.
    unsafe impl aya::Pod for super::KernelOffsets {}
    // SAFETY: #[repr(C)]: two u32 then a SyscallInFlight (u64 fields), no padding.
    unsafe impl aya::Pod for super::OnCpu {}
    // SAFETY: #[repr(C)]: an array of u64.
    unsafe impl aya::Pod for super::LatencyHistogram {}
    // SAFETY: #[repr(C)] structs of u64 fields: no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SyscallStat {}
    // SAFETY: #[repr(C)] struct of eight u64 fields: no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SchedStat {}
}
