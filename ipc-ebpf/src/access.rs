//! Reading tracepoint records, the current ids, and adding to map values.

use core::intrinsics::AtomicOrdering;

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, programs::TracePointContext, EbpfContext};

/// The current thread's (tgid, tid).
#[inline(always)]
pub(crate) fn current_ids() -> (u32, u32) {
    let pid_tgid = bpf_get_current_pid_tgid();
    ((pid_tgid >> 32) as u32, pid_tgid as u32)
}

/// Adds `value` to the u64 at `ptr`, which other CPUs update too (one atomic add; its result
/// is not used: the fetching form needs BPF ISA v3).
///
/// # Safety
/// `ptr` points at a live, 8-aligned u64 in a map value.
#[inline(always)]
pub(crate) unsafe fn atomic_add(ptr: *mut u64, value: u64) {
    // SAFETY: the caller's promise; the intrinsic is the atomic add of `AtomicU64::fetch_add`.
    unsafe {
        core::intrinsics::atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(ptr, value);
    }
}

/// Reads a field of the tracepoint record at a fixed offset.
#[inline(always)]
pub(crate) fn field<T: Copy>(ctx: &TracePointContext, offset: usize) -> T {
    // SAFETY: `offset` is a constant checked against the tracepoint's format by userspace before
    // loading, and the verifier checks the access lies inside the record.
    unsafe { *(ctx.as_ptr() as *const u8).add(offset).cast::<T>() }
}

/// Adds `value` to the u64 at `ptr`, a field of a per-CPU map value.
///
/// A plain add is enough: tracepoint programs run with preemption disabled, so nothing else
/// touches this CPU's slot meanwhile.
#[inline(always)]
pub(crate) fn add(ptr: *mut u64, value: u64) {
    // SAFETY: `ptr` points into a map value that lives as long as the map, is 8-aligned, and is
    // this CPU's own slot.
    unsafe { *ptr = (*ptr).wrapping_add(value) };
}
