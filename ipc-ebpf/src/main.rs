//! The eBPF programs of `ipc-profiler trace` (target bpfel-unknown-none; built and kept by
//! `cargo xtask build-ebpf`).
//!
//! Every program starts with the cheapest possible filter: one hash lookup of the current tgid
//! in `TRACED`, and nothing else happens for a process that is not inside its measured phase.
//! Figures accumulate in per-CPU arrays indexed by small keys; userspace sums them at the end.
#![no_std]
#![no_main]

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, raw_tracepoint, tracepoint},
    maps::{HashMap, PerCpuArray},
    programs::{RawTracePointContext, TracePointContext},
    EbpfContext,
};
use ipc_ebpf::{
    offsets, syscall_index, InflightSyscall, SchedStat, SwitchedOut, SyscallStat, TracedProcess,
    MAX_TRACED_PROCESSES, PREV_STATE_PREEMPTED, SYSCALL_NR_OTHER, SYSCALL_SLOTS,
};

/// Threads a trace can follow at once (in-flight syscalls, switched-out threads).
const MAX_THREADS: u32 = 16384;

#[map]
static TRACED: HashMap<u32, TracedProcess> = HashMap::with_max_entries(MAX_TRACED_PROCESSES * 4, 0);

#[map]
static INFLIGHT: HashMap<u32, InflightSyscall> = HashMap::with_max_entries(MAX_THREADS, 0);

#[map]
static SWITCHED_OUT: HashMap<u32, SwitchedOut> = HashMap::with_max_entries(MAX_THREADS, 0);

#[map]
static SYSCALLS: PerCpuArray<SyscallStat> =
    PerCpuArray::with_max_entries(MAX_TRACED_PROCESSES * SYSCALL_SLOTS, 0);

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

/// The traced-process entry of `tgid`, if it has one.
#[inline(always)]
fn traced(tgid: u32) -> Option<TracedProcess> {
    // SAFETY: the value is plain data copied out at once; a concurrent update can at worst give
    // a stale phase flag for this one event.
    unsafe { TRACED.get(&tgid).copied() }
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
    on_sys_enter(field::<i64>(&ctx, offsets::SYS_ENTER_ID));
    0
}

#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    on_sys_exit(field::<i64>(&ctx, offsets::SYS_EXIT_RET));
    0
}

/// `raw_syscalls:sys_enter(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter_raw(ctx: RawTracePointContext) -> i32 {
    on_sys_enter(ctx.arg::<i64>(1));
    0
}

/// `raw_syscalls:sys_exit(struct pt_regs *regs, long ret)`.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit_raw(ctx: RawTracePointContext) -> i32 {
    on_sys_exit(ctx.arg::<i64>(1));
    0
}

/// Remembers the syscall `nr` the current thread entered, if its process is measuring.
#[inline(always)]
fn on_sys_enter(nr: i64) {
    let (tgid, tid) = current_ids();
    match traced(tgid) {
        Some(p) if p.measuring != 0 => {}
        _ => return,
    }
    let inflight = InflightSyscall {
        nr: nr as u64,
        // SAFETY: a helper without arguments.
        start_ns: unsafe { bpf_ktime_get_ns() },
        off_cpu_ns: 0,
    };
    // Entries are created once per thread and then overwritten in place: a hash map insert or
    // delete on every syscall costs far more than a lookup.
    match INFLIGHT.get_ptr_mut(&tid) {
        // SAFETY: the entry is this thread's own; nothing else writes it while it runs.
        Some(entry) => unsafe { *entry = inflight },
        None => {
            let _ = INFLIGHT.insert(&tid, &inflight, 0);
        }
    }
}

/// Counts the syscall the current thread leaves with `ret`, if it entered inside the phase.
#[inline(always)]
fn on_sys_exit(ret: i64) {
    let (tgid, tid) = current_ids();
    let Some(process) = traced(tgid) else {
        return;
    };
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(entry) = INFLIGHT.get_ptr_mut(&tid) else {
        return;
    };
    // SAFETY: the pointer came from a successful lookup; the entry is this thread's own.
    let inflight = unsafe { *entry };
    if inflight.start_ns == 0 {
        return; // No syscall in flight: it began outside the phase.
    }
    // SAFETY: as above. Marks the entry idle instead of deleting it.
    unsafe { (*entry).start_ns = 0 };
    // A call that began inside the phase but ends outside it (the call that closes the phase)
    // is not counted.
    if process.measuring == 0 || process.slot >= MAX_TRACED_PROCESSES {
        return;
    }
    let nr = if inflight.nr < SYSCALL_NR_OTHER as u64 {
        inflight.nr as u32
    } else {
        SYSCALL_NR_OTHER
    };
    if let Some(stat) = SYSCALLS.get_ptr_mut(syscall_index(process.slot, nr)) {
        // SAFETY: `stat` points at a live per-CPU map value; only its u64 fields are touched.
        unsafe {
            add(&raw mut (*stat).count, 1);
            add(
                &raw mut (*stat).total_ns,
                now.wrapping_sub(inflight.start_ns),
            );
            if ret > 0 {
                add(&raw mut (*stat).ret_sum, ret as u64);
            } else if ret < 0 {
                add(&raw mut (*stat).errors, 1);
            }
        }
    }
    if inflight.off_cpu_ns != 0 {
        if let Some(sched) = SCHED.get_ptr_mut(process.slot) {
            // SAFETY: as above.
            unsafe { add(&raw mut (*sched).off_cpu_in_syscall_ns, inflight.off_cpu_ns) };
        }
    }
}

#[tracepoint]
pub fn sched_switch(ctx: TracePointContext) -> u32 {
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    // This runs in the context of the task being switched out.
    let (tgid, _) = current_ids();
    if let Some(p) = traced(tgid) {
        if p.measuring != 0 && p.slot < MAX_TRACED_PROCESSES {
            switched_out(&ctx, p.slot, now);
        }
    }
    let next_pid: i32 = field(&ctx, offsets::SWITCH_NEXT_PID);
    switched_in(next_pid as u32, now);
    0
}

/// Counts a switch away from a traced thread and remembers when it left the CPU.
#[inline(always)]
fn switched_out(ctx: &TracePointContext, slot: u32, now: u64) {
    let prev_pid: i32 = field(ctx, offsets::SWITCH_PREV_PID);
    let prev_state: i64 = field(ctx, offsets::SWITCH_PREV_STATE);
    if let Some(sched) = SCHED.get_ptr_mut(slot) {
        let preempted = prev_state == 0 || prev_state & PREV_STATE_PREEMPTED != 0;
        // SAFETY: `sched` points at a live per-CPU map value.
        unsafe {
            if preempted {
                add(&raw mut (*sched).involuntary_switches, 1);
            } else {
                add(&raw mut (*sched).voluntary_switches, 1);
            }
        }
    }
    let out = SwitchedOut {
        at_ns: now,
        slot: slot as u64,
        woken_ns: 0,
    };
    let tid = prev_pid as u32;
    match SWITCHED_OUT.get_ptr_mut(&tid) {
        // SAFETY: the entry is this thread's own; it is being switched out on this CPU.
        Some(entry) => unsafe { *entry = out },
        None => {
            let _ = SWITCHED_OUT.insert(&tid, &out, 0);
        }
    }
}

/// Adds the off-CPU time of a traced thread coming back onto a CPU.
#[inline(always)]
fn switched_in(tid: u32, now: u64) {
    let Some(entry) = SWITCHED_OUT.get_ptr_mut(&tid) else {
        return;
    };
    // SAFETY: the pointer came from a successful lookup; the thread is switching in here.
    let out = unsafe { *entry };
    if out.at_ns == 0 {
        return; // Not switched out inside a measured phase.
    }
    // SAFETY: as above. Marks the entry idle instead of deleting it.
    unsafe { (*entry).at_ns = 0 };
    let off_cpu = now.wrapping_sub(out.at_ns);
    if out.slot < MAX_TRACED_PROCESSES as u64 {
        if let Some(sched) = SCHED.get_ptr_mut(out.slot as u32) {
            // SAFETY: `sched` points at a live per-CPU map value.
            unsafe {
                add(&raw mut (*sched).off_cpu_ns, off_cpu);
                if out.woken_ns != 0 {
                    add(
                        &raw mut (*sched).wake_to_run_ns,
                        now.wrapping_sub(out.woken_ns),
                    );
                }
            }
        }
    }
    if let Some(inflight) = INFLIGHT.get_ptr_mut(&tid) {
        // SAFETY: the pointer came from a successful lookup; the thread was switched out, so
        // nothing else touches its entry now.
        unsafe {
            if (*inflight).start_ns != 0 {
                add(&raw mut (*inflight).off_cpu_ns, off_cpu);
            }
        }
    }
}

/// A thread was made runnable: if it is a traced thread switched out inside its phase, count
/// the wake-up and remember when, for the wake-to-run delay at its switch-in.
#[tracepoint]
pub fn sched_wakeup(ctx: TracePointContext) -> u32 {
    let tid = field::<i32>(&ctx, offsets::WAKEUP_PID) as u32;
    let Some(entry) = SWITCHED_OUT.get_ptr_mut(&tid) else {
        return 0;
    };
    // SAFETY: the pointer came from a successful lookup; the thread is not running, so only
    // wake-up and switch-in touch its entry, and a thread is woken once before it runs.
    let out = unsafe { &mut *entry };
    if out.at_ns == 0 || out.woken_ns != 0 || out.slot >= MAX_TRACED_PROCESSES as u64 {
        return 0;
    }
    // SAFETY: a helper without arguments.
    out.woken_ns = unsafe { bpf_ktime_get_ns() };
    if let Some(sched) = SCHED.get_ptr_mut(out.slot as u32) {
        // SAFETY: `sched` points at a live per-CPU map value.
        unsafe { add(&raw mut (*sched).wakeups, 1) };
    }
    0
}

/// Bytes a traced process copies out of a socket buffer into user memory (receive paths).
#[tracepoint]
pub fn skb_copy_datagram_iovec(ctx: TracePointContext) -> u32 {
    let (tgid, _) = current_ids();
    let Some(process) = traced(tgid) else {
        return 0;
    };
    if process.measuring == 0 || process.slot >= MAX_TRACED_PROCESSES {
        return 0;
    }
    let len = field::<i32>(&ctx, offsets::SKB_COPY_LEN);
    if len > 0 {
        if let Some(bytes) = SKB_COPIED.get_ptr_mut(process.slot) {
            add(bytes, len as u64);
        }
    }
    0
}

/// A traced process forked: its child is traced too, into the same slot, so that tracing a
/// program covers what it starts. (New threads fire this event too; their entries, keyed by
/// thread id, are never looked up.)
#[tracepoint]
pub fn sched_process_fork(ctx: TracePointContext) -> u32 {
    // This runs in the parent's context.
    let (tgid, _) = current_ids();
    let Some(parent) = traced(tgid) else {
        return 0;
    };
    if parent.measuring == 0 {
        return 0;
    }
    let child = field::<i32>(&ctx, offsets::FORK_CHILD_PID) as u32;
    let _ = TRACED.insert(&child, &parent, 0);
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
