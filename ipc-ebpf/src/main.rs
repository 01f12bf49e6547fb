//! The eBPF programs of `ipc-profiler trace` (target bpfel-unknown-none; built and kept by
//! `cargo xtask build-ebpf`).
//!
//! Every program starts with one lookup of the current thread (in `THREAD_TABLE`, an array
//! indexed by thread id, or in the `THREADS` hash map when thread ids are too large): a thread
//! that is not traced costs that lookup and nothing else. A traced thread's entry holds
//! everything the programs keep about it (its process slot, the syscall in flight, when it was
//! switched out and woken), so each event costs one lookup. The measured phase is a flag per
//! process slot in an array (no hashing). Figures accumulate in per-CPU arrays indexed by small
//! keys; userspace sums them at the end.
//!
//! This file holds the maps; `threads` finds traced threads and their slots, `syscalls`,
//! `sched`, `sockets` and `lifecycle` hold the programs, `channels` and `shared_memory` what
//! syscalls tell of IPC channels, `access` the small helpers they share.
#![no_std]
#![no_main]
// The eBPF target has no atomic read-modify-write types: `access::atomic_add` uses the
// intrinsic.
#![allow(internal_features)]
#![feature(core_intrinsics)]

mod access;
mod channels;
mod io_uring;
mod lifecycle;
mod sampling;
mod sched;
mod shared_memory;
mod sockets;
mod syscalls;
mod threads;

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray},
};
use ipc_ebpf::{
    CachedEnd, CachedPage, EndInfo, EndSizes, EndStat, EndTurns, IoUringStat, KernelOffsets,
    LatencyHistogram, OnCpu, ProcessSlot, SampleStat, SchedStat, SyscallStat, ThreadState,
    WordStat, MAX_CACHED_FDS, MAX_ENDS, MAX_FUTEX_WORDS, MAX_HASHED_THREADS, MAX_SAMPLED_ADDRESSES,
    MAX_SHARED_PAGES, MAX_TRACED_PROCESSES, SYSCALL_SLOTS,
};

/// Offset of `pid` in the kernel's `struct task_struct`, found in its BTF by userspace and set
/// before loading (the `tp_btf` scheduler programs get task pointers, not pids).
#[unsafe(no_mangle)]
static TASK_PID_OFFSET: u32 = 0;

#[map]
static THREADS: HashMap<u32, ThreadState> = HashMap::with_max_entries(MAX_HASHED_THREADS, 0);

/// The same entries in an array indexed by thread id, when the kernel's `pid_max` is small
/// enough for one (userspace sizes it to `pid_max` before loading, or to 1 when it uses
/// `THREADS`): an array lookup is a bounds check and an add, with no hashing. An entry with
/// `tgid == 0` is an untraced thread.
#[map]
static THREAD_TABLE: Array<ThreadState> = Array::with_max_entries(1, 0);

/// Non-zero when `THREAD_TABLE` holds the threads (set by the loader; read-only data, so the
/// verifier drops the other path).
#[unsafe(no_mangle)]
static THREADS_BY_INDEX: u32 = 0;

#[map]
static PHASE: Array<u32> = Array::with_max_entries(MAX_TRACED_PROCESSES, 0);

/// Per CPU: the traced thread that last made a syscall here, and that syscall while it is in
/// flight, so that the common syscall (entered and left without leaving the CPU) needs no hash
/// lookup at all. A traced thread switched out takes its syscall in flight along into its
/// `THREADS` entry and clears this.
#[map]
static ON_CPU: PerCpuArray<OnCpu> = PerCpuArray::with_max_entries(1, 0);

/// One flag, set by userspace once a `sched_switch` program is attached: only then does a
/// switched-out thread take its syscall along, and only then may `ON_CPU` be used.
#[map]
static SWITCHES_TRACED: Array<u32> = Array::with_max_entries(1, 0);

#[map]
static PROCESSES: Array<ProcessSlot> = Array::with_max_entries(MAX_TRACED_PROCESSES, 0);

#[map]
static NEXT_SLOT: Array<u64> = Array::with_max_entries(1, 0);

/// Slot number -> tgid of the process that claimed it. Inserting with `BPF_NOEXIST` is the
/// atomic claim: two new processes on two CPUs cannot both get one slot.
#[map]
static CLAIMS: HashMap<u32, u32> = HashMap::with_max_entries(MAX_TRACED_PROCESSES, 0);

#[map]
static SYSCALLS: PerCpuArray<SyscallStat> =
    PerCpuArray::with_max_entries(MAX_TRACED_PROCESSES * SYSCALL_SLOTS, 0);

#[map]
static LATENCY: Array<LatencyHistogram> =
    Array::with_max_entries(MAX_TRACED_PROCESSES * SYSCALL_SLOTS, 0);

#[map]
static SCHED: PerCpuArray<SchedStat> = PerCpuArray::with_max_entries(MAX_TRACED_PROCESSES, 0);

#[map]
static SKB_COPIED: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_TRACED_PROCESSES, 0);

#[map]
static IO_URING: PerCpuArray<IoUringStat> = PerCpuArray::with_max_entries(MAX_TRACED_PROCESSES, 0);

/// Where the kernel keeps a descriptor's file and what identifies it, found in its BTF by
/// userspace and set before loading; all zero: channels are not followed.
#[unsafe(no_mangle)]
static CHANNEL_OFFSETS: KernelOffsets = KernelOffsets {
    task_files: 0,
    files_fdt: 0,
    fdt_max_fds: 0,
    fdt_fd: 0,
    file_inode: 0,
    file_private_data: 0,
    inode_mode: 0,
    inode_ino: 0,
    inode_sb: 0,
    sb_magic: 0,
    socket_type: 0,
    socket_sk: 0,
    sock_family: 0,
    sock_socket: 0,
    unix_peer: 0,
    socket_to_inode: 0,
    inet: 0,
    sock_protocol: 0,
    sock_daddr: 0,
    sock_rcv_saddr: 0,
    sock_dport: 0,
    sock_num: 0,
    sock_v6_daddr: 0,
    sock_v6_rcv_saddr: 0,
    inet6: 0,
    file_dentry: 0,
    dentry_name: 0,
    vma_flags: 0,
    vma_file: 0,
    vma_start: 0,
    vma_pgoff: 0,
};

#[map]
static FD_CACHE: Array<CachedEnd> =
    Array::with_max_entries(MAX_TRACED_PROCESSES * MAX_CACHED_FDS, 0);

#[map]
static ENDS: Array<EndInfo> = Array::with_max_entries(MAX_ENDS, 0);

/// End number -> the slot that claimed it. Inserting with `BPF_NOEXIST` is the atomic claim.
#[map]
static END_CLAIMS: HashMap<u32, u32> = HashMap::with_max_entries(MAX_ENDS, 0);

#[map]
static NEXT_END: Array<u64> = Array::with_max_entries(1, 0);

#[map]
static END_STATS: PerCpuArray<EndStat> = PerCpuArray::with_max_entries(MAX_ENDS, 0);

#[map]
static END_SIZES: Array<EndSizes> = Array::with_max_entries(MAX_ENDS, 0);

#[map]
static END_TURNS: Array<EndTurns> = Array::with_max_entries(MAX_ENDS, 0);

#[map]
static SYSV_ENDS: HashMap<u64, u32> = HashMap::with_max_entries(MAX_ENDS, 0);

#[map]
static SHARED_ENDS: HashMap<[u64; 2], u32> = HashMap::with_max_entries(MAX_ENDS, 0);

#[map]
static SHARED_PAGES: LruHashMap<[u64; 2], CachedPage> =
    LruHashMap::with_max_entries(MAX_SHARED_PAGES, 0);

#[map]
static SAMPLES: PerCpuArray<SampleStat> = PerCpuArray::with_max_entries(MAX_TRACED_PROCESSES, 0);

#[map]
static SAMPLED_ADDRESSES: LruHashMap<[u64; 2], u64> =
    LruHashMap::with_max_entries(MAX_SAMPLED_ADDRESSES, 0);

#[map]
static FUTEX_WORDS: HashMap<[u64; 2], WordStat> = HashMap::with_max_entries(MAX_FUTEX_WORDS, 0);

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
