//! A software CPU-clock perf event on every CPU: each sample that finds a traced thread
//! running counts for its process, and one in user mode at a `pause` instruction counts as
//! spinning (what a spin-wait loop runs while it polls memory; a program that computes rarely
//! does), and each user-mode sample by its instruction's address (a polling loop without
//! `pause` runs at a handful). Userspace tells polling from computing with it (the
//! `busy-wait` finding).

use aya_ebpf::{
    helpers::bpf_probe_read_user, macros::perf_event, programs::PerfEventContext, EbpfContext,
};
use ipc_ebpf::{MAX_TRACED_PROCESSES, PAUSE, PT_REGS_CS, PT_REGS_IP};

use crate::access::{add, atomic_add, current_ids};
use crate::threads::{measuring, slot_of, thread};
use crate::{SAMPLED_ADDRESSES, SAMPLES};

#[perf_event]
pub fn cpu_sample(ctx: PerfEventContext) -> u32 {
    let (tgid, tid) = current_ids();
    let Some(entry) = thread(tid) else {
        return 0;
    };
    let slot = slot_of(&ctx, entry, tgid);
    if slot >= MAX_TRACED_PROCESSES || !measuring(slot) {
        return 0;
    }
    let regs = ctx.as_ptr().cast::<u8>();
    // SAFETY: a perf event program's context starts with the sampled task's saved registers
    // (`bpf_perf_event_data.regs`), which the verifier lets it load from at these offsets.
    let (ip, cs) = unsafe {
        (
            core::ptr::read_volatile(regs.add(PT_REGS_IP).cast::<u64>()),
            core::ptr::read_volatile(regs.add(PT_REGS_CS).cast::<u64>()),
        )
    };
    let user = cs & 3 == 3;
    let spinning = user && (at_pause(ip) || at_pause(ip.wrapping_sub(PAUSE.len() as u64)));
    let Some(stat) = SAMPLES.get_ptr_mut(slot) else {
        return 0;
    };
    // SAFETY: this CPU's live element of a per-CPU array; only its u64 fields are touched.
    unsafe {
        add(&raw mut (*stat).samples, 1);
        if user {
            add(&raw mut (*stat).user_samples, 1);
        }
        if spinning {
            add(&raw mut (*stat).pause_samples, 1);
        }
    }
    if user {
        count_address(slot, ip);
    }
    0
}

/// Counts a user-mode sample of process `slot` at instruction address `ip`.
#[inline(always)]
fn count_address(slot: u32, ip: u64) {
    let key = [u64::from(slot), ip];
    match SAMPLED_ADDRESSES.get_ptr_mut(&key) {
        // SAFETY: a live value of the map; other CPUs may add to it at the same time, hence
        // the atomic add.
        Some(count) => unsafe { atomic_add(count, 1) },
        None => {
            // A full map makes room (least recently used); another CPU inserting the same key
            // first loses one sample, no more.
            let _ = SAMPLED_ADDRESSES.insert(&key, &1, 0);
        }
    }
}

/// True when the user-space instruction at `ip` is `pause`.
#[inline(always)]
fn at_pause(ip: u64) -> bool {
    // SAFETY: the helper checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_user(ip as *const [u8; 2]) }.is_ok_and(|bytes| bytes == PAUSE)
}
