//! Types shared by the eBPF programs of `ipc-profiler trace` and the userspace that reads them.
//!
//! Everything here is `#[repr(C)]` plain data: the eBPF side writes it into maps, userspace
//! reads it back with aya (the `user` feature adds the `aya::Pod` impls). Changing a type here
//! changes the kept object: rebuild it with `cargo xtask build-ebpf`.
#![no_std]
#![deny(missing_docs)]

/// Names of the maps in the eBPF object, so that both sides agree on them.
pub mod map_names {
    /// `HashMap<u32 tgid, TracedProcess>`: the processes being traced and their phase.
    pub const TRACED: &str = "TRACED";
    /// `PerCpuArray<SyscallStat>` indexed by [`syscall_index`](super::syscall_index).
    pub const SYSCALLS: &str = "SYSCALLS";
    /// `PerCpuArray<SchedStat>` indexed by process slot.
    pub const SCHED: &str = "SCHED";
    /// `PerCpuArray<u64>` indexed by process slot: bytes copied out of socket buffers.
    pub const SKB_COPIED: &str = "SKB_COPIED";
}

/// The value stored for a tgid in the `TRACED` map.
///
/// A process is counted only while `measuring` is non-zero. The harness registers its worker
/// processes with `measuring == 0`; each worker switches itself on after its warm-up and off once
/// its last measured message has gone, so the measured window is exact per process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TracedProcess {
    /// Non-zero inside the process's measured phase.
    pub measuring: u32,
    /// Which block of the per-process arrays this process's figures go to
    /// (`0..MAX_TRACED_PROCESSES`).
    pub slot: u32,
}

/// How many processes one trace can follow: the per-process arrays have this many blocks.
pub const MAX_TRACED_PROCESSES: u32 = 64;

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
}

/// A syscall in flight on one thread, kept between `sys_enter` and `sys_exit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InflightSyscall {
    /// The syscall number.
    pub nr: u64,
    /// `bpf_ktime_get_ns()` at entry.
    pub start_ns: u64,
    /// Off-CPU time accumulated while this call was in flight.
    pub off_cpu_ns: u64,
}

/// A traced thread that is switched out, kept between its two `sched_switch` events.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchedOut {
    /// `bpf_ktime_get_ns()` when it left the CPU; 0 when it is not switched out.
    pub at_ns: u64,
    /// Its process's slot.
    pub slot: u64,
    /// `bpf_ktime_get_ns()` when it was woken; 0 until then.
    pub woken_ns: u64,
}

/// Tracepoint record offsets the programs read at. They have been stable for many kernel
/// releases; userspace checks them against tracefs before loading and refuses a kernel whose
/// layout differs, rather than count garbage.
pub mod offsets {
    /// `raw_syscalls:sys_enter` field `id` (long).
    pub const SYS_ENTER_ID: usize = 8;
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
    /// `sched:sched_process_fork` field `child_pid` (pid_t).
    pub const FORK_CHILD_PID: usize = 20;
    /// `skb:skb_copy_datagram_iovec` field `len` (int).
    pub const SKB_COPY_LEN: usize = 16;
}

/// Bit of `sched_switch`'s `prev_state` that marks a preempted task (`TASK_REPORT_MAX`).
pub const PREV_STATE_PREEMPTED: i64 = 0x100;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: #[repr(C)] struct of two u32 fields: no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::TracedProcess {}
    // SAFETY: #[repr(C)] structs of u64 fields: no padding, every bit pattern valid.
    unsafe impl aya::Pod for super::SyscallStat {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SchedStat {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::InflightSyscall {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SwitchedOut {}
}
