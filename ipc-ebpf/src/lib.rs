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
    /// Bytes it sends, for the sends that return 0 ([`SENDS_RETURNING_ZERO`]).
    pub sent_len: u64,
}

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
    /// `sched:sched_wakeup` field `pid` (pid_t).
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

/// x86-64 syscall numbers of `execve` and `execveat`: after one succeeds, the process's slot
/// takes its new command name.
pub const EXEC_SYSCALLS: [u64; 2] = [59, 322];

/// Bit of `sched_switch`'s `prev_state` that marks a preempted task (`TASK_REPORT_MAX`).
pub const PREV_STATE_PREEMPTED: i64 = 0x100;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: #[repr(C)]: four u64 fields, no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SyscallInFlight {}
    // SAFETY: #[repr(C)]: two u32, a SyscallInFlight (u64 fields), three u64: no padding.
    unsafe impl aya::Pod for super::ThreadState {}
    // SAFETY: #[repr(C)]: two u32 and a byte array (24 bytes), no padding.
    unsafe impl aya::Pod for super::ProcessSlot {}
    // SAFETY: #[repr(C)]: two u32 then a SyscallInFlight (u64 fields), no padding.
    unsafe impl aya::Pod for super::OnCpu {}
    // SAFETY: #[repr(C)]: an array of u64.
    unsafe impl aya::Pod for super::LatencyHistogram {}
    // SAFETY: #[repr(C)] structs of u64 fields: no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SyscallStat {}
    // SAFETY: #[repr(C)] struct of eight u64 fields: no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SchedStat {}
}
