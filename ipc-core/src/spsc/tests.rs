use super::*;
use crate::doorbell::Doorbell;
use crate::role::{ClaimError, Role};
use crate::wait::{AssumeAlive, Dead};
#[cfg(not(miri))]
use crate::wait::{Strategy, WaitError};

extern crate std;
use crate::test_payloads::{plausible_payload, Rng};
use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

/// Word-aligned memory for a ring with `capacity` bytes of data.
fn memory(capacity: usize) -> Vec<u64> {
    vec![0u64; Spsc::required_len(capacity) / 8]
}

fn message(sequence: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (sequence as u8).wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

/// Random traffic through rings small and large, from the start and across the wrap of
/// positions at 2^31.
#[test]
fn messages_come_out_in_order_across_many_wraps() {
    let steps = if cfg!(miri) { 300 } else { 50_000 };
    for capacity in [16, 64, 256, 4096] {
        random_traffic(capacity, 0, steps);
    }
    random_traffic(1024, wake::POSITION - 4095, steps);
}

/// Large records rewind to the start of an empty ring: the same random traffic, with messages
/// on both sides of the rewind threshold.
#[test]
fn large_messages_come_out_in_order_across_rewinds_and_wraps() {
    random_traffic(1 << 17, 0, if cfg!(miri) { 4 } else { 5_000 });
}

/// The largest ring, where two laps make the whole position space (2^31): a record boundary
/// of the first lap that the second lap's wrap padding leaves untouched holds, at the third
/// lap, exactly the tag the consumer looks for there. Then random traffic of messages up to
/// the largest, many laps of it.
#[test]
#[cfg(not(miri))] // two GiB of copies: beyond what miri can run
fn the_largest_ring_never_takes_a_tag_two_laps_old_for_a_record() {
    let capacity = MAX_CAPACITY;
    let c = capacity as u32;
    let mut mem = memory(capacity);
    let ring = Spsc::init(Region::from_slice(&mut mem), capacity).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let largest = ring.max_message_len();
    let payload: Vec<u8> = (0..largest).map(|i| (i % 251) as u8).collect();
    // Payload lengths whose records end where each lap must: see the test's comment.
    let records_of = |records: &[u32]| -> Vec<usize> {
        records
            .iter()
            .map(|&r| r as usize - RECORD_HEADER)
            .collect()
    };
    let laps = [
        records_of(&[c / 2, c / 2 - 16, 16]), // lap 0: a boundary at c - 16
        records_of(&[c / 2, c / 2 - 32, 64]), // lap 1: wrap padding over c - 16
        records_of(&[c / 2, c / 2 - 80, 64]), // lap 2: back at c - 16, 2^31 later
    ];
    for len in laps.iter().flatten() {
        tx.push(&payload[..*len]).unwrap();
        let grant = rx.read().unwrap().expect("the message just sent");
        assert!(
            *grant == payload[..*len],
            "a {len}-byte message came out changed"
        );
        grant.release();
        assert!(rx.read().unwrap().is_none(), "a message nobody sent");
    }
    let mut rng = Rng(11);
    let mut model = VecDeque::new();
    for _ in 0..24 {
        let len = rng.below(largest + 1);
        if tx.push(&payload[..len]).is_ok() {
            model.push_back(len);
        } else {
            let grant = rx.read().unwrap().expect("a full ring has a message");
            let expected = model.pop_front().unwrap();
            assert!(*grant == payload[..expected]);
            grant.release();
        }
    }
    while let Some(expected) = model.pop_front() {
        let grant = rx.read().unwrap().expect("every message sent");
        assert!(*grant == payload[..expected]);
        grant.release();
    }
    assert!(rx.read().unwrap().is_none(), "a message nobody sent");
}

/// Random traffic against a queue as the model, from position `start`: pushes, deferred
/// commits and flushes, reads and pops of random lengths (0 to the largest the ring takes),
/// with payloads made of the words the ring's headers are made of (see `test_payloads`).
/// Exactly what was sent must come out, in order, and nothing else.
fn random_traffic(capacity: usize, start: u32, steps: usize) {
    let mut mem = memory(capacity);
    Spsc::init(Region::from_slice(&mut mem), capacity).unwrap();
    poke(&mut mem, HEAD_AT, start);
    poke(&mut mem, TAIL_AT, start);
    let ring = Spsc::attach(Region::from_slice(&mut mem)).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!((tx.head, rx.position()), (start, start));
    let max = ring.max_message_len();
    let mut committed: VecDeque<Vec<u8>> = VecDeque::new();
    let mut deferred: VecDeque<Vec<u8>> = VecDeque::new();
    let mut rng = Rng(7 + capacity as u64);
    let mut sent = 0;
    for _ in 0..steps {
        match rng.below(8) {
            0..=3 => {
                let near = [rx.position(), tx.head, tx.cached_tail];
                let len = rng.below(max + 1);
                let m = plausible_payload(&mut rng, len, &near, capacity as u32, max as u32);
                let deferring = rng.below(3) == 0;
                match tx.reserve(m.len()) {
                    Ok(mut grant) => {
                        grant.copy_from_slice(&m);
                        if deferring {
                            grant.commit_deferred();
                            deferred.push_back(m);
                        } else {
                            grant.commit();
                            committed.extend(deferred.drain(..));
                            committed.push_back(m);
                        }
                        sent += 1;
                    }
                    Err(ReserveError::Full) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            4 => {
                tx.flush().unwrap();
                committed.extend(deferred.drain(..));
            }
            5 => {
                let mut buffer = vec![0u8; max];
                match rx.pop(&mut buffer).unwrap() {
                    Some(len) => assert_eq!(
                        buffer[..len],
                        committed.pop_front().expect("a message nobody sent")[..]
                    ),
                    None => assert!(
                        committed.is_empty(),
                        "empty while {} published",
                        committed.len()
                    ),
                }
            }
            _ => match rx.read().unwrap() {
                Some(grant) => {
                    let expected = committed.pop_front().expect("a message nobody sent");
                    assert_eq!(&*grant, &expected[..]);
                    grant.release();
                }
                None => assert!(
                    committed.is_empty(),
                    "empty while {} published",
                    committed.len()
                ),
            },
        }
    }
    tx.flush().unwrap();
    committed.extend(deferred.drain(..));
    while let Some(expected) = committed.pop_front() {
        let grant = rx.read().unwrap().expect("every message sent");
        assert_eq!(&*grant, &expected[..]);
        grant.release();
    }
    assert!(rx.read().unwrap().is_none(), "a message nobody sent");
    // A run long enough to mean something sends plenty (under miri a few steps only).
    assert!(
        steps < 100 || sent > steps / 8,
        "only {sent} messages in {steps} steps"
    );
}

#[test]
fn a_large_message_on_an_empty_ring_goes_back_to_the_start_and_a_small_one_does_not() {
    let capacity = 1 << 17;
    let mut mem = memory(capacity);
    let ring = Spsc::init(Region::from_slice(&mut mem), capacity).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let mut where_read = |tx: &mut Producer<'_>, len: usize| {
        tx.push(&message(len as u64, len)).unwrap();
        let grant = rx.read().unwrap().unwrap();
        assert_eq!(&*grant, &message(len as u64, len)[..]);
        let at = grant.as_ptr() as usize;
        grant.release();
        rx.flush();
        at
    };
    let large = REWIND_MIN_RECORD as usize;
    let record = record_len(large);
    let start = where_read(&mut tx, large);
    assert_eq!(
        where_read(&mut tx, large),
        start + record,
        "room for one more behind"
    );
    assert_eq!(where_read(&mut tx, large), start, "rewound to the start");
    let small = where_read(&mut tx, 64);
    assert_eq!(small, start + record, "small records never rewind");
    // Not rewound while a message is unread: it would be overwritten.
    tx.push(&message(1, large)).unwrap();
    tx.push(&message(2, large)).unwrap();
    let first = rx.read().unwrap().unwrap();
    assert_eq!(&*first, &message(1, large)[..]);
    assert_eq!(first.as_ptr() as usize, small + record_len(64));
    first.release();
    let second = rx.read().unwrap().unwrap();
    assert_eq!(&*second, &message(2, large)[..]);
    assert_eq!(second.as_ptr() as usize, small + record_len(64) + record);
}

#[test]
fn a_full_ring_refuses_and_an_oversized_message_is_named() {
    let mut mem = memory(64);
    let ring = Spsc::init(Region::from_slice(&mut mem), 64).unwrap();
    let mut tx = ring.producer().unwrap();
    assert_eq!(ring.max_message_len(), 24);
    assert_eq!(
        tx.push(&[0; 25]),
        Err(ReserveError::TooLarge { len: 25, max: 24 })
    );
    tx.push(&[1; 24]).unwrap();
    tx.push(&[2; 24]).unwrap();
    assert_eq!(tx.push(&[3; 1]), Err(ReserveError::Full));
}

#[test]
fn zero_length_messages_are_messages() {
    let mut mem = memory(64);
    let ring = Spsc::init(Region::from_slice(&mut mem), 64).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    tx.push(&[]).unwrap();
    let grant = rx.read().unwrap().unwrap();
    assert!(grant.is_empty());
    grant.release();
    assert!(rx.read().unwrap().is_none());
}

#[test]
fn deferred_commits_appear_together_on_flush() {
    let mut mem = memory(256);
    let ring = Spsc::init(Region::from_slice(&mut mem), 256).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    for i in 0..3u8 {
        let mut grant = tx.reserve(4).unwrap();
        grant.copy_from_slice(&[i; 4]);
        grant.commit_deferred();
    }
    assert!(
        rx.read().unwrap().is_none(),
        "nothing is visible before flush"
    );
    tx.flush().unwrap();
    for i in 0..3u8 {
        let mut buffer = [0u8; 8];
        assert_eq!(rx.pop(&mut buffer).unwrap(), Some(4));
        assert_eq!(buffer[..4], [i; 4]);
    }
}

#[test]
fn an_abandoned_write_grant_publishes_nothing() {
    let mut mem = memory(64);
    let ring = Spsc::init(Region::from_slice(&mut mem), 64).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let abandoned = tx.reserve(8).unwrap();
    let _ = abandoned;
    tx.flush().unwrap();
    assert!(rx.read().unwrap().is_none());
}

#[test]
fn a_second_attach_sees_the_same_ring() {
    let mut mem = memory(128);
    let region = Region::from_slice(&mut mem);
    let ring = Spsc::init(region, 128).unwrap();
    ring.producer().unwrap().push(b"across").unwrap();
    let attached = Spsc::attach(region).unwrap();
    let mut buffer = [0u8; 16];
    assert_eq!(
        attached.consumer().unwrap().pop(&mut buffer).unwrap(),
        Some(6)
    );
    assert_eq!(&buffer[..6], b"across");
}

/// Byte offset of the head and tail words from the start of the region.
const HEAD_AT: usize = header::BLOCK_ALIGN;
const TAIL_AT: usize = header::BLOCK_ALIGN + 128;

fn poke(mem: &mut [u64], byte: usize, value: u32) {
    let word = &mut mem[byte / 8];
    let shift = (byte % 8) * 8;
    *word = (*word & !(0xffff_ffffu64 << shift)) | (u64::from(value) << shift);
}

#[test]
#[cfg(not(miri))] // miri cannot run the raw futex syscall rustix makes
fn a_head_published_past_missing_records_is_an_error() {
    let mut mem = memory(128);
    Spsc::init(Region::from_slice(&mut mem), 128).unwrap();
    // The producer claims a head with no record behind it.
    poke(&mut mem, HEAD_AT, 64);
    let ring = Spsc::attach(Region::from_slice(&mut mem)).unwrap();
    let mut rx = ring.consumer().unwrap();
    assert!(
        rx.read().unwrap().is_none(),
        "a polling reader sees no message"
    );
    let how = Wait::futex().with_timeout(core::time::Duration::from_secs(5));
    assert_eq!(
        rx.read_blocking(&how).unwrap_err(),
        ReadError::Corrupt(Corruption::Unpublished { head: 64, tail: 0 })
    );
}

#[test]
fn a_stale_tag_from_an_earlier_lap_is_not_a_message() {
    let mut mem = memory(64);
    let ring = Spsc::init(Region::from_slice(&mut mem), 64).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let mut buffer = [0u8; 32];
    // Two laps of the data area: every offset has held an older record.
    for round in 0..8u8 {
        tx.push(&[round; 24]).unwrap();
        assert_eq!(rx.pop(&mut buffer).unwrap(), Some(24));
        assert_eq!(buffer[..24], [round; 24]);
        assert_eq!(rx.pop(&mut buffer).unwrap(), None, "round {round}");
    }
}

#[test]
fn a_corrupted_record_length_is_an_error() {
    let mut mem = memory(128);
    let ring = Spsc::init(Region::from_slice(&mut mem), 128).unwrap();
    ring.producer().unwrap().push(&[9; 8]).unwrap();
    let data_at = Spsc::required_len(128) - 128;
    poke(&mut mem, data_at, 200); // the length word; the tag stays valid
    let ring = Spsc::attach(Region::from_slice(&mut mem)).unwrap();
    assert_eq!(
        ring.consumer().unwrap().read().unwrap_err(),
        ReadError::Corrupt(Corruption::RecordLength {
            position: 0,
            len: 200
        })
    );
}

#[test]
fn a_corrupted_tail_is_an_error() {
    let mut mem = memory(64);
    let base = core::ptr::NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY: `mem` outlives the ring and is only touched through the ring and the atomic
    // store below, as a peer process would.
    let region = unsafe { Region::from_raw(base, mem.len() * 8) };
    let ring = Spsc::init(region, 64).unwrap();
    let mut tx = ring.producer().unwrap();
    tx.push(&[1; 24]).unwrap();
    tx.push(&[1; 24]).unwrap();
    // The consumer (a hostile peer) claims to be ahead of the producer.
    // SAFETY: the tail word lies inside the region and is 4-aligned.
    let tail = unsafe {
        base.add(TAIL_AT)
            .cast::<core::sync::atomic::AtomicU32>()
            .as_ref()
    };
    tail.store(1000, core::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        tx.push(&[1; 8]),
        Err(ReserveError::Corrupt(Corruption::TailIndex {
            tail: 1000,
            head: 64
        }))
    );
}

#[test]
fn arbitrary_control_and_data_bytes_give_errors_not_wild_reads() {
    // Whatever a hostile producer writes, the consumer returns messages that lie inside the
    // data area (miri checks every access) or an error.
    let mut rng = Rng(0xfeed);
    let rounds = if cfg!(miri) { 30 } else { 5_000 };
    for _ in 0..rounds {
        let mut mem = memory(128);
        Spsc::init(Region::from_slice(&mut mem), 128).unwrap();
        let header_words = 4;
        let words = mem.len();
        for _ in 0..8 {
            let at = header_words + rng.below(words - header_words);
            mem[at] = rng.next() & if rng.below(2) == 0 { 0xff } else { u64::MAX };
        }
        let Ok(ring) = Spsc::attach(Region::from_slice(&mut mem)) else {
            continue;
        };
        // Random bytes may hold the consumer's claim: a refusal, as from a live holder.
        let Ok(mut rx) = ring.consumer() else {
            continue;
        };
        for _ in 0..8 {
            match rx.read() {
                Ok(Some(grant)) => {
                    assert!(grant.len() <= ring.max_message_len());
                    let _sum: u32 = grant.iter().map(|b| u32::from(*b)).sum();
                    grant.release();
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}

#[test]
#[cfg(not(miri))] // miri cannot run the raw futex syscall rustix makes
fn a_waiter_whose_peer_is_dead_returns_an_error() {
    let mut mem = memory(64);
    let ring = Spsc::init(Region::from_slice(&mut mem), 64).unwrap();
    let mut rx = ring.consumer().unwrap();
    let how = Wait {
        strategy: Strategy::SpinThenFutex { spins: 10 },
        timeout: None,
        check_every: core::time::Duration::from_millis(1),
        liveness: &Dead,
    };
    assert_eq!(
        rx.read_blocking(&how).unwrap_err(),
        ReadError::Wait(WaitError::PeerGone)
    );
    let quick = Wait::futex().with_timeout(core::time::Duration::from_millis(2));
    assert_eq!(
        rx.read_blocking(&quick).unwrap_err(),
        ReadError::Wait(WaitError::TimedOut)
    );
}

#[test]
#[cfg(not(miri))] // miri cannot run the raw futex syscall rustix makes
fn blocking_sides_hand_over_every_message_between_threads() {
    for (wakeups, strategy) in [
        (Wakeups::Futex, Strategy::BusyPoll),
        (Wakeups::Futex, Strategy::SpinThenYield { spins: 100 }),
        (Wakeups::Futex, Strategy::SpinThenFutex { spins: 0 }),
        (Wakeups::SpinOnly, Strategy::BusyPoll),
        (Wakeups::SpinOnly, Strategy::SpinThenYield { spins: 100 }),
    ] {
        let mut mem = memory(256);
        let ring = Spsc::init_with(Region::from_slice(&mut mem), 256, wakeups).unwrap();
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        let how = Wait {
            strategy,
            ..Wait::futex()
        };
        const N: u64 = 20_000;
        std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..N {
                    tx.push_blocking(&message(i, 1 + (i as usize % 100)), &how)
                        .unwrap();
                }
            });
            let mut buffer = [0u8; 128];
            for i in 0..N {
                let len = rx.pop_blocking(&mut buffer, &how).unwrap();
                assert_eq!(
                    &buffer[..len],
                    &message(i, 1 + (i as usize % 100))[..],
                    "{wakeups:?} {strategy:?}"
                );
            }
        });
    }
}

#[test]
fn a_spin_only_ring_says_so_and_refuses_to_sleep() {
    let mut mem = memory(128);
    let ring = Spsc::init_with(Region::from_slice(&mut mem), 128, Wakeups::SpinOnly).unwrap();
    assert_eq!(ring.wakeups(), Wakeups::SpinOnly);
    let attached = Spsc::attach(Region::from_slice(&mut mem)).unwrap();
    assert_eq!(attached.wakeups(), Wakeups::SpinOnly);
    let (mut tx, mut rx) = (attached.producer().unwrap(), attached.consumer().unwrap());
    let sleep = Wait::futex();
    assert_eq!(
        rx.read_blocking(&sleep).unwrap_err(),
        ReadError::Wait(crate::wait::WaitError::SleepDisabled)
    );
    assert_eq!(
        tx.reserve_blocking(8, &sleep).unwrap_err(),
        ReserveError::Wait(crate::wait::WaitError::SleepDisabled)
    );
    tx.push(b"spin").unwrap();
    let mut buffer = [0u8; 8];
    assert_eq!(rx.pop_blocking(&mut buffer, &Wait::busy_poll()).unwrap(), 4);
    assert_eq!(&buffer[..4], b"spin");
}

#[test]
fn an_unknown_wakeups_mode_is_refused_at_attach() {
    let mut mem = memory(128);
    Spsc::init(Region::from_slice(&mut mem), 128).unwrap();
    poke(&mut mem, TAIL_AT + 128, 7);
    assert_eq!(
        Spsc::attach(Region::from_slice(&mut mem)).unwrap_err(),
        LayoutError::UnknownValue {
            field: "wakeups",
            value: 7
        }
    );
}

/// Runs `body` on a thread and fails the test if it has not returned within `seconds`: a
/// hostile peer must not be able to make this side loop forever.
#[cfg(not(miri))]
fn returns_within<T: Send + 'static>(seconds: u64, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(body());
    });
    result
        .recv_timeout(std::time::Duration::from_secs(seconds))
        .expect("it hung: a loop over peer-written data is not bounded")
}

#[test]
#[cfg(not(miri))] // a thread with a timeout: miri's isolation has no clock
fn a_peer_rewriting_a_deferred_length_cannot_hang_flush() {
    let outcome = returns_within(5, || {
        let mut mem = memory(256);
        let base = core::ptr::NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: `mem` outlives the ring (both live in this closure) and is only touched
        // through the ring and the atomic store below, as a peer process would.
        let region = unsafe { Region::from_raw(base, mem.len() * 8) };
        let ring = Spsc::init(region, 256).unwrap();
        let mut tx = ring.producer().unwrap();
        tx.reserve(8).unwrap().commit_deferred();
        tx.reserve(8).unwrap().commit_deferred();
        // The peer makes the first record one capacity long: walking by it never reaches
        // the head.
        let data_at = Spsc::required_len(256) - 256;
        // SAFETY: the first record's length word, inside the region and 4-aligned.
        let len = unsafe {
            base.add(data_at)
                .cast::<core::sync::atomic::AtomicU32>()
                .as_ref()
        };
        len.store(256 - 8, core::sync::atomic::Ordering::Relaxed);
        let flushed = tx.flush();
        let next = tx.push(&[1; 8]);
        (flushed, next)
    });
    let corruption = Corruption::RecordLength {
        position: 0,
        len: 248,
    };
    assert_eq!(
        outcome,
        (Err(corruption), Err(ReserveError::Corrupt(corruption)))
    );
}

#[test]
fn a_tail_out_of_range_before_the_producer_starts_is_an_error() {
    let mut mem = memory(64);
    Spsc::init(Region::from_slice(&mut mem), 64).unwrap();
    // A hostile consumer claims to be far ahead before the producer is made: the producer
    // must not compute its free space from it (a wrapping subtraction, then overwrites).
    poke(&mut mem, TAIL_AT, 1000);
    let ring = Spsc::attach(Region::from_slice(&mut mem)).unwrap();
    let mut tx = ring.producer().unwrap();
    assert_eq!(
        tx.push(&[1; 8]),
        Err(ReserveError::Corrupt(Corruption::TailIndex {
            tail: 1000,
            head: 0
        }))
    );
}

#[test]
fn each_side_has_one_holder_until_it_is_dropped() {
    let mut mem = memory(256);
    let ring = Spsc::init(Region::from_slice(&mut mem), 256).unwrap();
    let tx = ring.producer().unwrap();
    let rx = ring.consumer().unwrap();
    assert_eq!(
        ring.producer().unwrap_err(),
        ClaimError::Taken(Role::Producer)
    );
    assert_eq!(
        ring.consumer().unwrap_err(),
        ClaimError::Taken(Role::Consumer)
    );
    assert_eq!(
        ring.take_over_producer(&AssumeAlive).unwrap_err(),
        ClaimError::HolderAlive(Role::Producer)
    );
    drop((tx, rx));
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    tx.push(b"after a release").unwrap();
    assert_eq!(&*rx.read().unwrap().unwrap(), b"after a release");
}

#[test]
fn a_claim_holds_across_attachments_of_the_region() {
    // Another process attaching the same memory sees the same claims.
    let mut mem = memory(256);
    let base = core::ptr::NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY: `mem` outlives both views, touched only through them.
    let region = unsafe { Region::from_raw(base, mem.len() * 8) };
    let ring = Spsc::init(region, 256).unwrap();
    let _tx = ring.producer().unwrap();
    let other = Spsc::attach(region).unwrap();
    assert_eq!(
        other.producer().unwrap_err(),
        ClaimError::Taken(Role::Producer)
    );
    assert!(other.consumer().is_ok());
}

#[test]
fn a_producer_that_died_before_publishing_its_head_is_taken_over_where_it_stopped() {
    let mut mem = memory(256);
    let base = core::ptr::NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY: `mem` outlives the ring, touched only through it and the atomic store below.
    let region = unsafe { Region::from_raw(base, mem.len() * 8) };
    let ring = Spsc::init(region, 256).unwrap();
    let mut tx = ring.producer().unwrap();
    tx.push(b"first").unwrap();
    tx.push(b"second").unwrap();
    // It dies between the tags and the head of its last two records: no release, and the head
    // still says 0.
    core::mem::forget(tx);
    // SAFETY: the head word lies inside the region and is 4-aligned.
    let head = unsafe {
        base.add(HEAD_AT)
            .cast::<core::sync::atomic::AtomicU32>()
            .as_ref()
    };
    head.store(0, core::sync::atomic::Ordering::Relaxed);
    let mut rx = ring.consumer().unwrap();
    let mut buffer = [0u8; 16];
    assert_eq!(rx.pop(&mut buffer).unwrap(), Some(5), "published by tag");
    assert_eq!(
        ring.producer().unwrap_err(),
        ClaimError::Taken(Role::Producer)
    );
    let mut tx = ring.take_over_producer(&Dead).unwrap();
    tx.push(b"third").unwrap();
    assert_eq!(rx.pop(&mut buffer).unwrap(), Some(6));
    assert_eq!(
        &buffer[..6],
        b"second",
        "not overwritten by the new producer"
    );
    assert_eq!(rx.pop(&mut buffer).unwrap(), Some(5));
    assert_eq!(&buffer[..5], b"third");
}

#[test]
fn a_consumer_taken_over_reads_again_what_its_holder_had_not_released() {
    let mut mem = memory(256);
    let ring = Spsc::init(Region::from_slice(&mut mem), 256).unwrap();
    let mut tx = ring.producer().unwrap();
    tx.push(b"one").unwrap();
    let mut rx = ring.consumer().unwrap();
    assert_eq!(&*rx.read().unwrap().unwrap(), b"one");
    // The holder dies holding the grant (dropped unreleased): nothing released or published.
    core::mem::forget(rx);
    let mut rx = ring.take_over_consumer(&Dead).unwrap();
    assert_eq!(&*rx.read().unwrap().unwrap(), b"one");
}

/// A non-blocking eventfd and a way to take its count (0 when nobody rang).
#[cfg(not(miri))]
mod eventfd {
    use rustix::event::{eventfd, EventfdFlags};
    use rustix::fd::OwnedFd;

    pub fn new() -> OwnedFd {
        eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC).unwrap()
    }

    pub fn take(fd: &OwnedFd) -> u64 {
        let mut count = [0u8; 8];
        match rustix::io::read(fd, &mut count) {
            Ok(8) => u64::from_ne_bytes(count),
            Err(rustix::io::Errno::AGAIN) => 0,
            other => panic!("eventfd read: {other:?}"),
        }
    }
}

#[cfg(not(miri))]
#[test]
fn a_side_sleeping_on_an_eventfd_is_claimed_only_with_the_doorbell_it_needs() {
    use rustix::fd::AsFd;
    let fd = eventfd::new();
    let bell = Doorbell::eventfd(fd.as_fd());
    let mut mem = memory(256);
    let ring = Spsc::init_with(
        Region::from_slice(&mut mem),
        256,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )
    .unwrap();
    let attached = Spsc::attach(ring.region).unwrap();
    assert_eq!(attached.wakeups(), Wakeups::Eventfd(EventfdSides::Consumer));
    let needed = ClaimError::Doorbell {
        role: Role::Producer,
        needed: true,
    };
    assert_eq!(ring.producer().unwrap_err(), needed);
    assert!(std::format!("{needed}").contains("must be given its peer's eventfd"));
    // The producer sleeps on the futex here: the consumer needs no doorbell, and takes none.
    assert_eq!(
        ring.consumer_with_doorbell(bell).unwrap_err(),
        ClaimError::Doorbell {
            role: Role::Consumer,
            needed: false
        }
    );
    // A refused claim holds nothing.
    let _producer = ring.producer_with_doorbell(bell).unwrap();
    let _consumer = ring.consumer().unwrap();
    let mut futex_mem = memory(256);
    let futex_ring = Spsc::init(Region::from_slice(&mut futex_mem), 256).unwrap();
    assert!(matches!(
        futex_ring.producer_with_doorbell(bell),
        Err(ClaimError::Doorbell { needed: false, .. })
    ));
}

#[cfg(not(miri))]
#[test]
fn a_consumer_sleeping_on_an_eventfd_is_rung_only_when_it_announced_itself() {
    use rustix::fd::AsFd;
    let fd = eventfd::new();
    let mut mem = memory(256);
    let ring = Spsc::init_with(
        Region::from_slice(&mut mem),
        256,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )
    .unwrap();
    let mut tx = ring
        .producer_with_doorbell(Doorbell::eventfd(fd.as_fd()))
        .unwrap();
    let mut rx = ring.consumer().unwrap();
    // Nobody sleeps: a publish makes no syscall, the eventfd stays silent.
    tx.push(b"one").unwrap();
    assert_eq!(eventfd::take(&fd), 0);
    assert!(
        !rx.announce_sleep().unwrap(),
        "a message is there: no sleep"
    );
    rx.read().unwrap().unwrap().release();
    // Announced: the next publish rings once.
    assert!(rx.announce_sleep().unwrap());
    tx.push(b"two").unwrap();
    tx.push(b"three").unwrap();
    assert_eq!(eventfd::take(&fd), 1);
    let mut buffer = [0u8; 8];
    assert_eq!(rx.pop(&mut buffer).unwrap(), Some(3));
    assert_eq!(rx.pop(&mut buffer).unwrap(), Some(5));
    // Announced, then withdrawn (a cancelled wait): nobody is rung.
    assert!(rx.announce_sleep().unwrap());
    rx.withdraw_sleep();
    tx.push(b"four").unwrap();
    assert_eq!(eventfd::take(&fd), 0);
    // The futex is no way to wait here: nobody would wake it.
    rx.pop(&mut buffer).unwrap();
    assert_eq!(
        rx.read_blocking(&Wait::futex()).unwrap_err(),
        ReadError::Wait(WaitError::SleepsOnEventfd)
    );
}

#[cfg(not(miri))]
#[test]
fn a_producer_sleeping_on_an_eventfd_is_rung_when_room_is_released() {
    use rustix::fd::AsFd;
    let fd = eventfd::new();
    let mut mem = memory(256);
    let ring = Spsc::init_with(
        Region::from_slice(&mut mem),
        256,
        Wakeups::Eventfd(EventfdSides::Producer),
    )
    .unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = ring
        .consumer_with_doorbell(Doorbell::eventfd(fd.as_fd()))
        .unwrap();
    let message = [7u8; 64];
    while tx.has_room_for(message.len()).unwrap() {
        tx.push(&message).unwrap();
    }
    assert!(tx.announce_sleep(message.len()).unwrap());
    // The consumer's release would be published lazily; an announced producer makes it
    // publish (and ring) at once.
    rx.read().unwrap().unwrap().release();
    assert_eq!(eventfd::take(&fd), 1);
    assert!(tx.has_room_for(message.len()).unwrap());
    assert!(!tx.announce_sleep(message.len()).unwrap(), "room: no sleep");
    assert_eq!(
        tx.reserve_blocking(8, &Wait::futex()).unwrap_err(),
        ReserveError::Wait(WaitError::SleepsOnEventfd)
    );
}

#[cfg(all(not(miri), target_os = "linux"))]
#[test]
fn a_sleeper_waiting_on_the_announced_futex_word_by_other_means_is_woken_by_a_publish() {
    let mut mem = memory(256);
    let ring = Spsc::init(Region::from_slice(&mut mem), 256).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    tx.push(b"one").unwrap();
    assert_eq!(
        rx.announce_futex_sleep().unwrap(),
        None,
        "a message is there"
    );
    rx.pop(&mut [0u8; 8]).unwrap();
    let sleep = rx
        .announce_futex_sleep()
        .unwrap()
        .expect("an empty ring: sleep");
    // The word is the producer's head, with the sleeper's bit set.
    // SAFETY: the word lives in `mem`, which outlives this test's uses of it.
    let word = unsafe { &*sleep.word.cast::<core::sync::atomic::AtomicU32>() };
    assert_eq!(
        word.load(core::sync::atomic::Ordering::Acquire),
        sleep.value
    );
    assert_ne!(sleep.value & crate::wake::WAITING, 0);
    // A thread sleeps on it with a plain futex wait (as io_uring's would), the producer
    // publishes: the publish wakes it.
    let address = sleep.word as usize;
    let value = sleep.value;
    let sleeper = std::thread::spawn(move || {
        // SAFETY: as above; the test joins this thread before `mem` goes.
        let word = unsafe { &*(address as *const core::sync::atomic::AtomicU32) };
        while word.load(core::sync::atomic::Ordering::Acquire) == value {
            let _ = rustix::thread::futex::wait(
                word,
                rustix::thread::futex::Flags::empty(),
                value,
                None,
            );
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    tx.push(b"two").unwrap();
    sleeper.join().unwrap();
    assert_eq!(rx.pop(&mut [0u8; 8]).unwrap(), Some(3));
    // Withdrawn: the next publish wakes nobody and leaves the bit clear.
    assert!(rx.announce_futex_sleep().unwrap().is_some());
    rx.withdraw_sleep();
    tx.push(b"six").unwrap();
    assert_eq!(
        word.load(core::sync::atomic::Ordering::Acquire) & crate::wake::WAITING,
        0
    );
    // A spin-only ring has nobody to wake a sleeper: refused.
    let mut spin_mem = memory(256);
    let spin = Spsc::init_with(Region::from_slice(&mut spin_mem), 256, Wakeups::SpinOnly).unwrap();
    assert_eq!(
        spin.consumer().unwrap().announce_futex_sleep().unwrap_err(),
        ReadError::Wait(WaitError::SleepDisabled)
    );
    let mut full = spin.producer().unwrap();
    assert_eq!(
        full.announce_futex_sleep(8).unwrap_err(),
        ReserveError::Wait(WaitError::SleepDisabled)
    );
}

/// The reproduction: a payload whose words look like the next lap's record header
/// (length 8, tag `80 + 1`) at the offset where a later record boundary falls. Only the three
/// messages sent may come out.
#[test]
fn payload_words_that_look_like_the_next_record_are_not_a_message() {
    let mut mem = memory(64);
    let ring = Spsc::init(Region::from_slice(&mut mem), 64).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let mut first = [0u8; 24];
    first[8..12].copy_from_slice(&8u32.to_le_bytes());
    first[12..16].copy_from_slice(&81u32.to_le_bytes());
    let mut buffer = [0u8; 24];
    for sent in [&first[..], &[2; 24], &[3; 8]] {
        tx.push(sent).unwrap();
        assert_eq!(rx.pop(&mut buffer).unwrap(), Some(sent.len()));
        assert_eq!(&buffer[..sent.len()], sent);
    }
    assert_eq!(rx.pop(&mut buffer).unwrap(), None, "a message nobody sent");
}
