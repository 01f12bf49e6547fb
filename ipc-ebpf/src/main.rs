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
#![no_std]
#![no_main]
// The eBPF target has no atomic read-modify-write types: `atomic_add` uses the intrinsic.
#![allow(internal_features)]
#![feature(core_intrinsics)]

use core::intrinsics::AtomicOrdering;

/// `bpf_map_update_elem` flag: insert only if the key is absent.
const BPF_NOEXIST: u64 = 1;

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_kernel,
    },
    macros::{btf_tracepoint, map, raw_tracepoint, tracepoint},
    maps::{Array, HashMap, PerCpuArray},
    programs::{BtfTracePointContext, RawTracePointContext, TracePointContext},
    EbpfContext,
};
use aya_log_ebpf::{info, warn};
use ipc_ebpf::{
    latency_bucket, offsets, syscall_index, LatencyHistogram, OnCpu, ProcessSlot, SchedStat,
    SyscallStat, ThreadState, EXEC_SYSCALLS, LATENCY_BUCKETS, MAX_TRACED_PROCESSES,
    PREV_STATE_PREEMPTED, PT_REGS_DX, SENDS_RETURNING_ZERO, SHARED_SLOT, SYSCALL_NR_OTHER,
    SYSCALL_SLOTS,
};

/// Offset of `pid` in the kernel's `struct task_struct`, found in its BTF by userspace and set
/// before loading (the `tp_btf` scheduler programs get task pointers, not pids).
#[unsafe(no_mangle)]
static TASK_PID_OFFSET: u32 = 0;

/// Threads a trace can follow at once.
const MAX_THREADS: u32 = 16384;

#[map]
static THREADS: HashMap<u32, ThreadState> = HashMap::with_max_entries(MAX_THREADS, 0);

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

/// True when the threads live in `THREAD_TABLE`.
#[inline(always)]
fn threads_by_index() -> bool {
    // SAFETY: a plain read of a global the loader set; volatile so that the compiler does not
    // fold the placeholder value.
    unsafe { core::ptr::read_volatile(&THREADS_BY_INDEX) != 0 }
}

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

/// The current thread's (tgid, tid).
#[inline(always)]
fn current_ids() -> (u32, u32) {
    let pid_tgid = bpf_get_current_pid_tgid();
    ((pid_tgid >> 32) as u32, pid_tgid as u32)
}

/// The entry of thread `tid`, if it is traced.
#[inline(always)]
fn thread(tid: u32) -> Option<&'static mut ThreadState> {
    // SAFETY: an entry is only ever written by events of its own thread (which run one at a
    // time: on its CPU, with preemption off) and by the wake-up of that thread while it is
    // switched out; userspace writes it only before the thread is traced.
    if threads_by_index() {
        THREAD_TABLE
            .get_ptr_mut(tid)
            .map(|entry| unsafe { &mut *entry })
            .filter(|entry| entry.tgid != 0)
    } else {
        THREADS
            .get_ptr_mut(&tid)
            .map(|entry| unsafe { &mut *entry })
    }
}

/// Starts tracing thread `tid` with `state`; false when the table has no room for it.
#[inline(always)]
fn new_thread(tid: u32, state: &ThreadState) -> bool {
    if threads_by_index() {
        match THREAD_TABLE.get_ptr_mut(tid) {
            Some(entry) => {
                // SAFETY: a live array element of a thread that has not run yet.
                unsafe { *entry = *state };
                true
            }
            None => false,
        }
    } else {
        THREADS.insert(&tid, state, 0).is_ok()
    }
}

/// The slot of the current thread's process, giving a new process (a traced thread's child
/// that now runs under its own tgid) a slot of its own at its first event.
#[inline(always)]
fn slot_of<C: EbpfContext>(ctx: &C, entry: &mut ThreadState, tgid: u32) -> u32 {
    if entry.tgid != tgid {
        let parent_slot = entry.slot;
        let slot = take_slot(tgid);
        if slot == SHARED_SLOT {
            warn!(
                ctx,
                "no free process slot: process {} shares the last one", tgid
            );
        } else {
            info!(
                ctx,
                "process {} (started from slot {}) has slot {}", tgid, parent_slot, slot
            );
        }
        let mut process = ProcessSlot {
            tgid,
            parent_slot,
            comm: [0; 16],
        };
        if let Ok(comm) = bpf_get_current_comm() {
            process.comm = comm;
        }
        if let Some(info) = PROCESSES.get_ptr_mut(slot) {
            // SAFETY: a live array element; only this new process's first event writes it.
            unsafe { *info = process };
        }
        // The child inherits its parent's phase.
        let measuring = PHASE.get(parent_slot).copied().unwrap_or(0);
        if let Some(phase) = PHASE.get_ptr_mut(slot) {
            // SAFETY: a live array element.
            unsafe { *phase = measuring };
        }
        entry.tgid = tgid;
        entry.slot = slot;
    }
    entry.slot
}

/// Claims a free process slot for `tgid`, or gives the shared last one when every slot is
/// taken. `NEXT_SLOT` is only a hint of where to start (its update is not atomic: the BPF
/// target's fetch-and-add needs ISA v3); the claim itself is the `BPF_NOEXIST` insert.
#[inline(always)]
fn take_slot(tgid: u32) -> u32 {
    let Some(next) = NEXT_SLOT.get_ptr_mut(0) else {
        return SHARED_SLOT;
    };
    // SAFETY: a live, 8-aligned array element; a racy read only costs a retry below.
    let mut slot = unsafe { *next }.min(SHARED_SLOT as u64) as u32;
    for _ in 0..SHARED_SLOT {
        if slot >= SHARED_SLOT {
            break;
        }
        if CLAIMS.insert(&slot, &tgid, BPF_NOEXIST).is_ok() {
            // SAFETY: as above.
            unsafe { *next = u64::from(slot) + 1 };
            return slot;
        }
        slot += 1;
    }
    SHARED_SLOT
}

/// True inside the measured phase of process slot `slot`.
#[inline(always)]
fn measuring(slot: u32) -> bool {
    PHASE.get(slot).is_some_and(|phase| *phase != 0)
}

/// Adds `value` to the u64 at `ptr`, which other CPUs update too (one atomic add; its result
/// is not used: the fetching form needs BPF ISA v3).
///
/// # Safety
/// `ptr` points at a live, 8-aligned u64 in a map value.
#[inline(always)]
unsafe fn atomic_add(ptr: *mut u64, value: u64) {
    // SAFETY: the caller's promise; the intrinsic is the atomic add of `AtomicU64::fetch_add`.
    unsafe {
        core::intrinsics::atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(ptr, value);
    }
}

/// Reads a field of the tracepoint record at a fixed offset.
#[inline(always)]
fn field<T: Copy>(ctx: &TracePointContext, offset: usize) -> T {
    // SAFETY: `offset` is a constant checked against the tracepoint's format by userspace before
    // loading, and the verifier checks the access lies inside the record.
    unsafe { *(ctx.as_ptr() as *const u8).add(offset).cast::<T>() }
}

/// Adds `value` to the u64 at `ptr`, a field of a per-CPU map value.
///
/// A plain add is enough: tracepoint programs run with preemption disabled, so nothing else
/// touches this CPU's slot meanwhile.
#[inline(always)]
fn add(ptr: *mut u64, value: u64) {
    // SAFETY: `ptr` points into a map value that lives as long as the map, is 8-aligned, and is
    // this CPU's own slot.
    unsafe { *ptr = (*ptr).wrapping_add(value) };
}

// The syscall programs come twice: as tracepoints (`tp`, which read the event record) and as
// raw tracepoints (`raw_tp`, which get the arguments directly and skip building the record).
// Userspace attaches the cheapest kind the kernel accepts; both share the handlers below.

#[tracepoint]
pub fn sys_enter(ctx: TracePointContext) -> u32 {
    on_sys_enter(&ctx, field::<i64>(&ctx, offsets::SYS_ENTER_ID), || {
        field::<u64>(&ctx, offsets::SYS_ENTER_ARGS + 16)
    });
    0
}

#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    on_sys_exit(&ctx, field::<i64>(&ctx, offsets::SYS_EXIT_RET));
    0
}

/// `raw_syscalls:sys_enter(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter_raw(ctx: RawTracePointContext) -> i32 {
    let regs: *const u8 = ctx.arg(0);
    on_sys_enter(&ctx, ctx.arg::<i64>(1), || {
        // SAFETY: `regs` is the syscall's saved registers; the helper checks the address.
        unsafe { bpf_probe_read_kernel(regs.wrapping_add(PT_REGS_DX).cast::<u64>()) }.unwrap_or(0)
    });
    0
}

/// `raw_syscalls:sys_exit(struct pt_regs *regs, long ret)`.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit_raw(ctx: RawTracePointContext) -> i32 {
    on_sys_exit(&ctx, ctx.arg::<i64>(1));
    0
}

/// This CPU's [`OnCpu`] record, when context switches are traced (without them a thread could
/// leave the CPU inside a syscall unnoticed).
#[inline(always)]
fn on_cpu() -> Option<&'static mut OnCpu> {
    if SWITCHES_TRACED.get(0).is_none_or(|on| *on == 0) {
        return None;
    }
    // SAFETY: this CPU's own element; programs run with preemption off, one at a time per CPU.
    ON_CPU.get_ptr_mut(0).map(|p| unsafe { &mut *p })
}

/// Remembers the syscall `nr` the current thread entered, if its process is measuring.
#[inline(always)]
fn on_sys_enter<C: EbpfContext>(ctx: &C, nr: i64, third_arg: impl Fn() -> u64) {
    // The sends that return 0 on success say how much they copy in their third argument.
    let sent_len = if SENDS_RETURNING_ZERO.contains(&(nr as u64)) {
        third_arg()
    } else {
        0
    };
    let (tgid, tid) = current_ids();
    let Some(cpu) = on_cpu() else {
        // No fast path: the call is kept in the thread's entry.
        let Some(entry) = thread(tid) else {
            return;
        };
        if measuring(slot_of(ctx, entry, tgid)) {
            entry.nr = nr as u64;
            entry.sent_len = sent_len;
            entry.off_cpu_ns = 0;
            // SAFETY: a helper without arguments.
            entry.start_ns = unsafe { bpf_ktime_get_ns() };
        }
        return;
    };
    let slot = if cpu.tid == tid && tid != 0 {
        cpu.slot
    } else {
        let Some(entry) = thread(tid) else {
            return;
        };
        let slot = slot_of(ctx, entry, tgid);
        cpu.tid = tid;
        cpu.slot = slot;
        slot
    };
    if !measuring(slot) {
        cpu.start_ns = 0;
        return;
    }
    cpu.nr = nr as u64;
    cpu.sent_len = sent_len;
    cpu.off_cpu_ns = 0;
    // SAFETY: a helper without arguments.
    cpu.start_ns = unsafe { bpf_ktime_get_ns() };
}

/// Counts the syscall the current thread leaves with `ret`, if it entered inside the phase.
#[inline(always)]
fn on_sys_exit<C: EbpfContext>(ctx: &C, ret: i64) {
    let (tgid, tid) = current_ids();
    let fast = match on_cpu() {
        Some(cpu) if cpu.tid == tid && cpu.start_ns != 0 => {
            // The call is on this CPU's record: no lookup.
            let start_ns = cpu.start_ns;
            cpu.start_ns = 0;
            Some((cpu.slot, (cpu.nr, cpu.sent_len), start_ns, cpu.off_cpu_ns))
        }
        _ => None,
    };
    let (slot, nr, start_ns, off_cpu_ns) = match fast {
        Some(call) => call,
        None => {
            // Switched out inside the call (or no fast path): its entry holds the call.
            let Some(entry) = thread(tid) else {
                return;
            };
            let slot = slot_of(ctx, entry, tgid);
            let start_ns = entry.start_ns;
            if start_ns == 0 {
                return; // No syscall in flight: it began outside the phase.
            }
            entry.start_ns = 0;
            (slot, (entry.nr, entry.sent_len), start_ns, entry.off_cpu_ns)
        }
    };
    // A call that began inside the phase but ends outside it (the call that closes the phase)
    // is not counted.
    if !measuring(slot) || slot >= MAX_TRACED_PROCESSES {
        return;
    }
    count_syscall(slot, nr, ret, start_ns, off_cpu_ns);
}

/// Adds one completed syscall `nr` of process `slot` to the figures.
#[inline(always)]
fn count_syscall(slot: u32, (nr, sent_len): (u64, u64), ret: i64, start_ns: u64, off_cpu_ns: u64) {
    // SAFETY: a helper without arguments.
    let took = unsafe { bpf_ktime_get_ns() }.wrapping_sub(start_ns);
    let index = syscall_index(
        slot,
        if nr < SYSCALL_NR_OTHER as u64 {
            nr as u32
        } else {
            SYSCALL_NR_OTHER
        },
    );
    if let Some(stat) = SYSCALLS.get_ptr_mut(index) {
        // SAFETY: `stat` points at a live per-CPU map value; only its u64 fields are touched.
        unsafe {
            add(&raw mut (*stat).count, 1);
            add(&raw mut (*stat).total_ns, took);
            if ret > 0 {
                add(&raw mut (*stat).ret_sum, ret as u64);
            } else if ret == 0 && sent_len != 0 {
                add(&raw mut (*stat).ret_sum, sent_len);
            } else if ret < 0 {
                add(&raw mut (*stat).errors, 1);
            }
        }
    }
    if let Some(histogram) = LATENCY.get_ptr_mut(index) {
        let bucket = latency_bucket(took);
        // SAFETY: a live array element shared by all CPUs, hence the atomic add; the bucket
        // index is below LATENCY_BUCKETS.
        unsafe {
            let counter = (&raw mut (*histogram).buckets)
                .cast::<u64>()
                .add(bucket & (LATENCY_BUCKETS - 1));
            atomic_add(counter, 1);
        }
    }
    if off_cpu_ns != 0 {
        if let Some(sched) = SCHED.get_ptr_mut(slot) {
            // SAFETY: as above.
            unsafe { add(&raw mut (*sched).off_cpu_in_syscall_ns, off_cpu_ns) };
        }
    }
    if ret == 0 && (nr == EXEC_SYSCALLS[0] || nr == EXEC_SYSCALLS[1]) {
        renamed(slot);
    }
}

/// The process in `slot` ran `execve`: its slot takes the new command name.
#[inline(always)]
fn renamed(slot: u32) {
    if let (Some(info), Ok(comm)) = (PROCESSES.get_ptr_mut(slot), bpf_get_current_comm()) {
        // SAFETY: a live array element; only this process's own events write its slot.
        unsafe { (*info).comm = comm };
    }
}

// The scheduler programs come twice too: as `tp_btf` programs (the kernel calls them with the
// tracepoint's own arguments, through a trampoline, without building a record) and as
// tracepoints, for kernels without BTF. Userspace attaches the first kind it can.

#[tracepoint]
pub fn sched_switch(ctx: TracePointContext) -> u32 {
    let prev_pid: i32 = field(&ctx, offsets::SWITCH_PREV_PID);
    let prev_state: i64 = field(&ctx, offsets::SWITCH_PREV_STATE);
    let preempted = prev_state == 0 || prev_state & PREV_STATE_PREEMPTED != 0;
    let next_pid: i32 = field(&ctx, offsets::SWITCH_NEXT_PID);
    on_switch(prev_pid as u32, preempted, next_pid as u32);
    0
}

/// `sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
/// unsigned int prev_state)`; `prev` is the current task.
#[btf_tracepoint(function = "sched_switch")]
pub fn sched_switch_btf(ctx: BtfTracePointContext) -> i32 {
    let preempt: u64 = ctx.arg(0);
    let next: *const u8 = ctx.arg(2);
    let prev_state: u64 = ctx.arg(3);
    let (_, prev_pid) = current_ids();
    // A task that is still runnable was preempted (or yielded), as the tracepoint reports.
    let preempted = preempt & 1 != 0 || prev_state == 0;
    on_switch(prev_pid, preempted, task_pid(next));
    0
}

/// The pid (thread id) of the task at `task`, or 0 if it cannot be read.
#[inline(always)]
fn task_pid(task: *const u8) -> u32 {
    // SAFETY: a plain read of a global the loader set; volatile so that the compiler does not
    // fold the placeholder value (the verifier knows it: the global is read-only data).
    let offset = unsafe { core::ptr::read_volatile(&TASK_PID_OFFSET) } as usize;
    // SAFETY: `task` is a task_struct pointer the kernel passed (tp_btf arguments are typed
    // and trusted), and `offset` is where its pid field lies, from the kernel's own BTF; the
    // verifier checks the load against that type.
    unsafe { *task.add(offset).cast::<i32>() as u32 }
}

/// One context switch on this CPU: `prev` leaves it, `next` comes on (0 is the idle task).
#[inline(always)]
fn on_switch(prev_pid: u32, preempted: bool, next_pid: u32) {
    if prev_pid != 0 {
        switched_out(prev_pid, preempted);
    }
    if next_pid != 0 {
        switched_in(next_pid);
    }
}

/// Now, in ns (read only once a traced thread is involved: most switches are not).
#[inline(always)]
fn now_ns() -> u64 {
    // SAFETY: a helper without arguments.
    unsafe { bpf_ktime_get_ns() }
}

/// Counts a switch away from a traced thread and remembers when it left the CPU.
#[inline(always)]
fn switched_out(tid: u32, preempted: bool) {
    let Some(entry) = thread(tid) else {
        return;
    };
    // Its syscall in flight, if any, leaves this CPU with it.
    if let Some(cpu) = on_cpu() {
        if cpu.tid == tid {
            entry.nr = cpu.nr;
            entry.sent_len = cpu.sent_len;
            entry.start_ns = cpu.start_ns;
            entry.off_cpu_ns = cpu.off_cpu_ns;
            cpu.tid = 0;
            cpu.start_ns = 0;
        }
    }
    let slot = entry.slot;
    if !measuring(slot) {
        return;
    }
    if let Some(sched) = SCHED.get_ptr_mut(slot) {
        // SAFETY: `sched` points at a live per-CPU map value.
        unsafe {
            if preempted {
                add(&raw mut (*sched).involuntary_switches, 1);
            } else {
                add(&raw mut (*sched).voluntary_switches, 1);
            }
        }
    }
    entry.switched_at_ns = now_ns();
    entry.woken_ns = 0;
}

/// Adds the off-CPU time of a traced thread coming back onto a CPU.
#[inline(always)]
fn switched_in(tid: u32) {
    let Some(entry) = thread(tid) else {
        return;
    };
    let switched_at = entry.switched_at_ns;
    if switched_at == 0 {
        return; // Not switched out inside a measured phase.
    }
    let now = now_ns();
    entry.switched_at_ns = 0;
    let off_cpu = now.wrapping_sub(switched_at);
    if let Some(sched) = SCHED.get_ptr_mut(entry.slot) {
        // SAFETY: `sched` points at a live per-CPU map value.
        unsafe {
            add(&raw mut (*sched).off_cpu_ns, off_cpu);
            if entry.woken_ns != 0 {
                add(
                    &raw mut (*sched).wake_to_run_ns,
                    now.wrapping_sub(entry.woken_ns),
                );
            }
        }
    }
    if entry.start_ns != 0 {
        entry.off_cpu_ns = entry.off_cpu_ns.wrapping_add(off_cpu);
        // Its syscall in flight comes back onto this CPU's record (the thread that left this
        // CPU just now took its own call along), so that the exit needs no lookup.
        if let Some(cpu) = on_cpu() {
            if cpu.start_ns == 0 {
                cpu.tid = tid;
                cpu.slot = entry.slot;
                cpu.nr = entry.nr;
                cpu.sent_len = entry.sent_len;
                cpu.start_ns = entry.start_ns;
                cpu.off_cpu_ns = entry.off_cpu_ns;
                entry.start_ns = 0;
            }
        }
    }
}

/// A thread was made runnable (tracepoint).
#[tracepoint]
pub fn sched_wakeup(ctx: TracePointContext) -> u32 {
    on_wakeup(field::<i32>(&ctx, offsets::WAKEUP_PID) as u32);
    0
}

/// `sched_wakeup(struct task_struct *p)`.
#[btf_tracepoint(function = "sched_wakeup")]
pub fn sched_wakeup_btf(ctx: BtfTracePointContext) -> i32 {
    on_wakeup(task_pid(ctx.arg(0)));
    0
}

/// If `tid` is a traced thread switched out inside its phase, counts the wake-up and remembers
/// when, for the wake-to-run delay at its switch-in.
#[inline(always)]
fn on_wakeup(tid: u32) {
    let Some(entry) = thread(tid) else {
        return;
    };
    if entry.switched_at_ns == 0 || entry.woken_ns != 0 {
        return;
    }
    // SAFETY: a helper without arguments.
    entry.woken_ns = unsafe { bpf_ktime_get_ns() };
    if let Some(sched) = SCHED.get_ptr_mut(entry.slot) {
        // SAFETY: `sched` points at a live per-CPU map value.
        unsafe { add(&raw mut (*sched).wakeups, 1) };
    }
}

/// Bytes a traced process copies out of a socket buffer into user memory (receive paths).
#[tracepoint]
pub fn skb_copy_datagram_iovec(ctx: TracePointContext) -> u32 {
    on_skb_copy(&ctx, field::<i32>(&ctx, offsets::SKB_COPY_LEN));
    0
}

/// `skb_copy_datagram_iovec(const struct sk_buff *skb, int len)`.
#[btf_tracepoint(function = "skb_copy_datagram_iovec")]
pub fn skb_copy_datagram_iovec_btf(ctx: BtfTracePointContext) -> i32 {
    let len: i32 = ctx.arg(1);
    on_skb_copy(&ctx, len);
    0
}

/// Adds `len` bytes copied out of a socket buffer by the current thread, if it is measuring.
#[inline(always)]
fn on_skb_copy<C: EbpfContext>(ctx: &C, len: i32) {
    if len <= 0 {
        return;
    }
    let (tgid, tid) = current_ids();
    // Inside a syscall on this CPU: the fast path's record names the thread's slot.
    let slot = match on_cpu() {
        Some(cpu) if cpu.tid == tid && tid != 0 => cpu.slot,
        _ => {
            let Some(entry) = thread(tid) else {
                return;
            };
            slot_of(ctx, entry, tgid)
        }
    };
    if !measuring(slot) {
        return;
    }
    if let Some(bytes) = SKB_COPIED.get_ptr_mut(slot) {
        add(bytes, len as u64);
    }
}

/// A traced thread started a thread or a process: the new task is traced too. It starts in
/// its parent's slot; if it is a process, its first event gives it a slot of its own.
#[tracepoint]
pub fn sched_process_fork(ctx: TracePointContext) -> u32 {
    // This runs in the parent's context.
    let (_, tid) = current_ids();
    let Some(parent) = thread(tid) else {
        return 0;
    };
    let child = ThreadState {
        tgid: parent.tgid,
        slot: parent.slot,
        ..ThreadState::default()
    };
    let child_tid = field::<i32>(&ctx, offsets::FORK_CHILD_PID) as u32;
    if !new_thread(child_tid, &child) {
        warn!(
            &ctx,
            "the thread table is full: task {} is not traced", child_tid
        );
    }
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
