//! Loom models of the wake-word protocol (run with `RUSTFLAGS="--cfg loom"`).
//!
//! Loom runs every interleaving of the threads below. A lost wake-up leaves the sleeping side
//! blocked forever, which loom reports as a deadlock; a missing release/acquire pair makes the
//! unsynchronised access to the data cell a reported data race. The models of the real ring run
//! on its loom stand-in layout (`spsc::data`), so the record tags and lengths are loom atomics
//! and every payload write and read is checked against them.

extern crate std;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use crate::spsc::{Spsc, Wakeups};
use crate::sync::AtomicU32;
use crate::wait::{self, AssumeAlive, Strategy, Wait};
use crate::wake;
use crate::Region;

const SLEEP_AT_ONCE: Wait<'static> = Wait {
    strategy: Strategy::SpinThenFutex { spins: 0 },
    ..Wait::futex()
};

/// One side publishes twice; the other sleeps until it has seen both: every interleaving of
/// announce, compare-exchange, futex check-and-sleep, swap and wake must end.
#[test]
fn no_wake_up_is_lost() {
    loom::model(|| {
        let word = Arc::new(AtomicU32::new(0));
        let publisher = {
            let word = word.clone();
            thread::spawn(move || {
                for position in 1..=2 {
                    if wake::publish(&word, position) {
                        wait::wake_one(&word);
                    }
                }
            })
        };
        let mut seen = 0;
        while seen != 2 {
            wait::until_moved(
                &word,
                seen,
                &SLEEP_AT_ONCE,
                &AssumeAlive,
                &mut Default::default(),
            )
            .unwrap();
            seen = wake::position(&word);
        }
        publisher.join().unwrap();
    });
}

/// Both directions at once, as in a ping-pong: each side sleeps on the other's word.
#[test]
fn a_ping_pong_never_deadlocks() {
    loom::model(|| {
        let ping = Arc::new(AtomicU32::new(0));
        let pong = Arc::new(AtomicU32::new(0));
        let echo = {
            let (ping, pong) = (ping.clone(), pong.clone());
            thread::spawn(move || {
                wait::until_moved(
                    &ping,
                    0,
                    &SLEEP_AT_ONCE,
                    &AssumeAlive,
                    &mut Default::default(),
                )
                .unwrap();
                if wake::publish(&pong, 1) {
                    wait::wake_one(&pong);
                }
            })
        };
        if wake::publish(&ping, 1) {
            wait::wake_one(&ping);
        }
        wait::until_moved(
            &pong,
            0,
            &SLEEP_AT_ONCE,
            &AssumeAlive,
            &mut Default::default(),
        )
        .unwrap();
        echo.join().unwrap();
    });
}

/// Data written before a publish is visible after the position is seen: the ring's payload
/// hand-off relies on exactly this.
#[test]
fn published_data_is_visible_to_the_reader() {
    loom::model(|| {
        let word = Arc::new(AtomicU32::new(0));
        let slot = Arc::new(UnsafeCell::new(0u64));
        let producer = {
            let (word, slot) = (word.clone(), slot.clone());
            thread::spawn(move || {
                // SAFETY: the consumer reads the slot only after seeing position 8.
                slot.with_mut(|p| unsafe { *p = 0xfeed });
                if wake::publish(&word, 8) {
                    wait::wake_one(&word);
                }
            })
        };
        wait::until_moved(
            &word,
            0,
            &SLEEP_AT_ONCE,
            &AssumeAlive,
            &mut Default::default(),
        )
        .unwrap();
        // SAFETY: the acquire load in until_moved saw the producer's release.
        let value = slot.with(|p| unsafe { *p });
        assert_eq!(value, 0xfeed);
        producer.join().unwrap();
    });
}

/// The real ring, with a consumer that can get ahead of the producer's published head (it reads
/// records by their tags, which come before the head): every interleaving must deliver all
/// messages in order, and a consumer that sleeps must be woken. Three messages: the consumer
/// must be able to read two by their tags and then block while the head still lags.
#[test]
fn the_ring_hands_over_messages_while_the_head_lags() {
    bounded(PREEMPTIONS).check(|| hand_over(64, Wakeups::Futex, 3, &SLEEP_AT_ONCE));
}

/// A spin-only ring publishes with plain release stores: every interleaving must still deliver
/// the messages in order with their bytes (the store-release / load-acquire pairs carry the
/// payload), with both sides yielding as they poll, through a full ring (three 16-byte records
/// in 32 bytes).
#[test]
fn a_spin_only_ring_hands_over_messages_with_plain_stores() {
    const POLL: Wait<'static> = Wait {
        strategy: Strategy::SpinThenYield { spins: 0 },
        ..Wait::futex()
    };
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| hand_over(32, Wakeups::SpinOnly, 3, &POLL));
}

/// Two producers ring the fan-in doorbell while the consumer may be going to sleep on it: both
/// messages must arrive and the consumer must never sleep through a ring.
#[test]
fn the_fan_in_doorbell_loses_no_ring() {
    use crate::fan_in::FanIn;
    bounded(PREEMPTIONS).check(|| {
        let words = FanIn::required_len(2, 64).div_ceil(8);
        let memory = zeroed_words(words);
        let fan_in = FanIn::init(Region::from_slice(memory), 2, 64).unwrap();
        let senders: std::vec::Vec<_> = (0..2)
            .map(|lane| {
                let mut producer = fan_in.producer(lane).unwrap();
                thread::spawn(move || {
                    producer
                        .push_blocking(&[lane as u8; 4], &SLEEP_AT_ONCE)
                        .unwrap()
                })
            })
            .collect();
        let mut consumer = fan_in.consumer().unwrap();
        let mut seen = [false; 2];
        let mut buffer = [0u8; 4];
        for _ in 0..2 {
            let (lane, len) = consumer.pop_blocking(&mut buffer, &SLEEP_AT_ONCE).unwrap();
            assert_eq!((len, buffer[0] as usize), (4, lane));
            seen[lane] = true;
        }
        assert_eq!(seen, [true, true]);
        for sender in senders {
            sender.join().unwrap();
        }
    });
}

/// A producer that must wait for room (three 16-byte records through a 32-byte ring, which
/// holds two) while the consumer publishes its releases lazily: every interleaving must deliver
/// all three, and the producer must never sleep through a release it waits for.
#[test]
fn a_producer_waiting_for_room_is_woken_by_lazy_releases() {
    bounded(PREEMPTIONS).check(|| hand_over(32, Wakeups::Futex, 3, &SLEEP_AT_ONCE));
}

/// Payload words equal to the tags the consumer looks for a lap later: the stand-in layout
/// writes, for every 8 bytes of payload, the header of a record at that position one lap on
/// (see `spsc::data`). Records of 32, 32 and 16 bytes through a 64-byte ring move the
/// boundaries between laps, so the third message ends where the first one's payload forged
/// a header; every interleaving must deliver exactly the three messages sent, and nothing else.
#[test]
fn payload_words_equal_to_future_tags_are_never_a_message() {
    const SENT: [(u8, usize); 3] = [(1, 24), (2, 24), (3, 8)];
    bounded(PREEMPTIONS).check(|| {
        let memory = zeroed_words(Spsc::required_len(64) / 8);
        let ring = Spsc::init(Region::from_slice(memory), 64).unwrap();
        let mut producer = ring.producer().unwrap();
        let mut consumer = ring.consumer().unwrap();
        let sender = thread::spawn(move || {
            for (byte, len) in SENT {
                producer
                    .push_blocking(&[byte; 24][..len], &SLEEP_AT_ONCE)
                    .unwrap();
            }
        });
        let mut buffer = [0u8; 24];
        for (byte, len) in SENT {
            let got = consumer.pop_blocking(&mut buffer, &SLEEP_AT_ONCE).unwrap();
            assert_eq!(&buffer[..got], &[byte; 24][..len], "message {byte}");
        }
        sender.join().unwrap();
        assert_eq!(
            consumer.pop(&mut buffer).unwrap(),
            None,
            "a message nobody sent"
        );
    });
}

/// One model run of the real ring: a `capacity`-byte ring in `wakeups` mode, a thread pushing
/// `messages` 8-byte messages (1, 2, ...), this thread popping them, both waiting as `how` says.
/// Every message must arrive in order with its bytes, and neither side may wait forever.
fn hand_over(capacity: usize, wakeups: Wakeups, messages: u8, how: &'static Wait<'static>) {
    let memory = zeroed_words(Spsc::required_len(capacity) / 8);
    let ring = Spsc::init_with(Region::from_slice(memory), capacity, wakeups).unwrap();
    let mut producer = ring.producer().unwrap();
    let mut consumer = ring.consumer().unwrap();
    let sender = thread::spawn(move || {
        for message in 1..=messages {
            producer.push_blocking(&[message; 8], how).unwrap();
        }
    });
    let mut buffer = [0u8; 8];
    for expected in 1..=messages {
        assert_eq!(consumer.pop_blocking(&mut buffer, how).unwrap(), 8);
        assert_eq!(buffer, [expected; 8]);
    }
    sender.join().unwrap();
}

/// Preemptions a model of the real ring explores at most. Its record tags and lengths are loom
/// atomics too (the stand-in layout of `spsc::data`), and every load of one is a branch: the
/// unbounded space of three messages did not finish in 15 minutes and 11 GB.
const PREEMPTIONS: usize = 3;

/// A model builder bounded to `preemptions` (loom's advice for models of this size).
fn bounded(preemptions: usize) -> loom::model::Builder {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(preemptions);
    model
}

/// `words` zeroed words that live as long as the model's threads may use them.
fn zeroed_words(words: usize) -> &'static mut [u64] {
    std::boxed::Box::leak(std::vec![0u64; words].into_boxed_slice())
}

/// The async adapters' wake protocol, on a ring whose sides both sleep on eventfds (models of
/// them): each side checks, announces itself on the peer's index word, and sleeps on its
/// eventfd until rung; the peer rings when its publish finds the bit. The ring holds two
/// records, so the producer also waits for room. A lost wake-up shows as a deadlock.
#[test]
fn a_side_sleeping_on_an_eventfd_is_always_rung() {
    use crate::doorbell::{Doorbell, ModelEventfd};
    use crate::spsc::EventfdSides;
    bounded(PREEMPTIONS).check(|| {
        let memory = zeroed_words(Spsc::required_len(32) / 8);
        let wakeups = Wakeups::Eventfd(EventfdSides::Both);
        let ring = Spsc::init_with(Region::from_slice(memory), 32, wakeups).unwrap();
        let consumer_sleeps_on: &'static ModelEventfd = std::boxed::Box::leak(Default::default());
        let producer_sleeps_on: &'static ModelEventfd = std::boxed::Box::leak(Default::default());
        let mut producer = ring
            .producer_with_doorbell(Doorbell::model(consumer_sleeps_on))
            .unwrap();
        let mut consumer = ring
            .consumer_with_doorbell(Doorbell::model(producer_sleeps_on))
            .unwrap();
        let sender = thread::spawn(move || {
            for message in 1..=3u8 {
                while !producer.has_room_for(8).unwrap() {
                    if producer.announce_sleep(8).unwrap() {
                        producer_sleeps_on.wait();
                    }
                }
                producer.push(&[message; 8]).unwrap();
            }
        });
        let mut buffer = [0u8; 8];
        for expected in 1..=3 {
            while consumer.pop(&mut buffer).unwrap().is_none() {
                if consumer.announce_sleep().unwrap() {
                    consumer_sleeps_on.wait();
                }
            }
            assert_eq!(buffer, [expected; 8]);
        }
        sender.join().unwrap();
    });
}

/// Two producers ring a fan-in region whose consumer sleeps on an eventfd (a model of it), as
/// the async consumer does: look, announce on the doorbell word, sleep until rung. Both
/// messages must arrive; a ring lost between the look and the sleep shows as a deadlock.
#[test]
fn a_fan_in_consumer_sleeping_on_an_eventfd_is_always_rung() {
    use crate::doorbell::{Doorbell, ModelEventfd, ReaderSleeps};
    use crate::fan_in::FanIn;
    bounded(PREEMPTIONS).check(|| {
        let memory = zeroed_words(FanIn::required_len(2, 64).div_ceil(8));
        let fan_in =
            FanIn::init_with(Region::from_slice(memory), 2, 64, ReaderSleeps::OnEventfd).unwrap();
        let sleeps_on: &'static ModelEventfd = std::boxed::Box::leak(Default::default());
        let senders: std::vec::Vec<_> = (0..2)
            .map(|lane| {
                let mut producer = fan_in
                    .producer_with_doorbell(lane, Doorbell::model(sleeps_on))
                    .unwrap();
                thread::spawn(move || producer.push(&[lane as u8; 4]).unwrap())
            })
            .collect();
        let mut consumer = fan_in.consumer().unwrap();
        let mut seen = [false; 2];
        for _ in 0..2 {
            let lane = loop {
                if let Some(lane) = consumer.poll_ready().unwrap() {
                    break lane;
                }
                if consumer.announce_sleep().unwrap() {
                    sleeps_on.wait();
                }
            };
            let (lane, grant) = consumer.read_lane(lane).unwrap();
            assert_eq!(grant[0] as usize, lane);
            grant.release();
            seen[lane] = true;
        }
        assert_eq!(seen, [true, true]);
        for sender in senders {
            sender.join().unwrap();
        }
    });
}

/// A broadcast producer that sleeps on an eventfd waits for room behind a subscriber that
/// sleeps on another: a ring that holds two records, three messages, so each side must be rung
/// by the other in some interleaving. Either ring lost shows as a deadlock.
#[test]
fn a_broadcast_producer_sleeping_on_an_eventfd_is_always_rung() {
    use crate::broadcast::{Broadcast, Mode};
    use crate::doorbell::{Doorbell, ModelEventfd, ProducerSleeps, ReaderSleeps};
    bounded(2).check(|| {
        let memory = zeroed_words(Broadcast::required_len(64).div_ceil(8));
        let broadcast = Broadcast::init_with_sleepers(
            Region::from_slice(memory),
            64,
            1,
            Mode::Backpressure,
            ReaderSleeps::OnEventfd,
            ProducerSleeps::OnEventfd,
        )
        .unwrap();
        let subscriber_sleeps_on: &'static ModelEventfd = std::boxed::Box::leak(Default::default());
        let producer_sleeps_on: &'static ModelEventfd = std::boxed::Box::leak(Default::default());
        let mut producer = broadcast
            .producer_with_doorbell(Doorbell::model(subscriber_sleeps_on))
            .unwrap();
        let mut subscriber = broadcast
            .subscriber_with_doorbell(0, Doorbell::model(producer_sleeps_on))
            .unwrap();
        let reader = thread::spawn(move || {
            let (mut buffer, mut edge) = ([0u8; 16], 0u64);
            for expected in 1..=3u8 {
                loop {
                    if subscriber.pop(&mut buffer).unwrap().is_some() {
                        break;
                    }
                    if subscriber.announce_sleep().unwrap() {
                        subscriber_sleeps_on.wait_for_edge(&mut edge);
                    }
                }
                assert_eq!(buffer[0], expected);
            }
        });
        for message in 1..=3u8 {
            loop {
                if producer.has_room_for(16).unwrap() {
                    producer.push(&[message; 16]).unwrap();
                    break;
                }
                if producer.announce_sleep(16).unwrap().is_some() {
                    producer_sleeps_on.wait();
                }
            }
        }
        reader.join().unwrap();
    });
}

/// Two subscribers sleep on one eventfd (a model of it whose count nobody takes: each waits
/// for an edge since it last woke, as an edge-triggered poller does) while the producer
/// publishes two messages and rings once per publish that finds the shared announcement.
/// Every subscriber must get both; one sleeping through its ring shows as a deadlock.
#[test]
fn subscribers_sharing_an_eventfd_are_all_rung() {
    use crate::broadcast::{Broadcast, Mode};
    use crate::doorbell::{Doorbell, ModelEventfd, ReaderSleeps};
    bounded(2).check(|| {
        let memory = zeroed_words(Broadcast::required_len(256).div_ceil(8));
        let broadcast = Broadcast::init_with(
            Region::from_slice(memory),
            256,
            2,
            Mode::Backpressure,
            ReaderSleeps::OnEventfd,
        )
        .unwrap();
        let sleep_on: &'static ModelEventfd = std::boxed::Box::leak(Default::default());
        let mut producer = broadcast
            .producer_with_doorbell(Doorbell::model(sleep_on))
            .unwrap();
        let subscribers: std::vec::Vec<_> = (0..2)
            .map(|index| {
                let mut subscriber = broadcast.subscriber(index).unwrap();
                thread::spawn(move || {
                    let (mut buffer, mut edge) = ([0u8; 8], 0u64);
                    for expected in 1..=2u8 {
                        loop {
                            if subscriber.pop(&mut buffer).unwrap().is_some() {
                                break;
                            }
                            if subscriber.announce_sleep().unwrap() {
                                sleep_on.wait_for_edge(&mut edge);
                            }
                        }
                        assert_eq!(buffer[0], expected);
                    }
                })
            })
            .collect();
        for message in 1..=2u8 {
            producer.push(&[message; 8]).unwrap();
        }
        for subscriber in subscribers {
            subscriber.join().unwrap();
        }
    });
}
