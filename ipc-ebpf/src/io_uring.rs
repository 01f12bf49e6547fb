//! io_uring's own tracepoints: each request a traced process submits (`io_uring_submit_req`)
//! and each completion posted for it (`io_uring_complete`), which strace cannot see (it sees
//! only `io_uring_enter`).

use crate::access::add;
use crate::threads::current_measuring_slot;
use crate::IO_URING;
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};

/// A request submitted by the current thread (or by io_uring on its behalf).
#[tracepoint]
pub fn io_uring_submit_req(ctx: TracePointContext) -> u32 {
    count(&ctx, true);
    0
}

/// A completion posted while the current thread runs (the submitter reaping task work, or one
/// of its io_uring worker threads).
#[tracepoint]
pub fn io_uring_complete(ctx: TracePointContext) -> u32 {
    count(&ctx, false);
    0
}

/// Counts a submission (or a completion) for the current thread's process, if it is measuring.
#[inline(always)]
fn count(ctx: &TracePointContext, submission: bool) {
    let Some(slot) = current_measuring_slot(ctx) else {
        return;
    };
    let Some(stat) = IO_URING.get_ptr_mut(slot) else {
        return;
    };
    // SAFETY: this CPU's live element of a per-CPU array; only its u64 fields are touched.
    let field = unsafe {
        if submission {
            &raw mut (*stat).submissions
        } else {
            &raw mut (*stat).completions
        }
    };
    add(field, 1);
}
