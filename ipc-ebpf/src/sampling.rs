//! A software CPU-clock perf event on every CPU: each sample that finds a traced thread
//! running counts for its process, and one in user mode at a `pause` instruction counts as
//! spinning (what a spin-wait loop runs while it polls memory; a program that computes rarely
//! does). Userspace tells polling from computing with it (the `busy-wait` finding).

use aya_ebpf::{
    helpers::bpf_probe_read_user, macros::perf_event, programs::PerfEventContext, EbpfContext,
};
use ipc_ebpf::{MAX_TRACED_PROCESSES, PAUSE, PT_REGS_CS, PT_REGS_IP};

use crate::access::{add, current_ids};
use crate::threads::{measuring, slot_of, thread};
use crate::SAMPLES;

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
    0
}

/// True when the user-space instruction at `ip` is `pause`.
#[inline(always)]
fn at_pause(ip: u64) -> bool {
    // SAFETY: the helper checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_user(ip as *const [u8; 2]) }.is_ok_and(|bytes| bytes == PAUSE)
}
