//! A hostile peer against ipc-core's rings: starts from a valid ring of each kind with messages
//! in flight, and interleaves both sides' real operations with writes of chosen words (header
//! fields, the control block, the length and tag of the record at either side's position, wrap
//! markers, lane headers, subscriber cursors, role claims, any word), and with claims and
//! take-overs of every role. The oracle: no panic, no operation that
//! does not return (libFuzzer's -timeout), no access outside the region (AddressSanitizer: the
//! region is a heap allocation of exactly its size). On an input with no hostile write, claim
//! or re-attachment, both sides follow the protocol, and the messages' payloads are made of
//! the words a record header is made of: then every message read must be exactly one sent,
//! in order (lossy broadcast: in order, with the gaps the subscriber is told of), and an empty
//! read must mean nothing is left to read. With IPC_FUZZ_COUNTS set, the outcome of
//! every operation is counted by error variant and printed at exit, to show which checks a run
//! reached.

#![no_main]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use arbitrary::Arbitrary;
use ipc_core::broadcast::{Broadcast, Mode};
use ipc_core::fan_in::{FanIn, FanInError};
use ipc_core::header::BLOCK_ALIGN;
use ipc_core::role::ClaimError;
use ipc_core::spsc::{Corruption, ReadError, ReserveError, Spsc};
use ipc_core::wait::{Liveness, Strategy, Wait, WaitError};
use ipc_core::{LayoutError, Region};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Kind {
    Spsc,
    FanIn { lanes: u8 },
    Broadcast { subscribers: u8, lossy: bool },
}

/// A word the hostile peer writes, found as a real peer would find it.
#[derive(Arbitrary, Debug)]
enum Target {
    /// Any 4-byte word of the region (index modulo the region's words).
    Word(u16),
    /// A header field (magic, version, kind, lengths, offsets).
    Header(u8),
    /// A word of a control block (indices, cursors, lane count, mode, role claims): the
    /// structure's own, or for fan-in, lane 0's on odd values.
    Control(u16),
    /// The length word of the record at the reading side's position.
    NextLength,
    /// The tag word of the record at the reading side's position.
    NextTag,
    /// The length word at a data offset.
    DataWord(u16),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Push {
        len: u16,
        lane: u8,
    },
    PushDeferred {
        len: u16,
    },
    Flush,
    Read {
        who: u8,
    },
    ReadBlocking {
        who: u8,
    },
    Quarantine {
        lane: u8,
    },
    Write {
        target: Target,
        value: u32,
    },
    /// The value a real peer would most likely get wrong: a position near the others.
    WriteNear {
        target: Target,
        delta: i16,
    },
    Reattach,
    /// Claim a role (which one: modulo the roles the structure has) next to its holder
    /// (`how` 0), or take it over from a holder said to be alive (1) or dead (2); a side so
    /// claimed replaces the one held.
    Claim {
        role: u8,
        how: u8,
    },
    /// Attach at a base 2 bytes into the memory: not aligned as a region must be.
    AttachMisaligned,
    /// An async waiter's hooks (SPSC): announce a sleep on the peer's index, then withdraw it,
    /// on the consumer (`who` even) or the producer (odd, for a `len`-byte message).
    Announce {
        who: u8,
        len: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Case {
    kind: Kind,
    capacity_log2: u8,
    ops: Vec<Op>,
}

/// Outcome counters, by name.
const OUTCOMES: [&str; 26] = [
    "ok",
    "empty",
    "full",
    "too-large",
    "corrupt:head-index",
    "corrupt:tail-index",
    "corrupt:unpublished",
    "corrupt:vanished",
    "corrupt:record-length",
    "wait:timed-out",
    "wait:other",
    "fan-in:lane",
    "layout:region-too-small",
    "layout:misaligned",
    "layout:bad-magic",
    "layout:unsupported-version",
    "layout:wrong-kind",
    "layout:capacity",
    "layout:unknown-value",
    "layout:out-of-range",
    "layout:other",
    "claim:taken",
    "claim:holder-alive",
    "claim:no-such-role",
    "claim:doorbell",
    "cases",
];
static COUNTS: [AtomicU64; OUTCOMES.len()] = [const { AtomicU64::new(0) }; OUTCOMES.len()];

fn count(name: &str) {
    if let Some(i) = OUTCOMES.iter().position(|n| *n == name) {
        COUNTS[i].fetch_add(1, Ordering::Relaxed);
    }
}

extern "C" fn print_counts() {
    for (name, n) in OUTCOMES.iter().zip(&COUNTS) {
        eprintln!("ipc-fuzz-count {name} {}", n.load(Ordering::Relaxed));
    }
}

fn corruption(c: Corruption) {
    count(match c {
        Corruption::HeadIndex { .. } => "corrupt:head-index",
        Corruption::TailIndex { .. } => "corrupt:tail-index",
        Corruption::Unpublished { .. } => "corrupt:unpublished",
        Corruption::Vanished { .. } => "corrupt:vanished",
        Corruption::RecordLength { .. } => "corrupt:record-length",
    });
}

fn reserve_outcome(r: Result<(), ReserveError>) {
    match r {
        Ok(()) => count("ok"),
        Err(ReserveError::Full) => count("full"),
        Err(ReserveError::TooLarge { .. }) => count("too-large"),
        Err(ReserveError::Corrupt(c)) => corruption(c),
        Err(ReserveError::Wait(w)) => wait(w),
    }
}

fn read_outcome<T>(r: Result<Option<T>, ReadError>) {
    match r {
        Ok(Some(_)) => count("ok"),
        Ok(None) => count("empty"),
        Err(ReadError::Corrupt(c)) => corruption(c),
        Err(ReadError::Wait(w)) => wait(w),
        Err(ReadError::BufferTooSmall { .. }) => count("read:buffer-too-small"),
    }
}

fn wait(w: WaitError) {
    count(match w {
        WaitError::TimedOut => "wait:timed-out",
        _ => "wait:other",
    });
}

fn claim_error(e: ClaimError) {
    count(match e {
        ClaimError::Taken(_) => "claim:taken",
        ClaimError::HolderAlive(_) => "claim:holder-alive",
        ClaimError::NoSuchRole(_) => "claim:no-such-role",
        ClaimError::Doorbell { .. } => "claim:doorbell",
    });
}

/// Counts a claim's outcome and returns the side it gave, if any.
fn claimed<T>(r: Result<T, ClaimError>) -> Option<T> {
    match r {
        Ok(side) => {
            count("ok");
            Some(side)
        }
        Err(e) => {
            claim_error(e);
            None
        }
    }
}

/// A holder proved dead, for take-overs.
struct Dead;
impl Liveness for Dead {
    fn peer_alive(&self) -> bool {
        false
    }
}

/// A holder that lives: a take-over of a held role must be refused.
struct Alive;
impl Liveness for Alive {
    fn peer_alive(&self) -> bool {
        true
    }
}

/// A claim as `how` says: plain (0), a take-over from a live (1) or a dead (2) holder.
fn claim<T>(
    how: u8,
    plain: impl FnOnce() -> Result<T, ClaimError>,
    take_over: impl FnOnce(&dyn Liveness) -> Result<T, ClaimError>,
) -> Option<T> {
    claimed(match how % 3 {
        0 => plain(),
        1 => take_over(&Alive),
        _ => take_over(&Dead),
    })
}

fn layout_error(e: LayoutError) {
    count(match e {
        LayoutError::RegionTooSmall { .. } => "layout:region-too-small",
        LayoutError::Misaligned { .. } => "layout:misaligned",
        LayoutError::BadMagic { .. } => "layout:bad-magic",
        LayoutError::UnsupportedVersion { .. } => "layout:unsupported-version",
        LayoutError::WrongKind { .. } => "layout:wrong-kind",
        LayoutError::CapacityNotPowerOfTwo { .. } => "layout:capacity",
        LayoutError::UnknownValue { .. } => "layout:unknown-value",
        LayoutError::OutOfRange { .. } => "layout:out-of-range",
        LayoutError::CapacityOutOfRange { .. } => "layout:capacity-range",
        LayoutError::CountOutOfRange { .. } => "layout:count",
        LayoutError::TooSmallForHeader { .. } => "layout:no-room-for-header",
        LayoutError::InUse { .. } => "layout:in-use",
        #[allow(unreachable_patterns)]
        _ => "layout:other",
    });
}

/// The region's memory: a heap allocation of exactly `len` bytes, 8-aligned, so that
/// AddressSanitizer reports any access past it.
struct Memory {
    words: Vec<u64>,
    len: usize,
}

impl Memory {
    fn new(len: usize) -> Self {
        Self {
            words: vec![0; len / 8],
            len: len / 8 * 8,
        }
    }
    fn region(&mut self) -> Region<'static> {
        let base = std::ptr::NonNull::new(self.words.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: the memory outlives every ring made from it (the case's structures are
        // dropped before it), and is touched only through the rings and `poke`, atomically.
        unsafe { Region::from_raw(base, self.len) }
    }
    /// The hostile write: one aligned 4-byte word, atomically, as a peer process would.
    fn poke(&self, byte: usize, value: u32) {
        let byte = (byte % self.len) & !3;
        let base = self.words.as_ptr().cast::<u8>();
        // SAFETY: an aligned word inside the allocation; AtomicU32 tolerates the rings' own
        // concurrent-style accesses.
        unsafe { AtomicU32::from_ptr(base.add(byte).cast_mut().cast()) }
            .store(value, Ordering::Relaxed);
    }
    /// The memory less its first 2 bytes: a base no structure may start at (its words would
    /// be misaligned).
    fn misaligned(&mut self) -> Region<'static> {
        let base = std::ptr::NonNull::new(self.words.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: 2 bytes into the same allocation, 2 bytes shorter: inside it.
        unsafe { Region::from_raw(base.add(2), self.len - 2) }
    }

    fn peek(&self, byte: usize) -> u32 {
        let byte = (byte % self.len) & !3;
        let base = self.words.as_ptr().cast::<u8>();
        // SAFETY: as for poke.
        unsafe { AtomicU32::from_ptr(base.add(byte).cast_mut().cast()) }.load(Ordering::Relaxed)
    }
}

/// Where things are, for `Target`: the header at 0, control blocks (offset, length), and the
/// data area at `data_at`.
struct Layout {
    control: [(usize, usize); 2],
    data_at: usize,
    capacity: usize,
}

impl Layout {
    fn byte(&self, target: &Target, reading_at: u32) -> usize {
        match *target {
            Target::Word(i) => i as usize * 4,
            Target::Header(i) => (i as usize % 16) * 4,
            Target::Control(i) => {
                let (at, len) = self.control[i as usize % 2];
                at + (i as usize / 2 * 4) % len
            }
            Target::NextLength => self.data_at + (reading_at as usize & (self.capacity - 1) & !7),
            Target::NextTag => self.data_at + (reading_at as usize & (self.capacity - 1) & !7) + 4,
            Target::DataWord(i) => self.data_at + (i as usize * 4) % self.capacity,
        }
    }
}

/// The peer's write of `op` (a whole value, or the word there nudged by a delta), at its target
/// as seen from a reader at `reading_at`.
fn hostile_write(memory: &Memory, layout: &Layout, op: &Op, reading_at: u32) {
    match op {
        Op::Write { target, value } => memory.poke(layout.byte(target, reading_at), *value),
        Op::WriteNear { target, delta } => {
            let at = layout.byte(target, reading_at);
            memory.poke(at, memory.peek(at).wrapping_add(*delta as i32 as u32));
        }
        _ => {}
    }
}

/// A blocking read that gives up at once: it runs the checks a waiter makes before it waits
/// (the head index, records the head says are there) and returns TimedOut, without spinning.
fn timeout_now() -> Wait<'static> {
    let mut wait = Wait::busy_poll().with_timeout(core::time::Duration::ZERO);
    wait.strategy = Strategy::SpinThenYield { spins: 0 };
    wait
}

/// True when both sides follow the protocol throughout the case: no hostile write, no claim
/// beside a holder or take-over, no re-attachment (which takes every role over).
fn honest(case: &Case) -> bool {
    case.ops.iter().all(|op| {
        !matches!(
            op,
            Op::Write { .. } | Op::WriteNear { .. } | Op::Claim { .. } | Op::Reattach
        )
    })
}

/// A `len`-byte payload of words a reader could take for a record header: the tags
/// (`position + 1`) of positions near `near`, this lap and the next two, plausible lengths,
/// wrap markers and zeros; `seed` varies the mix from message to message.
fn payload(len: usize, near: u32, capacity: usize, seed: usize) -> Vec<u8> {
    let words = (0..len.div_ceil(4)).map(|i| {
        let k = seed.wrapping_mul(31).wrapping_add(i);
        let position = near
            .wrapping_add((8 * k % 256) as u32)
            .wrapping_add((capacity * (k % 3)) as u32);
        match k % 6 {
            0 => 0,
            1 => u32::MAX,
            2 | 3 => (8 * (k % 8)) as u32,
            _ => position.wrapping_add(1) & !(1 << 31),
        }
    });
    let mut bytes: Vec<u8> = words.flat_map(u32::to_le_bytes).collect();
    bytes.truncate(len);
    bytes
}

/// A message read against the one expected: the oracle of an honest case.
fn check(got: &[u8], expected: Option<&Vec<u8>>, what: &str) {
    match expected {
        Some(expected) => assert_eq!(got, &expected[..], "{what}: not the message sent"),
        None => panic!("{what}: a message nobody sent ({} bytes)", got.len()),
    }
}

fn run_spsc(case: &Case, capacity: usize) {
    let mut memory = Memory::new(Spsc::required_len(capacity));
    let region = memory.region();
    let ring = Spsc::init(region, capacity).unwrap();
    let data_at = Spsc::required_len(capacity) - capacity;
    let control = (BLOCK_ALIGN, data_at - BLOCK_ALIGN);
    let layout = Layout {
        control: [control, control],
        data_at,
        capacity,
    };
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let honest = honest(case);
    // The model of an honest case: messages published, and committed but deferred.
    let mut published = std::collections::VecDeque::new();
    let mut deferred = Vec::new();
    // Messages in flight before the hostile writes begin.
    for n in 0..3u8 {
        if tx.push(&[n; 24]).is_ok() {
            published.push_back(vec![n; 24]);
        }
    }
    let mut buffer = vec![0u8; capacity];
    for (seed, op) in case.ops.iter().enumerate() {
        match op {
            Op::Push { len, .. } => {
                let message = payload(*len as usize % capacity, rx.position(), capacity, seed);
                let pushed = tx.push(&message);
                if pushed.is_ok() {
                    published.extend(deferred.drain(..));
                    published.push_back(message);
                }
                reserve_outcome(pushed)
            }
            Op::PushDeferred { len } => {
                let message = payload(*len as usize % capacity, rx.position(), capacity, seed);
                match tx.reserve(message.len()) {
                    Ok(mut grant) => {
                        grant.copy_from_slice(&message);
                        grant.commit_deferred();
                        deferred.push(message);
                        count("ok");
                    }
                    Err(e) => reserve_outcome(Err(e)),
                }
            }
            Op::Flush => match tx.flush() {
                Ok(()) => {
                    published.extend(deferred.drain(..));
                    count("ok")
                }
                Err(c) => corruption(c),
            },
            Op::Read { .. } | Op::Quarantine { .. } => {
                let read = rx.pop(&mut buffer);
                if honest {
                    match read {
                        Ok(Some(len)) => {
                            check(&buffer[..len], published.pop_front().as_ref(), "spsc")
                        }
                        Ok(None) => assert!(published.is_empty(), "spsc: a message not read"),
                        Err(e) => panic!("spsc: {e} between honest sides"),
                    }
                }
                read_outcome(read)
            }
            Op::ReadBlocking { .. } => {
                let read = rx.pop_blocking(&mut buffer, &timeout_now());
                if honest {
                    match read {
                        Ok(len) => check(&buffer[..len], published.pop_front().as_ref(), "spsc"),
                        Err(ReadError::Wait(_)) => {
                            assert!(published.is_empty(), "spsc: a message not read")
                        }
                        Err(e) => panic!("spsc: {e} between honest sides"),
                    }
                }
                read_outcome(read.map(Some))
            }
            Op::Write { .. } | Op::WriteNear { .. } => {
                hostile_write(&memory, &layout, op, rx.position())
            }
            Op::AttachMisaligned => match Spsc::attach(memory.misaligned()) {
                Ok(_) => count("ok"),
                Err(e) => layout_error(e),
            },
            // Both sides made again, as after both processes restarted.
            Op::Reattach => match Spsc::attach(region) {
                Ok(again) => {
                    if let Some(side) = claimed(again.take_over_producer(&Dead)) {
                        tx = side;
                    }
                    if let Some(side) = claimed(again.take_over_consumer(&Dead)) {
                        rx = side;
                    }
                }
                Err(e) => layout_error(e),
            },
            Op::Announce { who, len } => {
                if who % 2 == 0 {
                    read_outcome::<()>(rx.announce_sleep().map(|_| None));
                    rx.withdraw_sleep();
                } else {
                    // A producer about to sleep publishes what it deferred first, whatever
                    // it then finds.
                    let announced = tx.announce_sleep(*len as usize % capacity);
                    published.extend(deferred.drain(..));
                    reserve_outcome(announced.map(|_| ()));
                    tx.withdraw_sleep();
                }
            }
            Op::Claim { role, how } => {
                if role % 2 == 0 {
                    let over = |h: &dyn Liveness| ring.take_over_producer(h);
                    if let Some(side) = claim(*how, || ring.producer(), over) {
                        tx = side;
                    }
                } else {
                    let over = |h: &dyn Liveness| ring.take_over_consumer(h);
                    if let Some(side) = claim(*how, || ring.consumer(), over) {
                        rx = side;
                    }
                }
            }
        }
    }
}

fn run_fan_in(case: &Case, lanes: usize, capacity: usize) {
    let len = FanIn::required_len(lanes, capacity);
    let mut memory = Memory::new(len.next_multiple_of(8));
    let region = memory.region();
    let fan_in = FanIn::init(region, lanes, capacity).unwrap();
    let lane_len = Spsc::required_len(capacity);
    let first_lane = len - lanes * lane_len;
    let layout = Layout {
        control: [
            (BLOCK_ALIGN, first_lane - BLOCK_ALIGN),
            (first_lane + BLOCK_ALIGN, lane_len - capacity - BLOCK_ALIGN),
        ],
        data_at: first_lane + lane_len - capacity,
        capacity,
    };
    let mut producers: Vec<_> = (0..lanes).map(|l| fan_in.producer(l).unwrap()).collect();
    let mut consumer = fan_in.consumer().unwrap();
    let honest = honest(case);
    let mut published = vec![std::collections::VecDeque::new(); lanes];
    for (n, p) in producers.iter_mut().enumerate() {
        if p.push(&[n as u8; 16]).is_ok() {
            published[n].push_back(vec![n as u8; 16]);
        }
    }
    let mut buffer = vec![0u8; capacity];
    let fan_in_outcome = |r: Result<(), FanInError>| match r {
        Ok(()) => count("ok"),
        Err(FanInError::Lane { corruption: c, .. }) => {
            count("fan-in:lane");
            corruption(c)
        }
        Err(FanInError::Wait(w)) => wait(w),
        Err(FanInError::ProducerGone { .. }) => count("fan-in:producer-gone"),
        Err(FanInError::BufferTooSmall { .. }) => count("fan-in:buffer-too-small"),
    };
    for (seed, op) in case.ops.iter().enumerate() {
        match op {
            Op::Push { len, lane } => {
                let lane = *lane as usize % lanes;
                let message = payload(*len as usize % capacity, 0, capacity, seed);
                let pushed = producers[lane].push(&message);
                if pushed.is_ok() {
                    published[lane].push_back(message);
                }
                reserve_outcome(pushed)
            }
            // The async hooks are the SPSC ring's.
            Op::PushDeferred { .. } | Op::Flush | Op::Announce { .. } => {}
            Op::Read { .. } => match consumer.read() {
                Ok(Some((lane, grant))) => {
                    if honest {
                        check(&grant, published[lane].pop_front().as_ref(), "fan-in");
                    }
                    grant.release();
                    count("ok")
                }
                Ok(None) => {
                    assert!(
                        !honest
                            || published
                                .iter()
                                .enumerate()
                                .all(|(l, q)| q.is_empty() || consumer.is_quarantined(l)),
                        "fan-in: a message not read"
                    );
                    count("empty")
                }
                Err(e) => {
                    assert!(!honest, "fan-in: {e} between honest sides");
                    fan_in_outcome(Err(e))
                }
            },
            Op::ReadBlocking { .. } => {
                let read = consumer.pop_blocking(&mut buffer, &timeout_now());
                if honest {
                    match read {
                        Ok((lane, len)) => check(
                            &buffer[..len],
                            published[lane].pop_front().as_ref(),
                            "fan-in",
                        ),
                        Err(FanInError::Wait(_)) => assert!(
                            published
                                .iter()
                                .enumerate()
                                .all(|(l, q)| q.is_empty() || consumer.is_quarantined(l)),
                            "fan-in: a message not read"
                        ),
                        Err(e) => panic!("fan-in: {e} between honest sides"),
                    }
                }
                fan_in_outcome(read.map(|_| ()))
            }
            Op::Quarantine { lane } => consumer.quarantine(*lane as usize % lanes),
            // The region's header and control block, or lane 0's first record.
            Op::Write { .. } | Op::WriteNear { .. } => hostile_write(&memory, &layout, op, 0),
            Op::AttachMisaligned => match FanIn::attach(memory.misaligned()) {
                Ok(_) => count("ok"),
                Err(e) => layout_error(e),
            },
            Op::Reattach => match FanIn::attach(region) {
                Ok(_) => count("ok"),
                Err(e) => layout_error(e),
            },
            // Lanes 0..=lanes: one past the last names no lane.
            Op::Claim { role, how } => {
                let lane = *role as usize % (lanes + 2);
                if lane == lanes + 1 {
                    let over = |h: &dyn Liveness| fan_in.take_over_consumer(h);
                    if let Some(side) = claim(*how, || fan_in.consumer(), over) {
                        consumer = side;
                    }
                } else {
                    let over = |h: &dyn Liveness| fan_in.take_over_producer(lane, h);
                    if let Some(side) = claim(*how, || fan_in.producer(lane), over) {
                        producers[lane] = side;
                    }
                }
            }
        }
    }
}

fn run_broadcast(case: &Case, subscribers: usize, lossy: bool, capacity: usize) {
    let len = Broadcast::required_len(capacity);
    let mut memory = Memory::new(len.next_multiple_of(8));
    let region = memory.region();
    let mode = if lossy {
        Mode::Lossy
    } else {
        Mode::Backpressure
    };
    let b = Broadcast::init(region, capacity, subscribers, mode).unwrap();
    let control = (BLOCK_ALIGN, len - capacity - BLOCK_ALIGN);
    let layout = Layout {
        control: [control, control],
        data_at: len - capacity,
        capacity,
    };
    let mut producer = b.producer().unwrap();
    let mut subs: Vec<_> = (0..subscribers).map(|i| b.subscriber(i).unwrap()).collect();
    let honest = honest(case);
    // The model of an honest case: every message sent, and each subscriber's next one.
    let mut sent = Vec::new();
    let mut next = vec![0usize; subscribers];
    for n in 0..3u8 {
        if producer.push(&[n; 20]).is_ok() {
            sent.push(vec![n; 20]);
        }
    }
    let mut buffer = vec![0u8; capacity];
    // What subscriber `s` got (`None`: nothing to read) against the model.
    let mut oracle =
        |s: usize, got: Option<ipc_core::broadcast::Received>, buffer: &[u8], sent: &[Vec<u8>]| {
            let what = format!("broadcast ({mode:?}), subscriber {s}");
            match got {
                Some(got) => {
                    assert!(lossy || got.lost == 0, "{what}: a loss under backpressure");
                    let index = next[s] + got.lost as usize;
                    check(&buffer[..got.len], sent.get(index), &what);
                    next[s] = index + 1;
                }
                None => assert_eq!(next[s], sent.len(), "{what}: a message not read"),
            }
        };
    for (seed, op) in case.ops.iter().enumerate() {
        match op {
            Op::Push { len, .. } | Op::PushDeferred { len } => {
                let message = payload(*len as usize % capacity, 0, capacity, seed);
                let pushed = producer.push(&message);
                if pushed.is_ok() {
                    sent.push(message);
                }
                reserve_outcome(pushed)
            }
            Op::Flush | Op::Quarantine { .. } | Op::Announce { .. } => {}
            Op::Read { who } => {
                let s = *who as usize % subscribers;
                let read = subs[s].pop(&mut buffer);
                if honest {
                    match read {
                        Ok(got) => oracle(s, got, &buffer, &sent),
                        Err(e) => panic!("broadcast: {e} between honest sides"),
                    }
                }
                read_outcome(read)
            }
            Op::ReadBlocking { who } => {
                let s = *who as usize % subscribers;
                let read = subs[s].pop_blocking(&mut buffer, &timeout_now());
                if honest {
                    match read {
                        Ok(got) => oracle(s, Some(got), &buffer, &sent),
                        Err(ReadError::Wait(_)) => oracle(s, None, &buffer, &sent),
                        Err(e) => panic!("broadcast: {e} between honest sides"),
                    }
                }
                read_outcome(read.map(Some))
            }
            Op::Write { .. } | Op::WriteNear { .. } => hostile_write(&memory, &layout, op, 0),
            Op::AttachMisaligned => match Broadcast::attach(memory.misaligned()) {
                Ok(_) => count("ok"),
                Err(e) => layout_error(e),
            },
            Op::Reattach => match Broadcast::attach(region) {
                Ok(_) => count("ok"),
                Err(e) => layout_error(e),
            },
            // Subscribers 0..=subscribers: one past the last names no slot; then the producer.
            Op::Claim { role, how } => {
                let index = *role as usize % (subscribers + 2);
                if index == subscribers + 1 {
                    let over = |h: &dyn Liveness| b.take_over_producer(h);
                    if let Some(side) = claim(*how, || b.producer(), over) {
                        producer = side;
                    }
                } else {
                    let over = |h: &dyn Liveness| b.take_over_subscriber(index, h);
                    if let Some(side) = claim(*how, || b.subscriber(index), over) {
                        subs[index] = side;
                    }
                }
            }
        }
    }
}

fuzz_target!(|case: Case| {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        if std::env::var_os("IPC_FUZZ_COUNTS").is_some() {
            // SAFETY: registers a plain extern "C" function to run at exit.
            unsafe { libc::atexit(print_counts) };
        }
    });
    if case.ops.len() > 512 {
        return;
    }
    count("cases");
    let capacity = 1usize << (6 + case.capacity_log2 % 7); // 64 B to 4 KiB
    match case.kind {
        Kind::Spsc => run_spsc(&case, capacity),
        Kind::FanIn { lanes } => run_fan_in(&case, 1 + lanes as usize % 4, capacity),
        Kind::Broadcast { subscribers, lossy } => {
            run_broadcast(&case, 1 + subscribers as usize % 4, lossy, capacity)
        }
    }
});
