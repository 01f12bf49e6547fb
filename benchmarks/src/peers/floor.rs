//! The no-ring hand-off floor of a `peers` round trip: the same bytes moved the same way, with
//! nothing but a sequence word per direction.
//!
//! The initiator copies the message into direction 0's buffer and publishes its round in a
//! sequence word (release); the echo side waits for it (acquire), copies direction 0's buffer
//! straight into direction 1's and publishes; the initiator waits and copies direction 1's
//! buffer out. Three copies per round trip, as both peers make (send, echo, receive); each
//! waiter prefetches the start of its payload while it polls, as the ring's consumer does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ipc_core::shm::SharedMemory;

use super::message::{pattern, set_round};
use super::{Placement, RoundTrips, Rounds};
use crate::processes::pair_on;

/// Bytes the waiter prefetches: the ring's consumer prefetches its record's line and two more.
const PREFETCHED: usize = 192;

/// The median round trip in ns.
pub fn round_trip(size: usize, rounds: Rounds, placement: Placement) -> u64 {
    let lines = size.div_ceil(64) * 64;
    let stride = 64 + lines;
    let memory = SharedMemory::memfd("peers-floor", 2 * stride).expect("memfd");
    let base = memory.region().base();
    // SAFETY: a fresh shared mapping of 2 * stride bytes, page-aligned; direction d's sequence
    // word is at d * stride and its payload right after. A payload is written only before its
    // sequence number is published (release) and read only after it is seen (acquire); each
    // side waits for the other's answer before writing again.
    let sequence = |d: usize| unsafe { base.add(d * stride).cast::<AtomicU64>().as_ref() };
    // SAFETY: d is 0 or 1: d * stride + 64 + lines stays inside the mapping; only the address
    // is computed here.
    let payload = |d: usize| unsafe { base.add(d * stride + 64).as_ptr() };
    let wait = |d: usize, round: u64| {
        while sequence(d).load(Ordering::Acquire) != round + 1 {
            for line in (0..size.min(PREFETCHED)).step_by(64) {
                // SAFETY: a prefetch is a hint, not an access; the address is in the mapping.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        payload(d).add(line).cast(),
                    )
                };
            }
            std::hint::spin_loop();
        }
    };
    let total = rounds.total();
    pair_on(
        placement.cpus(),
        || {
            for round in 0..total {
                wait(0, round);
                // SAFETY: direction 0's payload was published for this round; direction 1's is
                // this side's until it publishes; both hold `size` bytes and do not overlap.
                unsafe { std::ptr::copy_nonoverlapping(payload(0), payload(1), size) };
                sequence(1).store(round + 1, Ordering::Release);
            }
        },
        || {
            let mut message = pattern(size);
            let mut reply = vec![0u8; size];
            let mut timed = RoundTrips::new(rounds);
            for round in 0..total {
                let start = Instant::now();
                set_round(&mut message, round);
                // SAFETY: direction 0's payload is this side's until it publishes the round.
                unsafe { std::ptr::copy_nonoverlapping(message.as_ptr(), payload(0), size) };
                sequence(0).store(round + 1, Ordering::Release);
                wait(1, round);
                // SAFETY: direction 1's payload was published for this round.
                unsafe { std::ptr::copy_nonoverlapping(payload(1), reply.as_mut_ptr(), size) };
                timed.record(round, &reply, start);
            }
            timed.p50(&reply, &message)
        },
    )
}
