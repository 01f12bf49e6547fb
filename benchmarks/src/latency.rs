//! Round trips between two processes: the cacheline floor, ipc-core rings, a bare futex.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use ipc_core::shm::SharedMemory;
use ipc_core::spsc::{Spsc, Wakeups};
use ipc_core::wait::{Strategy, Wait};

use crate::processes::pair;

const WARMUP: u64 = 10_000;
/// Bytes of a payload the floor's receiver prefetches while it polls: the lines the ring's
/// consumer prefetches (its record's first line and the two after it).
const PREFETCHED: usize = 192;

fn p50(samples: impl FnOnce(&mut Histogram<u64>)) -> u64 {
    let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("bounds");
    samples(&mut h);
    h.value_at_quantile(0.5)
}

/// The atomic `T` at the start of `memory` (a fresh shared mapping of at least a page).
pub fn word<T>(memory: &SharedMemory) -> &T {
    // SAFETY: a fresh page-aligned shared mapping of at least 4096 bytes; T is an atomic.
    unsafe { memory.region().base().cast::<T>().as_ref() }
}

/// One atomic bounced between the processes: the physical floor.
pub fn cacheline(rounds: u64) -> u64 {
    let memory = SharedMemory::memfd("floor", 4096).expect("memfd");
    let w: &AtomicU64 = word(&memory);
    pair(
        || {
            for i in 0..WARMUP + rounds {
                while w.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                w.store(2 * i + 2, Ordering::Release);
            }
        },
        || {
            p50(|h| {
                for i in 0..WARMUP + rounds {
                    let start = Instant::now();
                    w.store(2 * i + 1, Ordering::Release);
                    while w.load(Ordering::Acquire) != 2 * i + 2 {
                        std::hint::spin_loop();
                    }
                    if i >= WARMUP {
                        h.saturating_record(start.elapsed().as_nanos() as u64);
                    }
                }
            })
        },
    )
}

/// The least a `size`-byte ping-pong costs without a ring: per direction, a payload buffer on
/// its own cache lines and a sequence word on another, copied in and out as the ring does.
/// Moving a 128-byte message moves three cache lines where the cacheline floor moves one.
pub fn handoff_floor(rounds: u64, size: usize) -> u64 {
    let lines = size.div_ceil(64) * 64;
    let memory = SharedMemory::memfd("handoff", 2 * (64 + lines)).expect("memfd");
    let base = memory.region().base();
    // SAFETY: a fresh shared mapping of 2 * (64 + lines) bytes, page-aligned: direction d has
    // its sequence word at d * (64 + lines) and its payload right after it. A payload is
    // written only before its sequence number is published (release) and read only after it is
    // seen (acquire), and each side waits for the other's reply before writing again.
    let sequence = |d: usize| unsafe { base.add(d * (64 + lines)).cast::<AtomicU64>().as_ref() };
    // SAFETY: d is 0 or 1, so d * (64 + lines) + 64 stays inside the mapping's
    // 2 * (64 + lines) bytes; only the address is computed here.
    let payload = |d: usize| unsafe { base.add(d * (64 + lines) + 64).as_ptr() };
    let send = |d: usize, bytes: &[u8], n: u64| {
        // SAFETY: payload(d) has `lines` >= size bytes in the mapping, and the peer does not
        // read them until the sequence store below publishes them.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), payload(d), size) };
        sequence(d).store(n, Ordering::Release);
    };
    let receive = |d: usize, bytes: &mut [u8], n: u64| {
        while sequence(d).load(Ordering::Acquire) != n {
            // The ring's consumer prefetches the start of the payload while it polls; so does
            // the floor (all of a large payload would pull lines the writer is still writing).
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
        // SAFETY: the acquire load saw sequence n, so the peer wrote these `size` bytes (which
        // fit in payload(d)'s lines) before it and writes no more until this side answers.
        unsafe { std::ptr::copy_nonoverlapping(payload(d), bytes.as_mut_ptr(), size) };
    };
    pair(
        || {
            let mut buffer = vec![0u8; size];
            for i in 1..=WARMUP + rounds {
                receive(0, &mut buffer, i);
                send(1, &buffer, i);
            }
        },
        || {
            let message = vec![7u8; size];
            let mut echo = vec![0u8; size];
            p50(|h| {
                for i in 1..=WARMUP + rounds {
                    let start = Instant::now();
                    send(0, &message, i);
                    receive(1, &mut echo, i);
                    if i > WARMUP {
                        h.saturating_record(start.elapsed().as_nanos() as u64);
                    }
                }
                assert_eq!(echo, message);
            })
        },
    )
}

/// A ping-pong of `size`-byte messages over two ipc-core rings, copying in and out.
pub fn ring(rounds: u64, size: usize, how: Wait<'static>) -> u64 {
    let capacity = 64 << 10;
    let there = SharedMemory::memfd("there", Spsc::required_len(capacity)).expect("memfd");
    let back = SharedMemory::memfd("back", Spsc::required_len(capacity)).expect("memfd");
    let wakeups = match how.strategy {
        Strategy::BusyPoll => Wakeups::SpinOnly,
        _ => Wakeups::Futex,
    };
    let to = Spsc::init_with(there.region(), capacity, wakeups).expect("ring");
    let from = Spsc::init_with(back.region(), capacity, wakeups).expect("ring");
    pair(
        || {
            let (mut rx, mut tx) = (to.consumer().unwrap(), from.producer().unwrap());
            let mut buffer = vec![0u8; size];
            for _ in 0..WARMUP + rounds {
                rx.pop_blocking(&mut buffer, &how).expect("pop");
                tx.push_blocking(&buffer, &how).expect("push");
            }
        },
        || {
            let (mut tx, mut rx) = (to.producer().unwrap(), from.consumer().unwrap());
            let message = vec![7u8; size];
            let mut echo = vec![0u8; size];
            p50(|h| {
                for i in 0..WARMUP + rounds {
                    let start = Instant::now();
                    tx.push_blocking(&message, &how).expect("push");
                    rx.pop_blocking(&mut echo, &how).expect("pop");
                    if i >= WARMUP {
                        h.saturating_record(start.elapsed().as_nanos() as u64);
                    }
                }
                assert_eq!(echo, message);
            })
        },
    )
}

/// The least a futex hand-off costs: wait on a word, wake the peer, no spinning, no data.
pub fn bare_futex(rounds: u64) -> u64 {
    use rustix::thread::futex;
    let memory = SharedMemory::memfd("futex", 4096).expect("memfd");
    let w: &AtomicU32 = word(&memory);
    let wait_for = |value: u32| {
        while w.load(Ordering::Acquire) != value {
            let seen = w.load(Ordering::Acquire);
            if seen != value {
                let _ = futex::wait(w, futex::Flags::empty(), seen, None);
            }
        }
    };
    let set = |value: u32| {
        w.store(value, Ordering::Release);
        let _ = futex::wake(w, futex::Flags::empty(), 1);
    };
    let total = (WARMUP / 10 + rounds) as u32;
    pair(
        || {
            for i in 0..total {
                wait_for(2 * i + 1);
                set(2 * i + 2);
            }
        },
        || {
            p50(|h| {
                for i in 0..total {
                    let start = Instant::now();
                    set(2 * i + 1);
                    wait_for(2 * i + 2);
                    if u64::from(i) >= WARMUP / 10 {
                        h.saturating_record(start.elapsed().as_nanos() as u64);
                    }
                }
            })
        },
    )
}
