use super::*;
use crate::role::{ClaimError, Role};
use core::sync::atomic::AtomicU32 as RegionU32;
extern crate std;
use std::format;
use std::vec;
use std::vec::Vec;

fn memory(capacity: usize) -> Vec<u64> {
    vec![0u64; Broadcast::required_len(capacity).div_ceil(8)]
}

/// Message `n`'s bytes: the reader can check any message it gets, whatever it lost.
fn message(n: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (n as u8).wrapping_mul(7).wrapping_add(i as u8))
        .collect()
}

#[test]
fn every_subscriber_sees_every_message_in_order() {
    let mut mem = memory(256);
    let b = Broadcast::init(Region::from_slice(&mut mem), 256, 2, Mode::Backpressure).unwrap();
    let mut producer = b.producer().unwrap();
    let mut subscribers = [b.subscriber(0).unwrap(), b.subscriber(1).unwrap()];
    let mut buffer = [0u8; 64];
    for n in 0..50u32 {
        producer.push(&message(n, 20)).unwrap();
        for s in &mut subscribers {
            let got = s.pop(&mut buffer).unwrap().unwrap();
            assert_eq!(got, Received { len: 20, lost: 0 });
            assert_eq!(&buffer[..20], &message(n, 20)[..]);
        }
    }
    assert_eq!(subscribers[0].pop(&mut buffer).unwrap(), None);
}

#[test]
fn backpressure_waits_for_the_slowest_subscriber() {
    let mut mem = memory(256);
    let b = Broadcast::init(Region::from_slice(&mut mem), 256, 2, Mode::Backpressure).unwrap();
    let mut producer = b.producer().unwrap();
    let (mut fast, mut slow) = (b.subscriber(0).unwrap(), b.subscriber(1).unwrap());
    let mut buffer = [0u8; 64];
    let mut sent = 0;
    while producer.push(&message(sent, 40)).is_ok() {
        fast.pop(&mut buffer).unwrap().unwrap();
        sent += 1;
    }
    assert!(sent >= 3, "{sent}");
    assert_eq!(producer.push(&message(sent, 40)), Err(ReserveError::Full));
    slow.pop(&mut buffer).unwrap().unwrap();
    producer.push(&message(sent, 40)).unwrap();
}

#[test]
fn a_lapped_lossy_subscriber_is_told_how_many_it_lost() {
    let mut mem = memory(256);
    let b = Broadcast::init(Region::from_slice(&mut mem), 256, 1, Mode::Lossy).unwrap();
    let mut producer = b.producer().unwrap();
    let mut subscriber = b.subscriber(0).unwrap();
    const SENT: u32 = 100;
    for n in 0..SENT {
        producer.push(&message(n, 24)).unwrap();
    }
    let mut buffer = [0u8; 64];
    let mut received = 0;
    let mut lost = 0;
    let mut last = None;
    while let Some(got) = subscriber.pop(&mut buffer).unwrap() {
        let n = received + lost + got.lost;
        assert_eq!(&buffer[..24], &message(n, 24)[..], "message {n}");
        assert!(last.is_none_or(|l| n > l));
        last = Some(n);
        lost += got.lost;
        received += 1;
    }
    assert!(lost > 0, "a 256-byte ring cannot hold 100 messages");
    assert_eq!(received + lost, SENT);
}

#[test]
fn attach_checks_mode_and_subscribers() {
    let mut mem = memory(128);
    Broadcast::init(Region::from_slice(&mut mem), 128, 3, Mode::Lossy).unwrap();
    let b = Broadcast::attach(Region::from_slice(&mut mem)).unwrap();
    assert_eq!(b.mode(), Mode::Lossy);
    // meta is the third control word.
    let at = (header::BLOCK_ALIGN + 256) / 8;
    mem[at] = 7;
    assert_eq!(
        Broadcast::attach(Region::from_slice(&mut mem)).unwrap_err(),
        LayoutError::OutOfRange {
            field: "mode",
            value: 7
        }
    );
    assert!(Broadcast::init(Region::from_slice(&mut mem), 128, 0, Mode::Lossy).is_err());
    assert!(Broadcast::init(
        Region::from_slice(&mut mem),
        128,
        MAX_SUBSCRIBERS + 1,
        Mode::Lossy
    )
    .is_err());
}

#[test]
#[cfg(not(miri))] // miri cannot run the raw futex syscall rustix makes
fn blocking_subscribers_get_everything_under_backpressure() {
    const N: u32 = 20_000;
    let mut mem = memory(1024);
    let b = Broadcast::init(Region::from_slice(&mut mem), 1024, 3, Mode::Backpressure).unwrap();
    let how = Wait::futex();
    std::thread::scope(|s| {
        for index in 0..3 {
            let mut subscriber = b.subscriber(index).unwrap();
            s.spawn(move || {
                let mut buffer = [0u8; 64];
                for n in 0..N {
                    let got = subscriber.pop_blocking(&mut buffer, &how).unwrap();
                    assert_eq!(got.lost, 0);
                    assert_eq!(&buffer[..got.len], &message(n, 1 + n as usize % 60)[..]);
                }
            });
        }
        let mut producer = b.producer().unwrap();
        for n in 0..N {
            producer
                .push_blocking(&message(n, 1 + n as usize % 60), &how)
                .unwrap();
        }
    });
}

#[test]
#[cfg(not(miri))] // threads spinning on each other are too slow under miri
fn a_lossy_subscriber_racing_the_producer_never_gets_a_torn_message() {
    race_a_lossy_subscriber(512, 200_000, 100);
}

#[test]
fn a_rewritten_old_length_is_an_error_for_a_lossy_producer() {
    let mut mem = memory(256);
    let base = core::ptr::NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY: `mem` outlives the region and is touched only through it and the atomic store
    // below, as a peer process would.
    let region = unsafe { Region::from_raw(base, mem.len() * 8) };
    let b = Broadcast::init(region, 256, 1, Mode::Lossy).unwrap();
    let mut producer = b.producer().unwrap();
    // Four 56-byte records: the next one needs the 32 bytes left for a wrap and 56 at the
    // start, so pushing it must drop the oldest record, walking its length word.
    for n in 0..4u32 {
        producer.push(&message(n, 40)).unwrap();
    }
    // A subscriber (a hostile peer) rewrites the oldest record's length.
    let data_at = Broadcast::required_len(256) - 256;
    for len in [u32::MAX - 7, 256 - 16, 200] {
        // SAFETY: the first record's length word, inside the region and 4-aligned.
        let word = unsafe { base.add(data_at).cast::<RegionU32>().as_ref() };
        word.store(len, RegionOrdering::Relaxed);
        assert_eq!(
            producer.push(&message(9, 40)),
            Err(ReserveError::Corrupt(Corruption::RecordLength {
                position: 0,
                len
            })),
            "length {len}"
        );
    }
}

#[test]
fn a_wrap_marker_in_the_last_8_bytes_is_read_within_the_area() {
    // Found by the fuzzer: three 40-byte records leave 8 bytes before the end, where the next
    // push puts a wrap marker; a subscriber reading it used to load the sequence word at
    // offset + 8, past the data area (miri and AddressSanitizer report it; the memory here
    // ends exactly where the data area does).
    let mut mem = memory(128);
    let b = Broadcast::init(Region::from_slice(&mut mem), 128, 2, Mode::Lossy).unwrap();
    let mut producer = b.producer().unwrap();
    let mut subscribers = [b.subscriber(0).unwrap(), b.subscriber(1).unwrap()];
    let mut buffer = [0u8; 64];
    for n in 0..3 {
        producer.push(&message(n, 20)).unwrap();
    }
    for n in 3..6 {
        producer.push(&message(n, 11)).unwrap();
    }
    for s in &mut subscribers {
        while let Some(got) = s.pop(&mut buffer).unwrap() {
            assert!(got.len == 20 || got.len == 11);
        }
    }
}

use crate::wait::Dead;

#[test]
fn each_slot_and_the_producer_have_one_holder() {
    let mut mem = memory(256);
    let b = Broadcast::init(Region::from_slice(&mut mem), 256, 2, Mode::Backpressure).unwrap();
    let producer = b.producer().unwrap();
    assert_eq!(b.producer().unwrap_err(), ClaimError::Taken(Role::Producer));
    let first = b.subscriber(1).unwrap();
    assert_eq!(
        b.subscriber(1).unwrap_err(),
        ClaimError::Taken(Role::Subscriber(1))
    );
    assert_eq!(
        b.subscriber(2).unwrap_err(),
        ClaimError::NoSuchRole(Role::Subscriber(2)),
        "no panic for a slot past the count"
    );
    drop(first);
    assert!(b.subscriber(1).is_ok());
    drop(producer);
    assert!(b.producer().is_ok());
}

#[test]
fn a_producer_taken_over_goes_on_with_the_next_sequence_number() {
    for mode in [Mode::Backpressure, Mode::Lossy] {
        let mut mem = memory(256);
        let b = Broadcast::init(Region::from_slice(&mut mem), 256, 1, mode).unwrap();
        let mut subscriber = b.subscriber(0).unwrap();
        let mut producer = b.producer().unwrap();
        let mut buffer = [0u8; 32];
        for n in 0..3 {
            producer.push(&message(n, 8)).unwrap();
        }
        for n in 0..2 {
            assert_eq!(subscriber.pop(&mut buffer).unwrap().unwrap().lost, 0);
            assert_eq!(&buffer[..8], &message(n, 8)[..]);
        }
        core::mem::forget(producer);
        let mut producer = b.take_over_producer(&Dead).unwrap();
        producer.push(&message(3, 8)).unwrap();
        for n in 2..4 {
            let got = subscriber.pop(&mut buffer).unwrap().unwrap();
            assert_eq!(got, Received { len: 8, lost: 0 }, "{mode:?} message {n}");
            assert_eq!(&buffer[..8], &message(n, 8)[..]);
        }
        // A subscriber taken over goes on from its cursor.
        producer.push(&message(4, 8)).unwrap();
        core::mem::forget(subscriber);
        let mut subscriber = b.take_over_subscriber(0, &Dead).unwrap();
        let got = subscriber.pop(&mut buffer).unwrap().unwrap();
        assert_eq!(got, Received { len: 8, lost: 0 });
        assert_eq!(&buffer[..8], &message(4, 8)[..]);
    }
}

/// Random traffic to a fast and a slow subscriber, with payloads made of the words the
/// region's headers are made of (see `test_payloads`): under backpressure each gets exactly
/// what was sent, in order; in lossy mode what each gets is what was sent less the losses it
/// is told of, each message whole.
#[test]
fn subscribers_get_exactly_what_was_sent_whatever_the_payload_bytes() {
    let steps = if cfg!(miri) { 200 } else { 30_000 };
    for mode in [Mode::Backpressure, Mode::Lossy] {
        for capacity in [64, 256, 4096] {
            model_traffic(capacity, mode, steps);
        }
    }
}

fn model_traffic(capacity: usize, mode: Mode, steps: usize) {
    use crate::test_payloads::{plausible_payload, Rng};
    let mut mem = memory(capacity);
    let b = Broadcast::init(Region::from_slice(&mut mem), capacity, 2, mode).unwrap();
    let mut producer = b.producer().unwrap();
    let mut subscribers = [b.subscriber(0).unwrap(), b.subscriber(1).unwrap()];
    let max = b.max_message_len();
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut next = [0usize; 2];
    let mut rng = Rng(capacity as u64 + mode as u64);
    let mut buffer = vec![0u8; max];
    let mut pop =
        |s: usize, subscriber: &mut Subscriber<'_>, sent: &[Vec<u8>], next: &mut [usize; 2]| {
            match subscriber.pop(&mut buffer).unwrap() {
                Some(got) => {
                    let index = next[s] + got.lost as usize;
                    let what =
                        format!("{mode:?} ring of {capacity}, subscriber {s}, message {index}");
                    let expected = sent
                        .get(index)
                        .unwrap_or_else(|| panic!("{what}: nobody sent it"));
                    assert_eq!(&buffer[..got.len], &expected[..], "{what}");
                    if mode == Mode::Backpressure {
                        assert_eq!(got.lost, 0, "{what}");
                    }
                    next[s] = index + 1;
                    true
                }
                None => {
                    assert_eq!(
                        next[s],
                        sent.len(),
                        "{mode:?} ring of {capacity}, subscriber {s}"
                    );
                    false
                }
            }
        };
    for _ in 0..steps {
        match rng.below(6) {
            0..=2 => {
                let near: Vec<u32> = core::iter::once(wake::position(&b.control().head))
                    .chain(subscribers.iter().map(|s| s.tail as u32 & wake::POSITION))
                    .collect();
                let len = rng.below(max + 1);
                let m = plausible_payload(&mut rng, len, &near, capacity as u32, max as u32);
                match producer.push(&m) {
                    Ok(()) => sent.push(m),
                    Err(ReserveError::Full) if mode == Mode::Backpressure => {}
                    Err(e) => panic!("{e}"),
                }
            }
            3 | 4 => {
                pop(0, &mut subscribers[0], &sent, &mut next);
            }
            _ => {
                pop(1, &mut subscribers[1], &sent, &mut next);
            }
        }
    }
    for (s, subscriber) in subscribers.iter_mut().enumerate() {
        while pop(s, subscriber, &sent, &mut next) {}
    }
    assert!(
        sent.len() > steps / 8,
        "only {} messages in {steps} steps",
        sent.len()
    );
}

/// A lossy producer laps a subscriber that is copying, on two threads: the two touch the same
/// bytes with no order between them, which is defined only because every access to a lossy
/// data area is atomic (miri reports a data race for a plain copy). What the subscriber gets is
/// what was sent less the losses it is told of, each message whole.
#[test]
fn a_lapped_lossy_subscriber_reads_only_atomics_and_whole_messages() {
    race_a_lossy_subscriber(64, if cfg!(miri) { 80 } else { 50_000 }, 9);
}

/// A producer thread pushes `messages` messages of 8 to 8 + `lengths` - 1 bytes through a lossy
/// `capacity`-byte region while this thread pops them: each message read must be the one its
/// position and reported losses name, whole, and the last one must be there to read.
fn race_a_lossy_subscriber(capacity: usize, messages: u32, lengths: usize) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let len_of = |n: u32| 8 + n as usize % lengths;
    let mut mem = memory(capacity);
    let b = Broadcast::init(Region::from_slice(&mut mem), capacity, 1, Mode::Lossy).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut producer = b.producer().unwrap();
        let done = &done;
        s.spawn(move || {
            for n in 0..messages {
                producer.push(&message(n, len_of(n))).unwrap();
            }
            done.store(true, Ordering::Release);
        });
        let mut subscriber = b.subscriber(0).unwrap();
        let mut buffer = vec![0u8; 8 + lengths];
        let mut next = 0u32;
        loop {
            // Read the flag first: a None after the producer finished means the end.
            let finished = done.load(Ordering::Acquire);
            match subscriber.pop(&mut buffer).unwrap() {
                Some(got) => {
                    let n = next + got.lost;
                    assert!(n < messages, "message {n}: nobody sent it");
                    let want = message(n, len_of(n));
                    assert_eq!(&buffer[..got.len], &want[..], "torn message {n}");
                    next = n + 1;
                }
                None if finished => break,
                None => std::thread::yield_now(),
            }
        }
        assert_eq!(next, messages, "the last message is always there to read");
    });
}

#[test]
fn a_cursor_further_behind_than_the_producer_ever_wrote_is_an_error_not_a_panic() {
    // Found by the fuzzer: a subscriber's cursor may claim any distance behind the head within
    // the capacity, even one longer than everything the producer has written.
    let mut mem = memory(256);
    let b = Broadcast::init(Region::from_slice(&mut mem), 256, 1, Mode::Backpressure).unwrap();
    let mut producer = b.producer().unwrap();
    let _subscriber = b.subscriber(0).unwrap();
    while producer.push(&message(0, 40)).is_ok() {}
    let head = producer.head;
    assert!(head + 8 <= 256, "{head}");
    let claimed = (low_bits(head).wrapping_sub(head as u32 + 8)) & wake::POSITION;
    producer.control.cursors[0]
        .word
        .store(claimed, Ordering::Relaxed);
    assert!(matches!(
        producer.push(&message(1, 40)),
        Err(ReserveError::Corrupt(Corruption::TailIndex { .. }))
    ));
}

#[test]
fn subscribers_on_an_eventfd_need_a_doorbell_from_the_producer_and_refuse_futex_sleeps() {
    use crate::doorbell::{Doorbell, ReaderSleeps};
    use crate::wait::WaitError;
    use rustix::fd::AsFd;
    let stand_in = std::io::stdin();
    let bell = Doorbell::eventfd(stand_in.as_fd());
    let mut mem = memory(256);
    let b = Broadcast::init_with(
        Region::from_slice(&mut mem),
        256,
        2,
        Mode::Lossy,
        ReaderSleeps::OnEventfd,
    )
    .unwrap();
    let needed = |needed| ClaimError::Doorbell {
        role: Role::Producer,
        needed,
    };
    assert_eq!(b.producer().unwrap_err(), needed(true));
    let attached = Broadcast::attach(b.region).unwrap();
    assert_eq!(
        (attached.reader_sleeps(), attached.mode()),
        (ReaderSleeps::OnEventfd, Mode::Lossy)
    );
    let mut subscriber = b.subscriber(0).unwrap();
    let mut buffer = [0u8; 16];
    assert_eq!(
        subscriber.pop_blocking(&mut buffer, &Wait::futex()),
        Err(ReadError::Wait(WaitError::SleepsOnEventfd))
    );
    let mut producer = b.producer_with_doorbell(bell).unwrap();
    producer.push(b"spun").unwrap();
    let got = subscriber
        .pop_blocking(&mut buffer, &Wait::busy_poll())
        .unwrap();
    assert_eq!(&buffer[..got.len], b"spun");
    let mut futex_mem = memory(256);
    let futex = Broadcast::init(Region::from_slice(&mut futex_mem), 256, 1, Mode::Lossy).unwrap();
    assert_eq!(
        futex.producer_with_doorbell(bell).unwrap_err(),
        needed(false)
    );
    drop((subscriber, producer));
    let meta = b.control().meta.load(Ordering::Relaxed);
    b.control()
        .meta
        .store(meta & 0xffff | 9 << 16, Ordering::Relaxed);
    assert_eq!(
        Broadcast::attach(b.region).unwrap_err(),
        LayoutError::UnknownValue {
            field: "subscriber wake-ups",
            value: 9
        }
    );
}

#[test]
#[cfg(not(miri))] // miri cannot make an eventfd
fn one_ring_of_the_shared_eventfd_serves_every_sleeping_subscriber() {
    use crate::doorbell::test_eventfd;
    use crate::doorbell::{Doorbell, ReaderSleeps};
    use rustix::fd::AsFd;
    let sleep_on = test_eventfd::new();
    let rung = || test_eventfd::rung(&sleep_on);
    let mut mem = memory(256);
    let b = Broadcast::init_with(
        Region::from_slice(&mut mem),
        256,
        2,
        Mode::Backpressure,
        ReaderSleeps::OnEventfd,
    )
    .unwrap();
    let mut producer = b
        .producer_with_doorbell(Doorbell::eventfd(sleep_on.as_fd()))
        .unwrap();
    let mut subscribers = [b.subscriber(0).unwrap(), b.subscriber(1).unwrap()];
    for s in &mut subscribers {
        assert!(s.announce_sleep().unwrap(), "nothing there: it may sleep");
        assert!(!s.has_message());
    }
    producer.push(b"all").unwrap();
    assert_eq!(rung(), 1, "one write for both sleepers");
    producer.push(b"again").unwrap();
    assert_eq!(rung(), 0, "nobody announced since");
    let mut buffer = [0u8; 16];
    for s in &mut subscribers {
        assert!(s.has_message());
        assert!(!s.announce_sleep().unwrap(), "a message is there: no sleep");
        assert_eq!(s.pop(&mut buffer).unwrap().unwrap().len, 3);
        assert_eq!(s.pop(&mut buffer).unwrap().unwrap().len, 5);
    }
}

#[test]
fn a_subscriber_refuses_to_sleep_on_a_head_past_a_record_never_written() {
    let mut mem = memory(256);
    let b = Broadcast::init(Region::from_slice(&mut mem), 256, 1, Mode::Backpressure).unwrap();
    let mut subscriber = b.subscriber(0).unwrap();
    // A hostile producer publishes a head 32 bytes on without a record there.
    b.control().head.store(32, Ordering::Release);
    assert_eq!(
        subscriber.announce_sleep(),
        Err(ReadError::Corrupt(Corruption::Unpublished {
            head: 32,
            tail: 0
        }))
    );
}

#[test]
fn a_producer_on_an_eventfd_needs_a_doorbell_from_each_subscriber_and_refuses_futex_sleeps() {
    use crate::doorbell::{Doorbell, ProducerSleeps, ReaderSleeps};
    use crate::wait::WaitError;
    use rustix::fd::AsFd;
    let stand_in = std::io::stdin();
    let bell = Doorbell::eventfd(stand_in.as_fd());
    let mut mem = memory(256);
    let b = Broadcast::init_with_sleepers(
        Region::from_slice(&mut mem),
        256,
        2,
        Mode::Backpressure,
        ReaderSleeps::OnFutex,
        ProducerSleeps::OnEventfd,
    )
    .unwrap();
    let needed = |index, needed| ClaimError::Doorbell {
        role: Role::Subscriber(index),
        needed,
    };
    assert_eq!(b.subscriber(0).unwrap_err(), needed(0, true));
    let attached = Broadcast::attach(b.region).unwrap();
    assert_eq!(
        (attached.producer_sleeps(), attached.reader_sleeps()),
        (ProducerSleeps::OnEventfd, ReaderSleeps::OnFutex)
    );
    let mut producer = b.producer().unwrap();
    assert_eq!(
        producer.push_blocking(b"x", &Wait::futex()),
        Err(ReserveError::Wait(WaitError::SleepsOnEventfd))
    );
    producer.push_blocking(b"spun", &Wait::busy_poll()).unwrap();
    let mut subscriber = b.subscriber_with_doorbell(1, bell).unwrap();
    let mut buffer = [0u8; 16];
    assert_eq!(subscriber.pop(&mut buffer).unwrap().unwrap().len, 4);
    let mut futex_mem = memory(256);
    let futex = Broadcast::init(Region::from_slice(&mut futex_mem), 256, 1, Mode::Lossy).unwrap();
    assert_eq!(futex.producer_sleeps(), ProducerSleeps::OnFutex);
    assert_eq!(
        futex.subscriber_with_doorbell(0, bell).unwrap_err(),
        needed(0, false)
    );
    drop((subscriber, producer));
    let meta = b.control().meta.load(Ordering::Relaxed);
    b.control()
        .meta
        .store(meta & 0xff_ffff | 7 << 24, Ordering::Relaxed);
    assert_eq!(
        Broadcast::attach(b.region).unwrap_err(),
        LayoutError::UnknownValue {
            field: "producer wake-ups",
            value: 7
        }
    );
}

#[test]
#[cfg(not(miri))] // miri cannot make an eventfd
fn a_producer_asleep_for_room_is_rung_by_the_slowest_subscriber_only() {
    use crate::doorbell::test_eventfd;
    use crate::doorbell::{Doorbell, ProducerSleeps, ReaderSleeps};
    use rustix::fd::AsFd;
    let sleep_on = test_eventfd::new();
    let rung = || test_eventfd::rung(&sleep_on);
    let mut mem = memory(256);
    let b = Broadcast::init_with_sleepers(
        Region::from_slice(&mut mem),
        256,
        2,
        Mode::Backpressure,
        ReaderSleeps::OnFutex,
        ProducerSleeps::OnEventfd,
    )
    .unwrap();
    let mut producer = b.producer().unwrap();
    let bell = Doorbell::eventfd(sleep_on.as_fd());
    let mut ahead = b.subscriber_with_doorbell(0, bell).unwrap();
    let mut behind = b.subscriber_with_doorbell(1, bell).unwrap();
    assert_eq!(producer.announce_sleep(40).unwrap(), None, "room now");
    let mut sent = 0;
    while producer.has_room_for(40).unwrap() {
        producer.push(&message(sent, 40)).unwrap();
        sent += 1;
    }
    assert!(sent >= 2, "a 256-byte ring holds several 40-byte messages");
    let mut buffer = [0u8; 64];
    for n in 0..sent {
        ahead.pop(&mut buffer).unwrap().unwrap();
        assert_eq!(&buffer[..40], &message(n, 40)[..]);
    }
    assert_eq!(
        producer.announce_sleep(40).unwrap(),
        Some(1),
        "waits for the one behind"
    );
    assert!(producer.subscriber_record(1).is_some());
    assert!(producer.subscriber_record(2).is_none());
    assert_eq!(rung(), 0);
    behind.pop(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..40], &message(0, 40)[..]);
    assert_eq!(
        rung(),
        1,
        "the slowest moved: the sleeping producer is rung"
    );
    behind.pop(&mut buffer).unwrap().unwrap();
    assert_eq!(rung(), 0, "rung once per announcement");
    assert!(producer.has_room_for(40).unwrap());
    producer.push(&message(sent, 40)).unwrap();
}
