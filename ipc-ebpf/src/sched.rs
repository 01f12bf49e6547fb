//! `sched_switch`, `sched_waking` and `sched_migrate_task`: context switches, on- and off-CPU
//! time, wake-ups, wake-to-run delay and CPU migrations of traced threads.

use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
};
use ipc_ebpf::{offsets, PREV_STATE_PREEMPTED};

use crate::access::{add, current_ids, field};
use crate::channels;
use crate::threads::{measuring, on_cpu, thread};
use crate::{SCHED, TASK_PID_OFFSET};

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
            entry.call = core::mem::take(&mut cpu.call);
            cpu.tid = 0;
        }
    }
    let slot = entry.slot;
    let on_cpu_since = core::mem::take(&mut entry.on_cpu_since_ns);
    if !measuring(slot) {
        return;
    }
    let now = now_ns();
    if let Some(sched) = SCHED.get_ptr_mut(slot) {
        // SAFETY: `sched` points at a live per-CPU map value.
        unsafe {
            if preempted {
                add(&raw mut (*sched).involuntary_switches, 1);
            } else {
                add(&raw mut (*sched).voluntary_switches, 1);
            }
            if on_cpu_since != 0 {
                add(&raw mut (*sched).on_cpu_ns, now.wrapping_sub(on_cpu_since));
            }
        }
    }
    entry.switched_at_ns = now;
    entry.woken_ns = 0;
}

/// Adds the off-CPU time of a traced thread coming back onto a CPU, and notes when it came on.
#[inline(always)]
fn switched_in(tid: u32) {
    let Some(entry) = thread(tid) else {
        return;
    };
    let switched_at = entry.switched_at_ns;
    let measured = measuring(entry.slot);
    if switched_at == 0 && !measured {
        return;
    }
    let now = now_ns();
    if measured {
        entry.on_cpu_since_ns = now;
    }
    if switched_at == 0 {
        return; // Not switched out inside a measured phase.
    }
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
    if entry.call.start_ns != 0 {
        entry.call.off_cpu_ns = entry.call.off_cpu_ns.wrapping_add(off_cpu);
        // Its syscall in flight comes back onto this CPU's record (the thread that left this
        // CPU just now took its own call along), so that the exit needs no lookup.
        if let Some(cpu) = on_cpu() {
            if cpu.call.start_ns == 0 {
                cpu.tid = tid;
                cpu.slot = entry.slot;
                cpu.call = core::mem::take(&mut entry.call);
            }
        }
    }
}

/// A thread is being woken (tracepoint). `sched_waking` fires in the waker's context;
/// `sched_wakeup` may fire on the wakee's CPU after an inter-processor interrupt, where the
/// waker is not current, so the wake-up is counted here, where its cause is known.
#[tracepoint]
pub fn sched_waking(ctx: TracePointContext) -> u32 {
    on_waking(field::<i32>(&ctx, offsets::WAKEUP_PID) as u32);
    0
}

/// `sched_waking(struct task_struct *p)`.
#[btf_tracepoint(function = "sched_waking")]
pub fn sched_waking_btf(ctx: BtfTracePointContext) -> i32 {
    on_waking(task_pid(ctx.arg(0)));
    0
}

/// If `tid` is a traced thread switched out inside its phase, counts the wake-up, remembers
/// when (for the wake-to-run delay at its switch-in) and charges it to the channel call the
/// waking thread is in.
#[inline(always)]
fn on_waking(tid: u32) {
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
    waker_call_woke();
}

/// Charges a wake-up to the channel call the waking (current) thread is inside, if any.
#[inline(always)]
fn waker_call_woke() {
    let (_, waker) = current_ids();
    if let Some(cpu) = on_cpu() {
        if cpu.tid == waker && cpu.call.start_ns != 0 {
            channels::woke_from(cpu.slot, &cpu.call);
            return;
        }
    }
    if let Some(entry) = thread(waker) {
        if entry.call.start_ns != 0 {
            channels::woke_from(entry.slot, &entry.call);
        }
    }
}

/// A task moves to another CPU (tracepoint).
#[tracepoint]
pub fn sched_migrate_task(ctx: TracePointContext) -> u32 {
    on_migrate(field::<i32>(&ctx, offsets::MIGRATE_PID) as u32);
    0
}

/// `sched_migrate_task(struct task_struct *p, int dest_cpu)`.
#[btf_tracepoint(function = "sched_migrate_task")]
pub fn sched_migrate_task_btf(ctx: BtfTracePointContext) -> i32 {
    on_migrate(task_pid(ctx.arg(0)));
    0
}

/// Counts the move of `tid` to another CPU, if it is a traced thread inside its phase.
#[inline(always)]
fn on_migrate(tid: u32) {
    let Some(entry) = thread(tid) else {
        return;
    };
    if !measuring(entry.slot) {
        return;
    }
    if let Some(sched) = SCHED.get_ptr_mut(entry.slot) {
        // SAFETY: `sched` points at a live per-CPU map value of this CPU.
        unsafe { add(&raw mut (*sched).migrations, 1) };
    }
}
