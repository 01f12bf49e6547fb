//! Broadcast: one producer, up to [`MAX_SUBSCRIBERS`] subscribers, each with its own cursor.
//!
//! Every subscriber sees every message, in order, unless it falls a whole ring behind. What
//! happens then is the region's [`Mode`]: with [`Mode::Backpressure`] the producer waits for the
//! slowest subscriber; with [`Mode::Lossy`] the producer overwrites the oldest messages and a
//! lagging subscriber skips to the oldest one still there and is told how many it lost.
//!
//! Records are `[len: u32][tag: u32][sequence: u32][reserved: u32][payload][padding to 8]`; the
//! tag (`position + 1`) publishes a record as in the SPSC ring, and the producer clears the tag
//! word where the next record will start before it publishes one, so that no payload or older
//! tag is taken for a record. Subscribers copy: there are no zero-copy read grants here.
//!
//! In lossy mode the producer first invalidates the tags of the records it is about to
//! overwrite and publishes the new `oldest` position (release, then a release fence), and only
//! then writes. A subscriber reads a record (header and payload), then checks, after an acquire
//! fence, that `oldest` has not passed it: if any word it read was written after the producer
//! moved `oldest`, it sees the move and starts again from `oldest`. This is a seqlock whose
//! sequence is `oldest`: kept as a 64-bit position, it never wraps, so a subscriber lapped any
//! number of times knows it for sure, and never returns a torn message, a message nobody sent,
//! or a wrong loss count. Every access to a lossy region's data area is a 4-byte atomic (the
//! payload is copied word by word with relaxed loads and stores), so the producer overwriting
//! what a subscriber reads is a race of atomics, not a data race.

mod data;

use core::ptr::NonNull;
use core::sync::atomic::{fence, Ordering as RegionOrdering};

use data::{copy_in, copy_out, header_word, load_words, store_words};

use crate::doorbell::{Doorbell, ProducerSleeps, ReaderSleeps};
use crate::error::{Corruption, ReadError, ReserveError};
use crate::header::{self, Geometry, LayoutRequest};
use crate::role::{Claim, ClaimError, ClaimSlot, Role};
use crate::sync::{AtomicU32, AtomicU64, Ordering, PaddedWord, WORD_SPACING};
use crate::wait::{self, Liveness, SpinHistory, Wait};
use crate::{wake, LayoutError, Region};

/// The header kind of a broadcast region ("BCST").
pub const KIND: u32 = u32::from_le_bytes(*b"BCST");
/// Most subscribers a region may have.
pub const MAX_SUBSCRIBERS: usize = 128;
/// Bytes before each payload.
pub const RECORD_HEADER: usize = 16;
const WRAP_MARKER: u32 = u32::MAX;
/// Records a subscriber's `pop` skips (overwritten under it, or wrap markers) before it says
/// there is nothing to read now.
const MAX_SKIPS: usize = 64;

/// What the producer does when a subscriber is a whole ring behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Wait for the slowest subscriber.
    Backpressure = 1,
    /// Overwrite the oldest messages; the subscriber learns how many it lost.
    Lossy = 2,
}

#[repr(C)]
#[derive(Debug)]
struct Control {
    head: PaddedWord,
    /// Lossy mode: the position of the oldest record kept, in 64 bits (see the module's
    /// documentation).
    oldest: Oldest,
    /// Mode in bits 0..8, subscriber count in bits 8..16, what subscribers sleep on
    /// ([`ReaderSleeps`]) in bits 16..24, what the producer sleeps on ([`ProducerSleeps`]) in
    /// bits 24..32.
    meta: PaddedWord,
    cursors: [Cursor; MAX_SUBSCRIBERS],
    /// The sequence number of the next message, for a producer that takes over.
    next_sequence: PaddedWord,
    /// [Role claims](crate::role): the producer's, then one per subscriber slot.
    producer_claim: ClaimSlot,
    subscriber_claims: [ClaimSlot; MAX_SUBSCRIBERS],
}

/// The 64-bit `oldest` position, alone on its pair of cache lines.
#[repr(C)]
#[derive(Debug)]
struct Oldest {
    wide: AtomicU64,
    _padding: [u8; WORD_SPACING - 8],
}

impl Default for Oldest {
    fn default() -> Self {
        Self {
            wide: AtomicU64::new(0),
            _padding: [0; WORD_SPACING - 8],
        }
    }
}

/// A subscriber's cursor: its [wake word](crate::wake) (the position's low 31 bits, which the
/// producer reads and waits on) and the whole 64-bit position, for a subscriber that takes the
/// slot over.
#[repr(C)]
#[derive(Debug)]
struct Cursor {
    word: AtomicU32,
    _gap: AtomicU32,
    wide: AtomicU64,
    _padding: [u8; WORD_SPACING - 16],
}

impl Default for Cursor {
    fn default() -> Self {
        Self {
            word: AtomicU32::new(0),
            _gap: AtomicU32::new(0),
            wide: AtomicU64::new(0),
            _padding: [0; WORD_SPACING - 16],
        }
    }
}

impl Default for Control {
    fn default() -> Self {
        Self {
            head: PaddedWord::default(),
            oldest: Oldest::default(),
            meta: PaddedWord::default(),
            cursors: core::array::from_fn(|_| Cursor::default()),
            next_sequence: PaddedWord::default(),
            producer_claim: ClaimSlot::default(),
            subscriber_claims: core::array::from_fn(|_| ClaimSlot::default()),
        }
    }
}

/// A broadcast region.
///
/// ```
/// use ipc_core::{broadcast::{Broadcast, Mode, Received}, Region};
/// let mut memory = vec![0u64; Broadcast::required_len(256) / 8];
/// let region = Broadcast::init(Region::from_slice(&mut memory), 256, 2, Mode::Lossy).unwrap();
/// let mut producer = region.producer().unwrap();
/// let (mut fast, mut slow) = (region.subscriber(0).unwrap(), region.subscriber(1).unwrap());
/// let mut buffer = [0u8; 8];
/// producer.push(&[1; 8]).unwrap();
/// assert_eq!(fast.pop(&mut buffer).unwrap(), Some(Received { len: 8, lost: 0 }));
/// // Lossy: the producer never waits, and the subscriber that fell a whole ring behind is told.
/// for n in 2..=40u8 {
///     producer.push(&[n; 8]).unwrap();
/// }
/// let got = slow.pop(&mut buffer).unwrap().expect("the oldest message still there");
/// assert!(got.lost > 0, "{got:?}");
/// assert_eq!(buffer[0] as u32, 1 + got.lost);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Broadcast<'a> {
    region: Region<'a>,
    geometry: Geometry,
    mode: Mode,
    subscribers: usize,
    sleeps: ReaderSleeps,
    producer_sleeps: ProducerSleeps,
}

/// What [`Subscriber::pop`] received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// The message's length.
    pub len: usize,
    /// Messages this subscriber lost just before this one (lossy mode; 0 otherwise).
    pub lost: u32,
}

impl<'a> Broadcast<'a> {
    /// Bytes a region needs for a data area of `capacity` bytes.
    pub fn required_len(capacity: usize) -> usize {
        header::required_len(core::mem::size_of::<Control>(), capacity)
    }

    /// Lays out an empty broadcast ring for `subscribers` subscribers.
    ///
    /// # Errors
    /// [`LayoutError`] for no subscribers or more than [`MAX_SUBSCRIBERS`], a capacity that is
    /// not a power of two in range, or a region too small or misaligned.
    pub fn init(
        region: Region<'a>,
        capacity: usize,
        subscribers: usize,
        mode: Mode,
    ) -> Result<Self, LayoutError> {
        Self::init_with(region, capacity, subscribers, mode, ReaderSleeps::OnFutex)
    }

    /// Like [`init`](Self::init), with the subscribers sleeping as `sleeps` says: on one
    /// eventfd for subscribers run by async runtimes (`ipc-core-tokio`'s `AsyncSubscriber`),
    /// whose producer is then claimed with [`producer_with_doorbell`](Self::producer_with_doorbell).
    ///
    /// # Errors
    /// As [`init`](Self::init).
    pub fn init_with(
        region: Region<'a>,
        capacity: usize,
        subscribers: usize,
        mode: Mode,
        sleeps: ReaderSleeps,
    ) -> Result<Self, LayoutError> {
        Self::init_with_sleepers(
            region,
            capacity,
            subscribers,
            mode,
            sleeps,
            ProducerSleeps::OnFutex,
        )
    }

    /// Like [`init_with`](Self::init_with), with the producer sleeping for room as `producer`
    /// says: on an eventfd for a producer run by an async runtime (`ipc-core-tokio`'s
    /// `AsyncPublisher`), which every subscriber is then given when it claims its slot
    /// ([`subscriber_with_doorbell`](Self::subscriber_with_doorbell)) and rings when it frees
    /// room the sleeping producer waits for.
    ///
    /// # Errors
    /// As [`init`](Self::init).
    pub fn init_with_sleepers(
        region: Region<'a>,
        capacity: usize,
        subscribers: usize,
        mode: Mode,
        sleeps: ReaderSleeps,
        producer: ProducerSleeps,
    ) -> Result<Self, LayoutError> {
        header::check_count("subscribers", subscribers, MAX_SUBSCRIBERS)?;
        header::check_capacity(capacity, 4 * RECORD_HEADER, crate::spsc::MAX_CAPACITY)?;
        check_alignment(region)?;
        header::refuse_in_use(region, KIND, || Self::attach(region).ok()?.held_role())?;
        if region.len() >= Self::required_len(capacity) {
            // SAFETY: inside the region (checked), 4-aligned, not yet shared.
            unsafe { region.init_block(header::BLOCK_ALIGN, Control::default()) };
        }
        let geometry = header::init(
            region,
            LayoutRequest {
                kind: KIND,
                control_len: core::mem::size_of::<Control>(),
                capacity,
            },
        )?;
        let broadcast = Self {
            region,
            geometry,
            mode,
            subscribers,
            sleeps,
            producer_sleeps: producer,
        };
        let meta = mode as u32
            | (subscribers as u32) << 8
            | sleeps.to_bits() << 16
            | producer.to_bits() << 24;
        broadcast.control().meta.store(meta, Ordering::Release);
        Ok(broadcast)
    }

    /// Validates a broadcast region another process laid out.
    ///
    /// # Errors
    /// A [`LayoutError`] naming the first field that is wrong for this region: a header field
    /// (see [`header::attach`]), the mode or the subscriber count.
    pub fn attach(region: Region<'a>) -> Result<Self, LayoutError> {
        check_alignment(region)?;
        let geometry = header::attach(region, KIND, core::mem::size_of::<Control>())?;
        header::check_capacity(
            geometry.capacity,
            4 * RECORD_HEADER,
            crate::spsc::MAX_CAPACITY,
        )?;
        let mut broadcast = Self {
            region,
            geometry,
            mode: Mode::Backpressure,
            subscribers: 0,
            sleeps: ReaderSleeps::OnFutex,
            producer_sleeps: ProducerSleeps::OnFutex,
        };
        let meta = broadcast.control().meta.load(Ordering::Acquire);
        broadcast.mode = match meta & 0xff {
            1 => Mode::Backpressure,
            2 => Mode::Lossy,
            other => {
                return Err(LayoutError::OutOfRange {
                    field: "mode",
                    value: u64::from(other),
                })
            }
        };
        broadcast.subscribers = (meta >> 8 & 0xff) as usize;
        header::check_count("subscribers", broadcast.subscribers, MAX_SUBSCRIBERS)?;
        broadcast.sleeps =
            ReaderSleeps::from_bits(meta >> 16 & 0xff).ok_or(LayoutError::UnknownValue {
                field: "subscriber wake-ups",
                value: u64::from(meta >> 16 & 0xff),
            })?;
        broadcast.producer_sleeps =
            ProducerSleeps::from_bits(meta >> 24).ok_or(LayoutError::UnknownValue {
                field: "producer wake-ups",
                value: u64::from(meta >> 24),
            })?;
        Ok(broadcast)
    }

    /// The region's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What the subscribers sleep on.
    pub fn reader_sleeps(&self) -> ReaderSleeps {
        self.sleeps
    }

    /// What the producer sleeps on while it waits for room.
    pub fn producer_sleeps(&self) -> ProducerSleeps {
        self.producer_sleeps
    }

    /// The longest message it takes.
    pub fn max_message_len(&self) -> usize {
        self.geometry.capacity / 2 - RECORD_HEADER
    }

    /// Claims the producer: an error if it is held already, here or in another process (see
    /// [`crate::role`]).
    ///
    /// # Errors
    /// [`ClaimError::Taken`] while another producer holds the role; [`ClaimError::Doorbell`]
    /// when the subscribers sleep on an eventfd (claim with
    /// [`producer_with_doorbell`](Self::producer_with_doorbell)).
    pub fn producer(&self) -> Result<BroadcastProducer<'a>, ClaimError> {
        self.claim_producer(None, None)
    }

    /// Like [`producer`](Self::producer), in a region whose subscribers sleep on an eventfd
    /// ([`ReaderSleeps::OnEventfd`]): the producer rings `subscribers` (their one eventfd) when
    /// it publishes while any of them sleeps.
    ///
    /// # Errors
    /// As [`producer`](Self::producer); [`ClaimError::Doorbell`] when the subscribers sleep on
    /// the futex.
    pub fn producer_with_doorbell(
        &self,
        subscribers: Doorbell<'a>,
    ) -> Result<BroadcastProducer<'a>, ClaimError> {
        self.claim_producer(None, Some(subscribers))
    }

    /// Claims the producer from a holder that `holder` proves dead. It goes on after the last
    /// record the dead one published, with the sequence numbers it would have used.
    ///
    /// # Errors
    /// [`ClaimError::HolderAlive`] when `holder` says the holder lives; [`ClaimError::Taken`]
    /// when another claim got there first; [`ClaimError::Doorbell`] when the subscribers sleep
    /// on an eventfd (take over with
    /// [`take_over_producer_with_doorbell`](Self::take_over_producer_with_doorbell)).
    pub fn take_over_producer(
        &self,
        holder: &dyn Liveness,
    ) -> Result<BroadcastProducer<'a>, ClaimError> {
        self.claim_producer(Some(holder), None)
    }

    /// Like [`take_over_producer`](Self::take_over_producer), in a region whose subscribers
    /// sleep on an eventfd, which the new producer rings through `subscribers`.
    ///
    /// # Errors
    /// As [`take_over_producer`](Self::take_over_producer); [`ClaimError::Doorbell`] when the
    /// subscribers sleep on the futex.
    pub fn take_over_producer_with_doorbell(
        &self,
        holder: &dyn Liveness,
        subscribers: Doorbell<'a>,
    ) -> Result<BroadcastProducer<'a>, ClaimError> {
        self.claim_producer(Some(holder), Some(subscribers))
    }

    /// Claims the producer (from a holder `dead` proves dead, when given), ringing `eventfd`
    /// where the subscribers sleep on one.
    fn claim_producer(
        &self,
        dead: Option<&dyn Liveness>,
        eventfd: Option<Doorbell<'a>>,
    ) -> Result<BroadcastProducer<'a>, ClaimError> {
        self.sleeps
            .check_doorbell(eventfd.is_some(), Role::Producer)?;
        let slot = &self.control().producer_claim;
        let claim = match dead {
            None => Claim::take(slot, Role::Producer)?,
            Some(holder) => Claim::take_over(slot, Role::Producer, holder)?,
        };
        Ok(self.producer_with(claim, eventfd))
    }

    fn producer_with(
        &self,
        claim: Claim<'a>,
        eventfd: Option<Doorbell<'a>>,
    ) -> BroadcastProducer<'a> {
        let control = self.control();
        let head = wake::position(&control.head);
        let oldest = control.oldest.wide.load(Ordering::Acquire);
        // Lossy: the head is within a capacity of the oldest record (a head that is not was
        // written by a hostile peer: start from the oldest record).
        let head = match self.mode {
            Mode::Backpressure => u64::from(head),
            Mode::Lossy => {
                let ahead = wake::distance(low_bits(oldest), head);
                if ahead as usize <= self.geometry.capacity {
                    oldest + u64::from(ahead)
                } else {
                    oldest
                }
            }
        };
        let head = self.last_published_end(head);
        BroadcastProducer {
            control,
            data: self.data(),
            capacity: self.geometry.capacity as u32,
            mode: self.mode,
            subscribers: self.subscribers,
            head,
            cached_slowest: match self.mode {
                Mode::Backpressure => head,
                Mode::Lossy => oldest,
            },
            sequence: control.next_sequence.load(Ordering::Relaxed),
            spins: SpinHistory::new(),
            eventfd,
            sleeps: self.producer_sleeps,
            _claim: claim,
        }
    }

    /// The end of the records published from `head` on (a producer that died between a tag
    /// and its head leaves one): a bounded walk over validated lengths, as in the SPSC ring.
    fn last_published_end(&self, mut head: u64) -> u64 {
        let (data, capacity) = (self.data(), self.geometry.capacity as u32);
        let max_len = capacity / 2 - RECORD_HEADER as u32;
        let mut walked = 0u32;
        loop {
            let offset = wake::offset_in(low_bits(head), capacity);
            // SAFETY: offset < capacity and 8-aligned: the length and tag words fit.
            let tag = unsafe { header_word(data, offset, 1) }.load(RegionOrdering::Acquire);
            if tag != tag_for(low_bits(head)) {
                return head;
            }
            // SAFETY: as above.
            let len = unsafe { header_word(data, offset, 0) }.load(RegionOrdering::Relaxed);
            let advance = match len {
                WRAP_MARKER if offset != 0 => capacity - offset,
                len if len <= max_len && offset + record_len(len as usize) <= capacity => {
                    record_len(len as usize)
                }
                _ => return head,
            };
            walked = walked.saturating_add(advance);
            if walked > capacity {
                return head;
            }
            head += u64::from(advance);
        }
    }

    /// Claims subscriber slot `index`: an error if there is no such slot or it is held.
    ///
    /// # Errors
    /// [`ClaimError::NoSuchRole`] for an index past the subscriber count; [`ClaimError::Taken`]
    /// while another holds the slot; [`ClaimError::Doorbell`] when the producer sleeps on an
    /// eventfd (claim with [`subscriber_with_doorbell`](Self::subscriber_with_doorbell)).
    pub fn subscriber(&self, index: usize) -> Result<Subscriber<'a>, ClaimError> {
        self.claim_subscriber(index, None, None)
    }

    /// Like [`subscriber`](Self::subscriber), in a region whose producer sleeps on an eventfd
    /// ([`ProducerSleeps::OnEventfd`]): the subscriber rings `producer` (that eventfd) when it
    /// moves past a record while the producer sleeps waiting for it.
    ///
    /// # Errors
    /// As [`subscriber`](Self::subscriber); [`ClaimError::Doorbell`] when the producer sleeps
    /// on the futex.
    pub fn subscriber_with_doorbell(
        &self,
        index: usize,
        producer: Doorbell<'a>,
    ) -> Result<Subscriber<'a>, ClaimError> {
        self.claim_subscriber(index, None, Some(producer))
    }

    /// Claims subscriber slot `index` from a holder that `holder` proves dead. It goes on from
    /// the dead subscriber's cursor; its first message reports no loss.
    ///
    /// # Errors
    /// [`ClaimError::NoSuchRole`] for an index past the subscriber count;
    /// [`ClaimError::HolderAlive`] when `holder` says the holder lives; [`ClaimError::Taken`]
    /// when another claim got there first.
    pub fn take_over_subscriber(
        &self,
        index: usize,
        holder: &dyn Liveness,
    ) -> Result<Subscriber<'a>, ClaimError> {
        self.claim_subscriber(index, Some(holder), None)
    }

    /// Like [`take_over_subscriber`](Self::take_over_subscriber), in a region whose producer
    /// sleeps on an eventfd, which `producer` rings (see
    /// [`subscriber_with_doorbell`](Self::subscriber_with_doorbell)).
    ///
    /// # Errors
    /// As [`take_over_subscriber`](Self::take_over_subscriber); [`ClaimError::Doorbell`] when
    /// the producer sleeps on the futex.
    pub fn take_over_subscriber_with_doorbell(
        &self,
        index: usize,
        holder: &dyn Liveness,
        producer: Doorbell<'a>,
    ) -> Result<Subscriber<'a>, ClaimError> {
        self.claim_subscriber(index, Some(holder), Some(producer))
    }

    /// Claims slot `index` (taking it over from a `dead` holder), with the producer's eventfd
    /// where the producer sleeps on one.
    fn claim_subscriber(
        &self,
        index: usize,
        dead: Option<&dyn Liveness>,
        producer: Option<Doorbell<'a>>,
    ) -> Result<Subscriber<'a>, ClaimError> {
        let role = Role::Subscriber(index);
        let word = self.subscriber_claim(index)?;
        self.producer_sleeps
            .check_doorbell(producer.is_some(), role)?;
        let claim = match dead {
            None => Claim::take(word, role)?,
            Some(holder) => Claim::take_over(word, role, holder)?,
        };
        Ok(self.subscriber_with(index, claim, producer))
    }

    fn subscriber_claim(&self, index: usize) -> Result<&'a ClaimSlot, ClaimError> {
        if index >= self.subscribers {
            return Err(ClaimError::NoSuchRole(Role::Subscriber(index)));
        }
        Ok(&self.control().subscriber_claims[index])
    }

    fn subscriber_with(
        &self,
        index: usize,
        claim: Claim<'a>,
        producer: Option<Doorbell<'a>>,
    ) -> Subscriber<'a> {
        let control = self.control();
        let cursor = &control.cursors[index];
        let word = wake::position(&cursor.word);
        let wide = cursor.wide.load(Ordering::Relaxed);
        // The two halves of a cursor agree unless a peer wrote them: then a lossy subscriber
        // starts from the oldest record (a backpressure one needs the low bits only).
        let tail = match self.mode {
            _ if low_bits(wide) == word => wide,
            Mode::Backpressure => u64::from(word),
            Mode::Lossy => control.oldest.wide.load(Ordering::Acquire),
        };
        // The stream starts at sequence 0 at position 0: a slot's first holder knows what to
        // expect there; a later one learns it from its first message.
        let expected = (claim.is_first() && tail == 0).then_some(0);
        Subscriber {
            control,
            cursor,
            data: self.data(),
            capacity: self.geometry.capacity as u32,
            mode: self.mode,
            sleeps: self.sleeps,
            tail,
            expected,
            spins: SpinHistory::new(),
            producer,
            _claim: claim,
        }
    }

    /// The first role held here now, if any.
    pub(crate) fn held_role(&self) -> Option<Role> {
        let control = self.control();
        if control.producer_claim.is_held() {
            return Some(Role::Producer);
        }
        (0..self.subscribers)
            .find(|&index| control.subscriber_claims[index].is_held())
            .map(Role::Subscriber)
    }

    fn control(&self) -> &'a Control {
        // SAFETY: validated geometry: the control block lies inside the region, 4-aligned;
        // Control is atomics and padding, valid for any bits.
        unsafe { self.region.block(self.geometry.control_offset) }
    }

    fn data(&self) -> NonNull<u8> {
        // SAFETY: data_offset + capacity <= region.len() (validated geometry).
        unsafe { self.region.base().add(self.geometry.data_offset) }
    }
}

/// Refuses a region whose base is not 8-aligned: the control block holds 64-bit atomics.
fn check_alignment(region: Region<'_>) -> Result<(), LayoutError> {
    let align = core::mem::align_of::<Control>();
    if region.base().as_ptr().align_offset(align) != 0 {
        return Err(LayoutError::Misaligned { align });
    }
    Ok(())
}

/// The low 31 bits of a 64-bit position: the position as tags and wake words hold it.
fn low_bits(position: u64) -> u32 {
    position as u32 & wake::POSITION
}

fn record_len(len: usize) -> u32 {
    (RECORD_HEADER + len.next_multiple_of(8)) as u32
}

fn tag_for(position: u32) -> u32 {
    position.wrapping_add(1) & wake::POSITION
}

/// The producer of a broadcast region.
#[derive(Debug)]
pub struct BroadcastProducer<'a> {
    control: &'a Control,
    data: NonNull<u8>,
    capacity: u32,
    mode: Mode,
    subscribers: usize,
    /// Where the next record goes, in 64 bits (tags and the head's wake word hold the low 31).
    head: u64,
    /// Backpressure: the slowest cursor last seen. Lossy: the oldest record kept.
    cached_slowest: u64,
    sequence: u32,
    /// What this side's waits for room learned of spinning.
    spins: SpinHistory,
    /// The subscribers' eventfd, when they sleep on one.
    eventfd: Option<Doorbell<'a>>,
    /// What this producer sleeps on while it waits for room.
    sleeps: ProducerSleeps,
    /// Held until this producer is dropped.
    _claim: Claim<'a>,
}

// SAFETY: touches shared memory only through atomics and the space the protocol gives it.
unsafe impl Send for BroadcastProducer<'_> {}

impl<'a> BroadcastProducer<'a> {
    /// Copies `message` to every subscriber if there is room now (always, in lossy mode).
    ///
    /// # Errors
    /// [`ReserveError::TooLarge`] for a message over [`Broadcast::max_message_len`];
    /// [`ReserveError::Full`] in backpressure mode while the slowest subscriber holds the
    /// space; [`ReserveError::Corrupt`] when a cursor or a record length in the region is
    /// impossible.
    pub fn push(&mut self, message: &[u8]) -> Result<(), ReserveError> {
        let padding = self.make_room(message.len())?;
        self.write(message, padding);
        Ok(())
    }

    /// Like [`push`](Self::push), waiting for the slowest subscriber as `how` says.
    ///
    /// # Errors
    /// As [`push`](Self::push), but never `Full`: [`ReserveError::Wait`] when the wait gives up
    /// (timeout, or the liveness hook says the peer is gone), or with
    /// [`WaitError::SleepsOnEventfd`](crate::wait::WaitError::SleepsOnEventfd) for a wait that
    /// would sleep on the futex of a region whose producer sleeps on an eventfd.
    pub fn push_blocking(&mut self, message: &[u8], how: &Wait<'_>) -> Result<(), ReserveError> {
        self.sleeps.check_wait(how).map_err(ReserveError::Wait)?;
        loop {
            match self.make_room(message.len()) {
                Ok(padding) => {
                    self.write(message, padding);
                    return Ok(());
                }
                Err(ReserveError::Full) => {}
                Err(other) => return Err(other),
            }
            // Full and whom to wait for come from one reading of the cursors: a subscriber
            // that moved since make_room looked may already have made room.
            let (index, seen) = self.slowest_cursor()?;
            self.cached_slowest = seen;
            let (_, needed) = self.record_space(message.len());
            if self.free() >= needed {
                continue;
            }
            let cursor = &self.control.cursors[index].word;
            let subscriber = self.control.subscriber_claims[index].holder();
            wait::until_moved(cursor, low_bits(seen), how, &subscriber, &mut self.spins)
                .map_err(ReserveError::Wait)?;
        }
    }

    /// True when a `len`-byte message fits now (always, in lossy mode): a check for spinning
    /// before [`push`](Self::push), which reads every subscriber's cursor.
    ///
    /// # Errors
    /// As [`push`](Self::push), but never `Full`.
    pub fn has_room_for(&mut self, len: usize) -> Result<bool, ReserveError> {
        let max = self.capacity as usize / 2 - RECORD_HEADER;
        if len > max {
            return Err(ReserveError::TooLarge { len, max });
        }
        if self.mode == Mode::Lossy {
            return Ok(true);
        }
        let (_, needed) = self.record_space(len);
        if self.free() < needed {
            self.cached_slowest = self.slowest_cursor()?.1;
        }
        Ok(self.free() >= needed)
    }

    /// For a producer that sleeps on an eventfd ([`ProducerSleeps::OnEventfd`]; an async
    /// adapter): announces that it will sleep until the slowest subscriber makes room for a
    /// `len`-byte message. `Ok(Some(index))`: announced on subscriber `index`, which rings the
    /// eventfd when it moves; sleep, then try again (its liveness is
    /// [`subscriber_record`](Self::subscriber_record)`(index)`). `Ok(None)`: there is room now;
    /// do not sleep.
    ///
    /// An announcement a wait leaves behind (it ended without a ring) costs at most one ring
    /// for nobody, later: the subscriber clears it when it publishes.
    ///
    /// # Errors
    /// As [`push`](Self::push), but never `Full`.
    pub fn announce_sleep(&mut self, len: usize) -> Result<Option<usize>, ReserveError> {
        if self.has_room_for(len)? {
            return Ok(None);
        }
        let (index, seen) = self.slowest_cursor()?;
        self.cached_slowest = seen;
        let (_, needed) = self.record_space(len);
        if self.free() >= needed {
            return Ok(None);
        }
        let cursor = &self.control.cursors[index].word;
        Ok(wake::announce(cursor, low_bits(seen)).map(|_| index))
    }

    /// What this producer sleeps on while it waits for room (fixed when the region was laid
    /// out).
    pub fn producer_sleeps(&self) -> ProducerSleeps {
        self.sleeps
    }

    /// The process recorded as subscriber `index`'s holder, watched as a liveness hook; `None`
    /// for an index past the region's subscribers.
    pub fn subscriber_record(&self, index: usize) -> Option<crate::role::RecordedHolder<'a>> {
        (index < self.subscribers).then(|| self.control.subscriber_claims[index].holder())
    }

    /// Bytes free after the head: the capacity less what the slowest subscriber (backpressure)
    /// or the oldest record kept (lossy) holds.
    fn free(&self) -> u32 {
        // Both are validated to be at most a capacity behind the head.
        self.capacity
            .saturating_sub(self.head.wrapping_sub(self.cached_slowest) as u32)
    }

    /// Wrap padding and total bytes a `len`-byte record needs at the head.
    fn record_space(&self, len: usize) -> (u32, u32) {
        let offset = wake::offset_in(low_bits(self.head), self.capacity);
        let record = record_len(len);
        let padding = if record > self.capacity - offset {
            self.capacity - offset
        } else {
            0
        };
        (padding, padding + record)
    }

    /// Ensures room for a `len`-byte record; returns the wrap padding it needs.
    fn make_room(&mut self, len: usize) -> Result<u32, ReserveError> {
        if !self.has_room_for(len)? {
            return Err(ReserveError::Full);
        }
        let (padding, needed) = self.record_space(len);
        if self.mode == Mode::Lossy {
            self.drop_oldest_until(needed)?;
        }
        Ok(padding)
    }

    /// The slowest subscriber's cursor (index, position), validating every cursor.
    fn slowest_cursor(&self) -> Result<(usize, u64), ReserveError> {
        let head = low_bits(self.head);
        let mut slowest = (0, head);
        let mut lag = 0;
        for (index, cursor) in self.control.cursors[..self.subscribers].iter().enumerate() {
            let position = wake::position(&cursor.word);
            let behind = wake::distance(position, head);
            // No cursor is further behind than the ring holds, nor than the producer has ever
            // written (a hostile one can claim either).
            if behind > self.capacity || u64::from(behind) > self.head {
                return Err(ReserveError::Corrupt(Corruption::TailIndex {
                    tail: position,
                    head,
                }));
            }
            if behind >= lag {
                lag = behind;
                slowest = (index, position);
            }
        }
        Ok((slowest.0, self.head - u64::from(lag)))
    }

    /// Lossy mode: invalidates and forgets the oldest records until `needed` bytes are free.
    ///
    /// The lengths it walks are in the region, where a subscriber can write too: each step is
    /// checked against the bytes this producer holds (head less oldest), so the walk ends, and
    /// a length that does not fit is [`Corruption::RecordLength`].
    fn drop_oldest_until(&mut self, needed: u32) -> Result<(), ReserveError> {
        let max_len = self.capacity / 2 - RECORD_HEADER as u32;
        let mut dropped = false;
        let mut result = Ok(());
        loop {
            let free = self.free();
            if free >= needed {
                break;
            }
            let held = self.capacity - free;
            let offset = wake::offset_in(low_bits(self.cached_slowest), self.capacity);
            // SAFETY: offset < capacity and 8-aligned; the 16-byte header fits (capacity is a
            // multiple of 16 and records are 8-aligned).
            let len = unsafe { header_word(self.data, offset, 0) }.load(RegionOrdering::Relaxed);
            let advance = match len {
                WRAP_MARKER if offset != 0 => self.capacity - offset,
                len if len <= max_len => record_len(len as usize),
                _ => 0,
            };
            if advance == 0 || advance > held {
                result = Err(ReserveError::Corrupt(Corruption::RecordLength {
                    position: low_bits(self.cached_slowest),
                    len,
                }));
                break;
            }
            // SAFETY: the same record header, inside the area; its tag word is cleared.
            unsafe { header_word(self.data, offset, 1) }.store(0, RegionOrdering::Relaxed);
            self.cached_slowest += u64::from(advance);
            dropped = true;
        }
        if dropped {
            self.control
                .oldest
                .wide
                .store(self.cached_slowest, Ordering::Release);
            // The invalidated tags and the new oldest must be visible before any byte of the
            // space is rewritten (the writer half of a seqlock).
            fence(RegionOrdering::Release);
        }
        result
    }

    fn write(&mut self, message: &[u8], padding: u32) {
        if padding != 0 {
            let at = wake::offset_in(low_bits(self.head), self.capacity);
            // SAFETY: at < capacity, 8-aligned, and offset 0 is where the record goes: space
            // granted to the producer. The record's tag is cleared before the marker is
            // published, since a subscriber reads it next.
            unsafe {
                header_word(self.data, at, 0).store(WRAP_MARKER, RegionOrdering::Relaxed);
                header_word(self.data, 0, 1).store(0, RegionOrdering::Relaxed);
                header_word(self.data, at, 1)
                    .store(tag_for(low_bits(self.head)), RegionOrdering::Release);
            }
            self.head += u64::from(padding);
        }
        let offset = wake::offset_in(low_bits(self.head), self.capacity);
        let payload = offset as usize + RECORD_HEADER;
        match self.mode {
            // SAFETY: make_room checked the record (its payload padded to 8) fits at offset;
            // the producer owns these bytes until it publishes the tag.
            Mode::Lossy => unsafe { store_words(self.data, payload, message) },
            // SAFETY: as above; under backpressure no subscriber reads these bytes before the
            // tag is published, so a plain copy races with nothing.
            Mode::Backpressure => unsafe { copy_in(self.data, payload, message) },
        }
        // SAFETY: the record's header, inside the area (checked by make_room).
        unsafe {
            header_word(self.data, offset, 0).store(message.len() as u32, RegionOrdering::Relaxed);
            header_word(self.data, offset, 2).store(self.sequence, RegionOrdering::Relaxed);
        }
        self.sequence = self.sequence.wrapping_add(1);
        // Before the tag: a producer that takes over after a death right after the tag goes on
        // with the next number (a line only this side writes: no transfer between CPUs).
        self.control
            .next_sequence
            .store(self.sequence, Ordering::Relaxed);
        let position = self.head;
        self.head += u64::from(record_len(message.len()));
        // The next record's tag word must not hold the tag a subscriber will look for there:
        // cleared when it does (read first, as the SPSC ring's `clear_next_tag` explains; in a
        // full ring it is the oldest kept record's header, a lap older, which never matches).
        let next = wake::offset_in(low_bits(self.head), self.capacity);
        // SAFETY: next < capacity and 8-aligned: the tag word lies inside the area.
        let next_tag = unsafe { header_word(self.data, next, 1) };
        if next_tag.load(RegionOrdering::Relaxed) == tag_for(low_bits(self.head)) {
            next_tag.store(0, RegionOrdering::Relaxed);
        }
        // SAFETY: the header written above.
        unsafe { header_word(self.data, offset, 1) }
            .store(tag_for(low_bits(position)), RegionOrdering::Release);
        if wake::publish(&self.control.head, low_bits(self.head)) {
            match self.eventfd {
                // One write wakes every subscriber: each runtime polling the eventfd sees the
                // edge (ReaderSleeps::OnEventfd).
                Some(eventfd) => eventfd.ring(),
                None => wait::wake_all(&self.control.head),
            }
        }
    }
}

/// One subscriber of a broadcast region.
#[derive(Debug)]
pub struct Subscriber<'a> {
    control: &'a Control,
    cursor: &'a Cursor,
    data: NonNull<u8>,
    capacity: u32,
    mode: Mode,
    /// What it sleeps on.
    sleeps: ReaderSleeps,
    /// The next record's position, in 64 bits (tags and the cursor's wake word hold the low 31).
    tail: u64,
    /// The sequence number the next message should carry, once known.
    expected: Option<u32>,
    /// What this side's waits for messages learned of spinning.
    spins: SpinHistory,
    /// The producer's eventfd, when it sleeps on one.
    producer: Option<Doorbell<'a>>,
    /// Held until this subscriber is dropped.
    _claim: Claim<'a>,
}

// SAFETY: a subscriber holds only its own cursor and the region's address; every access to the
// shared bytes is an atomic, or (backpressure) a copy of a record the protocol keeps unchanged
// until this subscriber moves past it, from whichever thread owns it.
unsafe impl Send for Subscriber<'_> {}

impl<'a> Subscriber<'a> {
    /// Copies the next message into `buffer`, if one is there.
    ///
    /// In lossy mode a record overwritten while it is read is skipped for the oldest one still
    /// there, a bounded number of times: a producer that keeps lapping this subscriber (or a
    /// hostile one that keeps moving the oldest position) gets `Ok(None)`, never an endless
    /// loop.
    ///
    /// # Errors
    /// [`ReadError::Corrupt`] for a record the producer could not have written (a length past
    /// the data area, a wrap marker at offset 0); [`ReadError::BufferTooSmall`] for a message
    /// longer than `buffer`, which stays where it is (in lossy mode, until the producer laps
    /// it).
    pub fn pop(&mut self, buffer: &mut [u8]) -> Result<Option<Received>, ReadError> {
        for _ in 0..MAX_SKIPS {
            let position = low_bits(self.tail);
            let offset = wake::offset_in(position, self.capacity);
            // SAFETY: offset < capacity and 8-aligned, so the first 8 bytes of a header (length
            // and tag) fit. Only those: a wrap marker may stand in the last 8 bytes of the area.
            let tag = unsafe { header_word(self.data, offset, 1) }.load(RegionOrdering::Acquire);
            if tag != tag_for(position) {
                if self.lapped() {
                    continue;
                }
                return Ok(None);
            }
            // SAFETY: the length word of the same header, inside the area (see above).
            let len = unsafe { header_word(self.data, offset, 0) }.load(RegionOrdering::Relaxed);
            let corrupt = ReadError::Corrupt(Corruption::RecordLength { position, len });
            // Lossy: nothing read is trusted before `lapped` says it was this record's (the
            // words may be a later lap's payload).
            if len == WRAP_MARKER {
                if self.lapped() {
                    continue;
                }
                if offset == 0 {
                    return Err(corrupt);
                }
                self.tail += u64::from(self.capacity - offset);
                continue;
            }
            // The length is checked before anything is computed from it.
            if len as usize > self.capacity as usize / 2 - RECORD_HEADER
                || offset + record_len(len as usize) > self.capacity
            {
                if self.lapped() {
                    continue;
                }
                return Err(corrupt);
            }
            if len as usize > buffer.len() {
                if self.lapped() {
                    continue;
                }
                return Err(ReadError::BufferTooSmall {
                    len: len as usize,
                    buffer: buffer.len(),
                });
            }
            let record = record_len(len as usize);
            // SAFETY: offset + record <= capacity (checked above), and a record is at least
            // its 16-byte header: the sequence word fits.
            let sequence =
                unsafe { header_word(self.data, offset, 2) }.load(RegionOrdering::Relaxed);
            let n = len as usize;
            let payload = offset as usize + RECORD_HEADER;
            match self.mode {
                // SAFETY: payload + len, rounded up to 8, is within the record, inside the area
                // (checked above); the producer may be rewriting it: atomics, checked below.
                Mode::Lossy => unsafe { load_words(self.data, payload, &mut buffer[..n]) },
                // SAFETY: as above; under backpressure the producer does not touch a record
                // before every subscriber has moved past it, so a plain copy races with nothing.
                Mode::Backpressure => unsafe { copy_out(self.data, payload, &mut buffer[..n]) },
            }
            if self.lapped() {
                continue; // Overwritten while copying, or never this record: from the oldest.
            }
            let lost = self
                .expected
                .map_or(0, |expected| sequence.wrapping_sub(expected));
            self.expected = Some(sequence.wrapping_add(1));
            self.tail += u64::from(record);
            self.cursor.wide.store(self.tail, Ordering::Relaxed);
            if wake::publish(&self.cursor.word, low_bits(self.tail)) {
                match self.producer {
                    Some(producer) => producer.ring(),
                    None => wait::wake_one(&self.cursor.word),
                }
            }
            return Ok(Some(Received {
                len: len as usize,
                lost,
            }));
        }
        Ok(None)
    }

    /// Like [`pop`](Self::pop), waiting for a message as `how` says.
    ///
    /// # Errors
    /// As [`pop`](Self::pop), and [`ReadError::Wait`] when the wait gives up, or with
    /// [`WaitError::SleepsOnEventfd`](crate::wait::WaitError::SleepsOnEventfd) for a wait that
    /// would sleep on the futex of a region whose subscribers sleep on an eventfd.
    pub fn pop_blocking(
        &mut self,
        buffer: &mut [u8],
        how: &Wait<'_>,
    ) -> Result<Received, ReadError> {
        self.sleeps.check_wait(how).map_err(ReadError::Wait)?;
        loop {
            if let Some(received) = self.pop(buffer)? {
                return Ok(received);
            }
            let head = wake::position(&self.control.head);
            if self.has_message() || self.lapped() {
                continue;
            }
            self.check_head_to_sleep_on(head)?;
            // The history is copied out and back: the wait borrows the rest of this side.
            let mut spins = self.spins;
            let waited = wait::until(
                &self.control.head,
                head,
                &|| self.has_message(),
                how,
                &self.producer_record(),
                &mut spins,
            );
            self.spins = spins;
            waited.map_err(ReadError::Wait)?;
        }
    }

    /// What this subscriber sleeps on (fixed when the region was laid out).
    pub fn reader_sleeps(&self) -> ReaderSleeps {
        self.sleeps
    }

    /// True when a record (or a wrap marker) is published at this subscriber's position: a
    /// cheap check for spinning, which reads no index word. (A lossy subscriber lapped by the
    /// producer finds nothing here; [`announce_sleep`](Self::announce_sleep) finds it.)
    pub fn has_message(&self) -> bool {
        let tail = low_bits(self.tail);
        // SAFETY: offset_in gives an 8-aligned offset below the capacity: the header's first
        // two words lie inside the data area.
        let tag = unsafe { header_word(self.data, wake::offset_in(tail, self.capacity), 1) };
        tag.load(RegionOrdering::Acquire) == tag_for(tail)
    }

    /// For a subscriber that sleeps on an eventfd ([`ReaderSleeps::OnEventfd`]; an async
    /// adapter): announces that it will sleep until the producer publishes. `Ok(true)`:
    /// announced; sleep until the eventfd is rung, then [`pop`](Self::pop) again. `Ok(false)`:
    /// there is something to pop; do not sleep.
    ///
    /// Subscribers share the announcement, so a wait that ends without sleeping leaves it (no
    /// withdrawal): the producer's next publish then rings once for nobody.
    ///
    /// # Errors
    /// [`ReadError::Corrupt`] for a head index the producer could not have written.
    pub fn announce_sleep(&mut self) -> Result<bool, ReadError> {
        if self.has_message() || self.lapped() {
            return Ok(false);
        }
        // As in pop_blocking: the head is read before the look for a record, so a record
        // published with it is seen, and one published after moves the word.
        let head = wake::position(&self.control.head);
        if self.has_message() || self.lapped() {
            return Ok(false);
        }
        self.check_head_to_sleep_on(head)?;
        Ok(wake::announce(&self.control.head, head).is_some())
    }

    /// The process recorded as the producer, watched as a liveness hook.
    pub fn producer_record(&self) -> crate::role::RecordedHolder<'a> {
        self.control.producer_claim.holder()
    }

    /// Checks the head a waiter is about to sleep on, read before it found no record at its
    /// position: under backpressure, a head ahead of it (within a ring) is a producer that
    /// published a record it never wrote.
    fn check_head_to_sleep_on(&self, head: u32) -> Result<(), ReadError> {
        if self.mode == Mode::Backpressure {
            let tail = low_bits(self.tail);
            let ahead = wake::distance(tail, head);
            if ahead != 0 && ahead <= self.capacity {
                return Err(ReadError::Corrupt(Corruption::Unpublished { head, tail }));
            }
        }
        Ok(())
    }

    /// Lossy mode: true, and this subscriber moved to the oldest record kept, when the
    /// producer has moved `oldest` past this subscriber's position, so that what it read since
    /// its last acquire may be a later lap's bytes.
    ///
    /// The acquire fence pairs with the producer's release fence after it moved `oldest`: a
    /// word read before this fence that the producer wrote after its fence makes that move
    /// visible here. `oldest` is 64 bits and never wraps, so the comparison is exact however
    /// far behind this subscriber fell.
    fn lapped(&mut self) -> bool {
        if self.mode != Mode::Lossy {
            return false;
        }
        fence(RegionOrdering::Acquire);
        let oldest = self.control.oldest.wide.load(Ordering::Relaxed);
        if oldest > self.tail {
            self.tail = oldest;
            return true;
        }
        false
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
