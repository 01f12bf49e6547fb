//! In-process SPSC throughput with 8-byte messages: ipc-core against rtrb and crossbeam's
//! ArrayQueue, two threads pinned to CPUs 0 and 1, the same number of messages each.

use std::time::Instant;

use ipc_core::spsc::{Spsc, Wakeups};
use ipc_core::Region;

use crate::processes::pin;

const MESSAGES: u64 = 20_000_000;

/// Runs of each contender, interleaved: the two threads settle either close together (every
/// message moves a cache line) or a ring apart, and which one a run gets varies, so one run
/// of each says little.
const RUNS: usize = 5;

/// A name and a run that returns messages per second.
type Contender = (&'static str, fn() -> f64);

pub fn run() {
    println!(
        "in-process SPSC, 8-byte messages, {MESSAGES} messages per run, median of {RUNS} runs \
         (millions of messages per second):"
    );
    // Spin-only rings are the like-for-like comparison: rtrb and ArrayQueue cannot block
    // either. The futex-capable ring pays one locked swap per commit so that a peer may sleep.
    let contenders: [Contender; 7] = [
        ("ipc-core spin-only (copy)", || {
            ipc_core_copy(Wakeups::SpinOnly)
        }),
        ("ipc-core spin-only (grants)", || {
            ipc_core_grants(Wakeups::SpinOnly)
        }),
        ("ipc-core spin-only (batched/32)", || {
            ipc_core_batched(Wakeups::SpinOnly)
        }),
        ("ipc-core futex-capable (copy)", || {
            ipc_core_copy(Wakeups::Futex)
        }),
        ("ipc-core futex-capable (batched/32)", || {
            ipc_core_batched(Wakeups::Futex)
        }),
        ("rtrb", rtrb),
        ("crossbeam ArrayQueue", crossbeam),
    ];
    let mut rates = vec![Vec::with_capacity(RUNS); contenders.len()];
    for _ in 0..RUNS {
        for (rate, (_, contender)) in rates.iter_mut().zip(&contenders) {
            rate.push(contender() / 1e6);
        }
    }
    for (mut rate, (name, _)) in rates.into_iter().zip(contenders) {
        rate.sort_by(f64::total_cmp);
        println!(
            "  {name:<36} {:>8.1}   (runs {:.1} to {:.1})",
            rate[RUNS / 2],
            rate[0],
            rate[RUNS - 1]
        );
    }
}

fn timed(producer: impl FnOnce() + Send, consumer: impl FnOnce()) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            pin(1);
            producer();
        });
        pin(0);
        consumer();
    });
    MESSAGES as f64 / start.elapsed().as_secs_f64()
}

fn ring_memory() -> Vec<u64> {
    vec![0u64; Spsc::required_len(1 << 16) / 8]
}

fn ipc_core_copy(wakeups: Wakeups) -> f64 {
    let mut memory = ring_memory();
    let ring = Spsc::init_with(Region::from_slice(&mut memory), 1 << 16, wakeups).expect("ring");
    let (mut tx, mut rx) = (ring.producer(), ring.consumer());
    timed(
        move || {
            for i in 0..MESSAGES {
                while tx.push(&i.to_le_bytes()).is_err() {
                    std::hint::spin_loop();
                }
            }
        },
        || {
            let mut buffer = [0u8; 8];
            for i in 0..MESSAGES {
                while rx.pop(&mut buffer).expect("pop").is_none() {
                    std::hint::spin_loop();
                }
                assert_eq!(u64::from_le_bytes(buffer), i);
            }
        },
    )
}

fn ipc_core_grants(wakeups: Wakeups) -> f64 {
    let mut memory = ring_memory();
    let ring = Spsc::init_with(Region::from_slice(&mut memory), 1 << 16, wakeups).expect("ring");
    let (mut tx, mut rx) = (ring.producer(), ring.consumer());
    timed(
        move || {
            for i in 0..MESSAGES {
                loop {
                    if let Ok(mut grant) = tx.reserve(8) {
                        grant.copy_from_slice(&i.to_le_bytes());
                        grant.commit();
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
        },
        || {
            for i in 0..MESSAGES {
                loop {
                    if let Some(grant) = rx.read().expect("read") {
                        assert_eq!(
                            u64::from_le_bytes(grant[..8].try_into().expect("8 bytes")),
                            i
                        );
                        grant.release();
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
        },
    )
}

/// The producer commits 32 messages before one flush (one publish, at most one wake-up).
fn ipc_core_batched(wakeups: Wakeups) -> f64 {
    let mut memory = ring_memory();
    let ring = Spsc::init_with(Region::from_slice(&mut memory), 1 << 16, wakeups).expect("ring");
    let (mut tx, mut rx) = (ring.producer(), ring.consumer());
    timed(
        move || {
            for i in 0..MESSAGES {
                loop {
                    if let Ok(mut grant) = tx.reserve(8) {
                        grant.copy_from_slice(&i.to_le_bytes());
                        grant.commit_deferred();
                        break;
                    }
                    tx.flush();
                    std::hint::spin_loop();
                }
                if i % 32 == 31 {
                    tx.flush();
                }
            }
            tx.flush();
        },
        || {
            let mut buffer = [0u8; 8];
            for i in 0..MESSAGES {
                while rx.pop(&mut buffer).expect("pop").is_none() {
                    std::hint::spin_loop();
                }
                assert_eq!(u64::from_le_bytes(buffer), i);
            }
        },
    )
}

fn rtrb() -> f64 {
    // The same bytes of buffer as ipc-core's 64 KiB ring holds of 16-byte records.
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(4096);
    timed(
        move || {
            for i in 0..MESSAGES {
                while tx.push(i).is_err() {
                    std::hint::spin_loop();
                }
            }
        },
        || {
            for i in 0..MESSAGES {
                loop {
                    if let Ok(v) = rx.pop() {
                        assert_eq!(v, i);
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
        },
    )
}

fn crossbeam() -> f64 {
    let queue = crossbeam_queue::ArrayQueue::<u64>::new(4096);
    let q = &queue;
    timed(
        move || {
            for i in 0..MESSAGES {
                while q.push(i).is_err() {
                    std::hint::spin_loop();
                }
            }
        },
        || {
            for i in 0..MESSAGES {
                loop {
                    if let Some(v) = q.pop() {
                        assert_eq!(v, i);
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
        },
    )
}
