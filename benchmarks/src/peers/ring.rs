//! ipc-core's side of the comparison: two SPSC rings between two processes.
//!
//! Sending reserves `size` bytes in the ring and copies the whole message into them (the round
//! number included); receiving copies every byte of the record out before releasing it; the
//! echo side copies the record it reads straight into its reply's reservation. That is the same
//! work iceoryx2's side does with its loans and samples ([`super::iceoryx`]).

use std::time::Instant;

use ipc_core::shm::SharedMemory;
use ipc_core::spsc::{Consumer, Producer, Spsc, Wakeups};
use ipc_core::wait::{Strategy, Wait};

use super::message::{check, pattern, round_of, set_round};
use super::{Placement, RoundTrips, Rounds};
use crate::processes::pair_on;

/// The data area for `size`-byte messages, as a user would size it: the smallest power of two
/// that takes them (a message may use at most half of it), at least 64 KiB.
pub fn capacity_for(size: usize) -> usize {
    (2 * (size + 16)).next_power_of_two().max(64 << 10)
}

/// Two rings (there and back) in two memfds, laid out before the fork.
struct Rings {
    there: SharedMemory,
    back: SharedMemory,
}

impl Rings {
    fn new(size: usize, wakeups: Wakeups) -> Self {
        let capacity = capacity_for(size);
        let there =
            SharedMemory::memfd("peers-there", Spsc::required_len(capacity)).expect("memfd");
        let back = SharedMemory::memfd("peers-back", Spsc::required_len(capacity)).expect("memfd");
        for memory in [&there, &back] {
            Spsc::init_with(memory.region(), capacity, wakeups).expect("lay out a ring");
        }
        Self { there, back }
    }

    fn ring<'m>(&self, memory: &'m SharedMemory) -> Spsc<'m> {
        Spsc::attach(memory.region()).expect("attach a ring")
    }
}

fn send(producer: &mut Producer<'_>, message: &[u8], how: &Wait<'_>) {
    let mut grant = producer
        .reserve_blocking(message.len(), how)
        .expect("reserve");
    grant.copy_from_slice(message);
    grant.commit();
}

fn receive(consumer: &mut Consumer<'_>, into: &mut [u8], how: &Wait<'_>) {
    let grant = consumer.read_blocking(how).expect("read");
    into.copy_from_slice(&grant);
    grant.release();
}

fn echo(consumer: &mut Consumer<'_>, producer: &mut Producer<'_>, how: &Wait<'_>) -> u64 {
    let grant = consumer.read_blocking(how).expect("read");
    let mut reply = producer
        .reserve_blocking(grant.len(), how)
        .expect("reserve");
    reply.copy_from_slice(&grant);
    let round = round_of(&reply);
    reply.commit();
    grant.release();
    round
}

/// The median round trip in ns: busy-polling (`sleep` false) or sleeping on the futex at once
/// whenever a side has nothing to read (`sleep` true). Busy-polling rings are laid out
/// [`Wakeups::SpinOnly`]: a side that never sleeps needs no futex word, so its commits are plain
/// stores, not the swap that tells a sleeper.
pub fn round_trip(size: usize, rounds: Rounds, placement: Placement, sleep: bool) -> u64 {
    let (wakeups, how) = if sleep {
        let mut how = Wait::futex();
        how.strategy = Strategy::SpinThenFutex { spins: 0 };
        (Wakeups::Futex, how)
    } else {
        (Wakeups::SpinOnly, Wait::busy_poll())
    };
    round_trip_with(size, rounds, placement, wakeups, &how)
}

/// The busy-polling round trip over rings laid out for futex wake-ups ([`Wakeups::Futex`]), as
/// a ring whose sides may also sleep is: what [`Wakeups::SpinOnly`] saves `peers`' figure.
pub fn busy_round_trip_on_futex_rings(size: usize, rounds: Rounds, placement: Placement) -> u64 {
    round_trip_with(size, rounds, placement, Wakeups::Futex, &Wait::busy_poll())
}

fn round_trip_with(
    size: usize,
    rounds: Rounds,
    placement: Placement,
    wakeups: Wakeups,
    how: &Wait<'_>,
) -> u64 {
    let how = *how;
    let rings = Rings::new(size, wakeups);
    let total = rounds.total();
    pair_on(
        placement.cpus(),
        || {
            let (there, back) = (rings.ring(&rings.there), rings.ring(&rings.back));
            let (mut rx, mut tx) = (there.consumer().unwrap(), back.producer().unwrap());
            for round in 0..total {
                assert_eq!(echo(&mut rx, &mut tx, &how), round);
            }
        },
        || {
            let (there, back) = (rings.ring(&rings.there), rings.ring(&rings.back));
            let (mut tx, mut rx) = (there.producer().unwrap(), back.consumer().unwrap());
            let mut message = pattern(size);
            let mut reply = vec![0u8; size];
            let mut timed = RoundTrips::new(rounds);
            for round in 0..total {
                let start = Instant::now();
                set_round(&mut message, round);
                send(&mut tx, &message, &how);
                receive(&mut rx, &mut reply, &how);
                timed.record(round, &reply, start);
            }
            timed.p50(&reply, &message)
        },
    )
}

/// The mean one-way latency in ns as iceoryx2's own benchmark measures its side (see
/// [`super::iceoryx::as_its_authors_run_it`]): each side reserves its next message before it
/// waits, commits it without writing its bytes, and releases what it reads without reading
/// them; the time of `iterations` round trips over twice their number.
pub fn as_iceoryx2_runs_it(size: usize, iterations: u64, placement: Placement) -> f64 {
    let rings = Rings::new(size, Wakeups::SpinOnly);
    let how = Wait::busy_poll();
    pair_on(
        placement.cpus(),
        || {
            let (there, back) = (rings.ring(&rings.there), rings.ring(&rings.back));
            let (mut rx, mut tx) = (there.consumer().unwrap(), back.producer().unwrap());
            for _ in 0..iterations {
                let reply = tx.reserve_blocking(size, &how).expect("reserve");
                rx.read_blocking(&how).expect("read").release();
                reply.commit();
            }
        },
        || {
            let (there, back) = (rings.ring(&rings.there), rings.ring(&rings.back));
            let (mut tx, mut rx) = (there.producer().unwrap(), back.consumer().unwrap());
            let mut next = tx.reserve_blocking(size, &how).expect("reserve");
            let start = Instant::now();
            for _ in 0..iterations {
                next.commit();
                next = tx.reserve_blocking(size, &how).expect("reserve");
                rx.read_blocking(&how).expect("read").release();
            }
            start.elapsed().as_nanos() as f64 / (2 * iterations) as f64
        },
    )
}

/// One-way throughput in bytes per second, busy-polling: the child sends `messages` messages as
/// fast as the ring takes them, the parent copies each one out; timed from the first message
/// received to the last.
pub fn throughput(size: usize, messages: u64, placement: Placement) -> f64 {
    let rings = Rings::new(size, Wakeups::SpinOnly);
    let how = Wait::busy_poll();
    pair_on(
        placement.cpus(),
        || {
            let there = rings.ring(&rings.there);
            let mut tx = there.producer().unwrap();
            let mut message = pattern(size);
            for round in 0..messages {
                set_round(&mut message, round);
                send(&mut tx, &message, &how);
            }
        },
        || {
            let there = rings.ring(&rings.there);
            let mut rx = there.consumer().unwrap();
            let mut received = vec![0u8; size];
            receive(&mut rx, &mut received, &how);
            let start = Instant::now();
            for round in 1..messages {
                receive(&mut rx, &mut received, &how);
                assert_eq!(round_of(&received), round);
            }
            let seconds = start.elapsed().as_secs_f64();
            check(&received, messages - 1, &pattern(size));
            ((messages - 1) as usize * size) as f64 / seconds
        },
    )
}
