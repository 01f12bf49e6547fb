//! What an embedder reads in the docs holds: a copy that does not fit leaves the message whole,
//! `init` refuses a structure in use, and each layout error names the problem in its own words.
//! (Sides inherited across `fork` are tested between real processes, in the workspace's
//! `tests/ipc_core_cross_process.rs`.) These run under miri too.

extern crate std;

use std::format;
use std::vec;
use std::vec::Vec;

use crate::broadcast::{Broadcast, Mode};
use crate::fan_in::{FanIn, FanInError, MAX_LANES};
use crate::role::Role;
use crate::spsc::{ReadError, Spsc, MAX_CAPACITY};
use crate::wait::Wait;
use crate::{LayoutError, Region};

fn memory(len: usize) -> Vec<u64> {
    vec![0u64; len.div_ceil(8)]
}

#[test]
fn a_message_longer_than_the_buffer_stays_in_the_spsc_ring_whole() {
    let mut memory = memory(Spsc::required_len(1024));
    let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
    let (mut producer, mut consumer) = (ring.producer().unwrap(), ring.consumer().unwrap());
    producer.push(b"ten bytes!").unwrap();
    let mut small = [0u8; 4];
    let refused = ReadError::BufferTooSmall { len: 10, buffer: 4 };
    assert_eq!(consumer.pop(&mut small), Err(refused));
    assert_eq!(small, [0; 4], "nothing copied");
    let wait = Wait::futex().with_timeout(core::time::Duration::from_millis(1));
    assert_eq!(consumer.pop_blocking(&mut small, &wait), Err(refused));
    let message = format!("{refused}");
    assert!(
        message.contains("10 bytes") && message.contains("stays"),
        "{message}"
    );
    let mut large = [0u8; 16];
    assert_eq!(consumer.pop(&mut large), Ok(Some(10)));
    assert_eq!(&large[..10], b"ten bytes!");
    assert_eq!(consumer.pop(&mut large), Ok(None));
}

#[test]
fn a_message_longer_than_the_buffer_stays_in_its_fan_in_lane() {
    let mut memory = memory(FanIn::required_len(2, 1024));
    let fan_in = FanIn::init(Region::from_slice(&mut memory), 2, 1024).unwrap();
    let mut producer = fan_in.producer(1).unwrap();
    let mut consumer = fan_in.consumer().unwrap();
    producer.push(b"ten bytes!").unwrap();
    let wait = Wait::futex().with_timeout(core::time::Duration::from_millis(1));
    let mut small = [0u8; 4];
    let refused = consumer.pop_blocking(&mut small, &wait).unwrap_err();
    assert_eq!(
        refused,
        FanInError::BufferTooSmall {
            lane: 1,
            len: 10,
            buffer: 4
        }
    );
    assert!(format!("{refused}").starts_with("lane 1: "), "{refused}");
    let mut large = [0u8; 16];
    assert_eq!(consumer.pop_blocking(&mut large, &wait), Ok((1, 10)));
    assert_eq!(&large[..10], b"ten bytes!");
}

#[test]
fn a_message_longer_than_the_buffer_stays_for_a_broadcast_subscriber() {
    for mode in [Mode::Backpressure, Mode::Lossy] {
        let mut memory = memory(Broadcast::required_len(1024));
        let broadcast = Broadcast::init(Region::from_slice(&mut memory), 1024, 1, mode).unwrap();
        let mut producer = broadcast.producer().unwrap();
        let mut subscriber = broadcast.subscriber(0).unwrap();
        producer.push(b"ten bytes!").unwrap();
        let mut small = [0u8; 4];
        let refused = ReadError::BufferTooSmall { len: 10, buffer: 4 };
        assert_eq!(subscriber.pop(&mut small), Err(refused), "{mode:?}");
        let wait = Wait::futex().with_timeout(core::time::Duration::from_millis(1));
        assert_eq!(
            subscriber.pop_blocking(&mut small, &wait),
            Err(refused),
            "{mode:?}"
        );
        let mut large = [0u8; 16];
        let received = subscriber.pop(&mut large).unwrap().expect("still there");
        assert_eq!((received.len, received.lost), (10, 0), "{mode:?}");
        assert_eq!(&large[..10], b"ten bytes!");
    }
}

#[test]
fn init_refuses_an_spsc_ring_in_use_until_its_sides_are_dropped() {
    let mut memory = memory(Spsc::required_len(1024));
    let region = Region::from_slice(&mut memory);
    let ring = Spsc::init(region, 1024).unwrap();
    let producer = ring.producer().unwrap();
    let in_use = LayoutError::InUse {
        role: Role::Producer,
    };
    assert_eq!(Spsc::init(region, 1024).unwrap_err(), in_use);
    producer_keeps_its_role(region);
    let message = format!("{in_use}");
    assert!(
        message.contains("the producer is held") && message.contains("in use"),
        "{message}"
    );
    drop(producer);
    let consumer = ring.consumer().unwrap();
    assert_eq!(
        Spsc::init(region, 1024).unwrap_err(),
        LayoutError::InUse {
            role: Role::Consumer
        }
    );
    drop(consumer);
    let again = Spsc::init(region, 1024).expect("nobody holds a role: laid out again");
    assert!(again.producer().is_ok());
}

/// The refused `init` left the ring alone: the producer's claim still stands.
fn producer_keeps_its_role(region: Region<'_>) {
    let ring = Spsc::attach(region).unwrap();
    assert!(ring.producer().is_err(), "a second producer was granted");
}

#[test]
fn init_refuses_a_fan_in_or_broadcast_region_in_use_and_any_region_of_another_kind() {
    let len = FanIn::required_len(3, 1024).max(Broadcast::required_len(1024));
    let mut memory = memory(len);
    let region = Region::from_slice(&mut memory);
    let fan_in = FanIn::init(region, 3, 1024).unwrap();
    let producer = fan_in.producer(2).unwrap();
    assert_eq!(
        FanIn::init(region, 3, 1024).unwrap_err(),
        LayoutError::InUse {
            role: Role::LaneProducer(2),
        }
    );
    drop(producer);
    // Another kind's roles cannot be read from here: refused, live or not, until zeroed.
    let other_kind = Broadcast::init(region, 1024, 1, Mode::Lossy).unwrap_err();
    says(
        other_kind,
        &["holds a fan-in region (FANI), not a broadcast region (BCST)"],
    );
    assert!(
        FanIn::init(region, 3, 1024).is_ok(),
        "its own kind, no role held"
    );
    memory.fill(0);
    let region = Region::from_slice(&mut memory);
    let broadcast = Broadcast::init(region, 1024, 4, Mode::Lossy).unwrap();
    let subscriber = broadcast.subscriber(3).unwrap();
    assert_eq!(
        Broadcast::init(region, 1024, 4, Mode::Lossy).unwrap_err(),
        LayoutError::InUse {
            role: Role::Subscriber(3),
        }
    );
    assert!(matches!(
        Spsc::init(region, 1024),
        Err(LayoutError::WrongKind { .. })
    ));
    drop(subscriber);
    assert!(Broadcast::init(region, 1024, 4, Mode::Lossy).is_ok());
}

/// The display of a layout error, checked to contain every piece.
fn says(error: LayoutError, pieces: &[&str]) {
    let message = format!("{error}");
    for piece in pieces {
        assert!(message.contains(piece), "{message:?} lacks {piece:?}");
    }
}

#[test]
fn a_capacity_too_small_or_too_large_is_told_apart_from_one_not_a_power_of_two() {
    let mut memory = memory(Spsc::required_len(1024));
    let region = Region::from_slice(&mut memory);
    let small = Spsc::init(region, 8).unwrap_err();
    assert_eq!(
        small,
        LayoutError::CapacityOutOfRange {
            capacity: 8,
            min: 16,
            max: MAX_CAPACITY as u64
        }
    );
    says(
        small,
        &["capacity 8 is out of range", "from 16 to 1073741824"],
    );
    let large = Spsc::init(region, 1 << 31).unwrap_err();
    says(large, &["capacity 2147483648 is out of range"]);
    says(
        Spsc::init(region, 1000).unwrap_err(),
        &["capacity 1000 is not a non-zero power of two"],
    );
    says(
        Broadcast::init(region, 32, 1, Mode::Lossy).unwrap_err(),
        &["capacity 32 is out of range", "from 64"],
    );
}

#[test]
fn a_structure_of_another_kind_is_named() {
    let mut memory = memory(FanIn::required_len(2, 1024));
    let region = Region::from_slice(&mut memory);
    FanIn::init(region, 2, 1024).unwrap();
    says(
        Spsc::attach(region).unwrap_err(),
        &["holds a fan-in region (FANI), not an SPSC ring (SPSC)"],
    );
    says(
        Broadcast::attach(region).unwrap_err(),
        &["not a broadcast region (BCST)"],
    );
}

#[test]
fn a_lane_or_subscriber_count_out_of_range_says_the_range() {
    let mut memory = memory(FanIn::required_len(2, 1024));
    let region = Region::from_slice(&mut memory);
    for lanes in [0, MAX_LANES + 72] {
        let refused = FanIn::init(region, lanes, 1024).unwrap_err();
        says(
            refused,
            &[&format!("{lanes} lanes is out of range: 1 to {MAX_LANES}")],
        );
    }
    says(
        Broadcast::init(region, 1024, 0, Mode::Lossy).unwrap_err(),
        &["0 subscribers is out of range: 1 to 128"],
    );
}

#[test]
fn a_view_too_short_says_how_many_bytes_the_structure_needs() {
    let len = Spsc::required_len(4096);
    let mut memory = memory(len);
    let region = Region::from_slice(&mut memory);
    Spsc::init(region, 4096).unwrap();
    // SAFETY: a prefix of memory this test owns.
    let short = unsafe { Region::from_raw(region.base(), len - 64) };
    assert_eq!(
        Spsc::attach(short).unwrap_err(),
        LayoutError::RegionTooSmall {
            len: len - 64,
            needed: len
        }
    );
    // SAFETY: as above.
    let tiny = unsafe { Region::from_raw(region.base(), 16) };
    let refused = Spsc::attach(tiny).unwrap_err();
    says(refused, &["16 bytes cannot hold even the 28-byte header"]);
    says(
        Spsc::init(tiny, 4096).unwrap_err(),
        &[&format!("{len} bytes needed")],
    );
}
