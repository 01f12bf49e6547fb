//! Which threads are traced, their process slots and phases, and the per-CPU record of the
//! syscall in flight.

use aya_ebpf::{helpers::bpf_get_current_comm, EbpfContext};
use aya_log_ebpf::{info, warn};
use ipc_ebpf::{OnCpu, ProcessSlot, SyscallInFlight, ThreadState, SHARED_SLOT};

use crate::{
    CLAIMS, NEXT_SLOT, ON_CPU, PHASE, PROCESSES, SWITCHES_TRACED, THREADS, THREADS_BY_INDEX,
    THREAD_TABLE,
};

/// True when the threads live in `THREAD_TABLE`.
#[inline(always)]
pub(crate) fn threads_by_index() -> bool {
    // SAFETY: a plain read of a global the loader set; volatile so that the compiler does not
    // fold the placeholder value.
    unsafe { core::ptr::read_volatile(&THREADS_BY_INDEX) != 0 }
}

/// The entry of thread `tid`, if it is traced.
#[inline(always)]
pub(crate) fn thread(tid: u32) -> Option<&'static mut ThreadState> {
    if threads_by_index() {
        THREAD_TABLE
            .get_ptr_mut(tid)
            .map(|entry| exclusive(entry))
            .filter(|entry| entry.tgid != 0)
    } else {
        THREADS.get_ptr_mut(&tid).map(|entry| exclusive(entry))
    }
}

/// A map entry of a traced thread, as a reference.
#[inline(always)]
fn exclusive(entry: *mut ThreadState) -> &'static mut ThreadState {
    // SAFETY: `entry` is a live map value the helper returned. An entry is only ever written
    // by events of its own thread (which run one at a time: on its CPU, with preemption off)
    // and by the wake-up of that thread while it is switched out; userspace writes it only
    // before the thread is traced.
    unsafe { &mut *entry }
}

/// Starts tracing thread `tid` with `state`; false when the table has no room for it.
#[inline(always)]
pub(crate) fn new_thread(tid: u32, state: &ThreadState) -> bool {
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

/// Stops tracing thread `tid`: its entry is cleared and this CPU's record forgets it.
#[inline(always)]
pub(crate) fn forget_thread(tid: u32) {
    if threads_by_index() {
        if let Some(entry) = THREAD_TABLE.get_ptr_mut(tid) {
            // SAFETY: a live array element; its thread is exiting and runs nothing else.
            unsafe { *entry = ThreadState::default() };
        }
    } else {
        let _ = THREADS.remove(&tid);
    }
    if let Some(cpu) = on_cpu() {
        if cpu.tid == tid {
            cpu.tid = 0;
            cpu.call = SyscallInFlight::default();
        }
    }
}

/// The slot of the current thread's process, giving a new process (a traced thread's child
/// that now runs under its own tgid) a slot of its own at its first event.
#[inline(always)]
pub(crate) fn slot_of<C: EbpfContext>(ctx: &C, entry: &mut ThreadState, tgid: u32) -> u32 {
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
        // A slot passed on to another process: descriptors cached under it are stale.
        let fd_generation = PROCESSES
            .get(slot)
            .map_or(0, |old| old.fd_generation.wrapping_add(1));
        let mut process = ProcessSlot {
            tgid,
            parent_slot,
            fd_generation,
            map_generation: fd_generation,
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
pub(crate) fn take_slot(tgid: u32) -> u32 {
    let Some(next) = NEXT_SLOT.get_ptr_mut(0) else {
        return SHARED_SLOT;
    };
    // SAFETY: a live, 8-aligned array element; a racy read only costs a retry below.
    let mut slot = unsafe { *next }.min(SHARED_SLOT as u64) as u32;
    for _ in 0..SHARED_SLOT {
        if slot >= SHARED_SLOT {
            break;
        }
        if CLAIMS
            .insert(&slot, &tgid, aya_ebpf::bindings::BPF_NOEXIST.into())
            .is_ok()
        {
            // SAFETY: the live, 8-aligned element read above; a racy store is only a hint.
            unsafe { *next = u64::from(slot) + 1 };
            return slot;
        }
        slot += 1;
    }
    SHARED_SLOT
}

/// True inside the measured phase of process slot `slot`.
#[inline(always)]
pub(crate) fn measuring(slot: u32) -> bool {
    PHASE.get(slot).is_some_and(|phase| *phase != 0)
}

/// The slot of the process the current thread belongs to, when it is traced and measuring.
#[inline(always)]
pub(crate) fn current_measuring_slot<C: EbpfContext>(ctx: &C) -> Option<u32> {
    let (tgid, tid) = crate::access::current_ids();
    // Inside a syscall on this CPU: the fast path's record names the thread's slot.
    let slot = match on_cpu() {
        Some(cpu) if cpu.tid == tid && tid != 0 => cpu.slot,
        _ => slot_of(ctx, thread(tid)?, tgid),
    };
    measuring(slot).then_some(slot)
}

/// This CPU's [`OnCpu`] record, when context switches are traced (without them a thread could
/// leave the CPU inside a syscall unnoticed).
#[inline(always)]
pub(crate) fn on_cpu() -> Option<&'static mut OnCpu> {
    if SWITCHES_TRACED.get(0).is_none_or(|on| *on == 0) {
        return None;
    }
    // SAFETY: this CPU's own element; programs run with preemption off, one at a time per CPU.
    ON_CPU.get_ptr_mut(0).map(|p| unsafe { &mut *p })
}
