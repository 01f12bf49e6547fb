//! One-way throughput of 1 MiB messages between two processes, against single-thread memcpy.
//!
//! The producer's copy into its grant *is* a memcpy into the ring's memory, so the reference
//! that isolates what the ring adds is a single thread copying the same messages into a buffer
//! of the ring's size, one slot after the next. A copy into one cache-hot 1 MiB buffer is
//! printed too: it never leaves the core's L2, which no hand-off to another core can match.

use std::time::Instant;

use ipc_core::shm::SharedMemory;
use ipc_core::spsc::Spsc;
use ipc_core::wait::Wait;

use crate::processes::pair;
use crate::stats::median;

const MESSAGE: usize = 1 << 20;
const MESSAGES: usize = 2_000;
/// The ring's data area: the smallest that takes 1 MiB messages (at most half of it).
const CAPACITY: usize = 4 << 20;
/// Interleaved runs of each measurement; medians are reported (the VM's neighbours move every
/// figure by tens of percent from one second to the next).
const RUNS: usize = 5;

/// Medians over [`RUNS`], in GB/s.
pub struct OneMib {
    /// Through an ipc-core ring, every cache line read by the consumer.
    pub ring: f64,
    /// memcpy of the same messages into a buffer of the ring's size.
    pub memcpy_same_footprint: f64,
    /// memcpy into one cache-hot 1 MiB buffer.
    pub memcpy_cache_hot: f64,
    /// The same hand-off without a ring: slots of the ring's size and a flag per slot.
    pub handoff_floor: f64,
}

/// Measures the three, interleaved.
pub fn one_mib() -> OneMib {
    let (mut ring, mut footprint, mut hot, mut floor) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        ring.push(through_ring());
        footprint.push(memcpy_cycling(CAPACITY));
        hot.push(memcpy_cycling(MESSAGE));
        floor.push(handoff_floor());
    }
    OneMib {
        ring: median(ring),
        memcpy_same_footprint: median(footprint),
        memcpy_cache_hot: median(hot),
        handoff_floor: median(floor),
    }
}

/// The producer writes each message into its grant with one copy, the consumer reads it in
/// place (summing one byte per cache line, so every line moves to the consumer's core).
fn through_ring() -> f64 {
    let memory = SharedMemory::memfd("throughput", Spsc::required_len(CAPACITY)).expect("memfd");
    let ring = Spsc::init(memory.region(), CAPACITY).expect("ring");
    let how = Wait::futex();
    pair(
        || {
            let mut producer = ring.producer().unwrap();
            let source = vec![3u8; MESSAGE];
            for _ in 0..MESSAGES {
                let mut grant = producer.reserve_blocking(MESSAGE, &how).expect("reserve");
                grant.copy_from_slice(&source);
                grant.commit();
            }
        },
        || {
            let mut consumer = ring.consumer().unwrap();
            let mut sum = 0u64;
            let start = Instant::now();
            for _ in 0..MESSAGES {
                let grant = consumer.read_blocking(&how).expect("read");
                sum += grant.iter().step_by(64).map(|b| u64::from(*b)).sum::<u64>();
                grant.release();
            }
            let seconds = start.elapsed().as_secs_f64();
            assert_eq!(sum, 3 * (MESSAGE as u64 / 64) * MESSAGES as u64);
            (MESSAGE * MESSAGES) as f64 / seconds / 1e9
        },
    )
}

/// The least a cross-core hand-off of 1 MiB messages costs: [`CAPACITY`] bytes of slots, one
/// flag per slot, the producer copies into a free slot and sets its flag, the consumer reads
/// one byte per cache line and clears it. No ring, no records, no indices.
fn handoff_floor() -> f64 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const SLOTS: usize = CAPACITY / MESSAGE;
    let memory = SharedMemory::memfd("handoff", CAPACITY + 4096).expect("memfd");
    let base = memory.region().base();
    // SAFETY: the first page holds the flags (one cache line each), zeroed by the memfd; the
    // slots follow. Each slot is written only by the producer while its flag is 0 and read only
    // by the consumer while it is 1, ordered by release/acquire on the flag.
    let flag = |slot: usize| unsafe { base.add(slot * 64).cast::<AtomicU32>().as_ref() };
    // SAFETY: slot < SLOTS, so 4096 + slot * MESSAGE stays inside the CAPACITY + 4096 bytes of
    // the mapping; only the address is computed here.
    let data = |slot: usize| unsafe { base.add(4096 + slot * MESSAGE).as_ptr() };
    pair(
        || {
            let source = vec![3u8; MESSAGE];
            for i in 0..MESSAGES {
                let slot = i % SLOTS;
                while flag(slot).load(Ordering::Acquire) != 0 {
                    std::hint::spin_loop();
                }
                // SAFETY: the slot is the producer's (flag 0) and MESSAGE bytes long.
                unsafe { std::ptr::copy_nonoverlapping(source.as_ptr(), data(slot), MESSAGE) };
                flag(slot).store(1, Ordering::Release);
            }
        },
        || {
            let mut sum = 0u64;
            let start = Instant::now();
            for i in 0..MESSAGES {
                let slot = i % SLOTS;
                while flag(slot).load(Ordering::Acquire) != 1 {
                    std::hint::spin_loop();
                }
                // SAFETY: the slot is the consumer's (flag 1) until it clears the flag.
                let bytes = unsafe { std::slice::from_raw_parts(data(slot), MESSAGE) };
                sum += bytes.iter().step_by(64).map(|b| u64::from(*b)).sum::<u64>();
                flag(slot).store(0, Ordering::Release);
            }
            let seconds = start.elapsed().as_secs_f64();
            assert_eq!(sum, 3 * (MESSAGE as u64 / 64) * MESSAGES as u64);
            (MESSAGE * MESSAGES) as f64 / seconds / 1e9
        },
    )
}

/// One thread copies the messages into a `footprint`-byte buffer, one slot after the next.
fn memcpy_cycling(footprint: usize) -> f64 {
    let source = vec![5u8; MESSAGE];
    let mut target = vec![0u8; footprint];
    let slots = footprint / MESSAGE;
    let start = Instant::now();
    for i in 0..MESSAGES {
        let at = (i % slots) * MESSAGE;
        target[at..at + MESSAGE].copy_from_slice(std::hint::black_box(&source));
        std::hint::black_box(&mut target);
    }
    (MESSAGE * MESSAGES) as f64 / start.elapsed().as_secs_f64() / 1e9
}
