//! `sched_process_fork` and `sched_process_exit`: a traced thread's new threads and processes
//! are traced too, and a thread that exits stops being traced.

use aya_ebpf::{helpers::bpf_ktime_get_ns, macros::tracepoint, programs::TracePointContext};
use aya_log_ebpf::warn;
use ipc_ebpf::{offsets, ThreadState};

use crate::access::{add, current_ids, field};
use crate::threads::{forget_thread, measuring, new_thread, thread};
use crate::SCHED;

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

/// A thread exits (this runs in its context): if it was traced, its entry goes, so that its
/// thread id, when the kernel hands it to a new thread during the trace, is not traced by
/// mistake (and, in the hash map, its room is free again).
#[tracepoint]
pub fn sched_process_exit(_ctx: TracePointContext) -> u32 {
    let (_, tid) = current_ids();
    let Some(entry) = thread(tid) else {
        return 0;
    };
    // Its last stretch on the CPU ends here.
    if entry.on_cpu_since_ns != 0 && measuring(entry.slot) {
        if let Some(sched) = SCHED.get_ptr_mut(entry.slot) {
            // SAFETY: a helper without arguments.
            let now = unsafe { bpf_ktime_get_ns() };
            // SAFETY: `sched` points at a live per-CPU map value of this CPU.
            unsafe {
                add(
                    &raw mut (*sched).on_cpu_ns,
                    now.wrapping_sub(entry.on_cpu_since_ns),
                )
            };
        }
    }
    forget_thread(tid);
    0
}
