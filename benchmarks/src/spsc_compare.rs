//! In-process SPSC throughput with 8-byte messages: ipc-core against rtrb and crossbeam's
//! ArrayQueue, two threads pinned to CPUs 0 and 1, the same number of messages each.

use std::time::Instant;

use ipc_core::spsc::{Consumer, Producer, Spsc, Wakeups};
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

/// Moves `MESSAGES` values 0, 1, ... from a producer thread (CPU 1) to this thread (CPU 0) and
/// returns messages per second. `send(i)` tries once to send `i`; `receive()` tries once to
/// take the next value. Both spin until they succeed; the receiver checks the order.
fn timed(
    mut send: impl FnMut(u64) -> bool + Send,
    mut receive: impl FnMut() -> Option<u64>,
) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        // `send` moves to the producer's thread: left on this stack, next to `receive`, the two
        // sides' local indices would share a cache line.
        s.spawn(move || {
            pin(1);
            for i in 0..MESSAGES {
                while !send(i) {
                    std::hint::spin_loop();
                }
            }
        });
        pin(0);
        for i in 0..MESSAGES {
            let value = loop {
                if let Some(value) = receive() {
                    break value;
                }
                std::hint::spin_loop();
            };
            assert_eq!(value, i);
        }
    });
    MESSAGES as f64 / start.elapsed().as_secs_f64()
}

/// Runs `run` with both sides of a fresh 64 KiB ipc-core ring in `wakeups` mode.
fn with_ring(wakeups: Wakeups, run: impl FnOnce(Producer<'_>, Consumer<'_>) -> f64) -> f64 {
    let mut memory = vec![0u64; Spsc::required_len(1 << 16) / 8];
    let ring = Spsc::init_with(Region::from_slice(&mut memory), 1 << 16, wakeups).expect("ring");
    run(ring.producer().unwrap(), ring.consumer().unwrap())
}

fn ipc_core_copy(wakeups: Wakeups) -> f64 {
    with_ring(wakeups, |mut tx, mut rx| {
        let mut buffer = [0u8; 8];
        timed(
            move |i| tx.push(&i.to_le_bytes()).is_ok(),
            || {
                let len = rx.pop(&mut buffer).expect("pop")?;
                Some(u64::from_le_bytes(
                    buffer[..len].try_into().expect("8 bytes"),
                ))
            },
        )
    })
}

fn ipc_core_grants(wakeups: Wakeups) -> f64 {
    with_ring(wakeups, |mut tx, mut rx| {
        timed(
            move |i| match tx.reserve(8) {
                Ok(mut grant) => {
                    grant.copy_from_slice(&i.to_le_bytes());
                    grant.commit();
                    true
                }
                Err(_) => false,
            },
            || {
                let grant = rx.read().expect("read")?;
                let value = u64::from_le_bytes(grant[..8].try_into().expect("8 bytes"));
                grant.release();
                Some(value)
            },
        )
    })
}

/// The producer commits 32 messages before one flush (one publish, at most one wake-up), and
/// flushes whenever the ring looks full.
fn ipc_core_batched(wakeups: Wakeups) -> f64 {
    with_ring(wakeups, |mut tx, mut rx| {
        let mut buffer = [0u8; 8];
        timed(
            move |i| match tx.reserve(8) {
                Ok(mut grant) => {
                    grant.copy_from_slice(&i.to_le_bytes());
                    grant.commit_deferred();
                    if i % 32 == 31 || i + 1 == MESSAGES {
                        tx.flush().expect("an honest ring");
                    }
                    true
                }
                Err(_) => {
                    tx.flush().expect("an honest ring");
                    false
                }
            },
            || {
                let len = rx.pop(&mut buffer).expect("pop")?;
                Some(u64::from_le_bytes(
                    buffer[..len].try_into().expect("8 bytes"),
                ))
            },
        )
    })
}

fn rtrb() -> f64 {
    // The same bytes of buffer as ipc-core's 64 KiB ring holds of 16-byte records.
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(4096);
    timed(move |i| tx.push(i).is_ok(), || rx.pop().ok())
}

fn crossbeam() -> f64 {
    let queue = crossbeam_queue::ArrayQueue::<u64>::new(4096);
    let q = &queue;
    timed(move |i| q.push(i).is_ok(), || q.pop())
}
