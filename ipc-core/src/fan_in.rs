//! Fan-in: N producers, one consumer, in one region.
//!
//! Each producer owns a lane, an [SPSC ring](crate::spsc) of its own, so producers never contend
//! with each other for space and a dead or hostile producer can spoil only its lane. The
//! consumer serves the lanes round-robin. A shared *doorbell* wake word lets it sleep on all
//! lanes at once: every producer rings it (one read-modify-write) after publishing, and wakes the
//! consumer only if it announced itself there. Both the announce and every ring are
//! read-modify-writes of the doorbell, so the usual wake-word argument holds: a ring before the
//! announce makes the consumer's re-check see the message, a ring after it sees the bit.
//!
//! Region layout: the header (kind `FANI`; its capacity is one lane's), the control block
//! (doorbell, lane count), then the lanes, each a complete SPSC region.

use core::cell::Cell;
use core::fmt;
use core::ops::{Deref, DerefMut};

use crate::doorbell::{Doorbell, ReaderSleeps};
use crate::error::{Corruption, ReadError, ReserveError};
use crate::header::{self, Geometry, LayoutRequest};
use crate::role::{ClaimError, RecordedHolder, Role};
use crate::spsc::{Consumer, Producer, ReadGrant, Spsc, Wakeups, WriteGrant};
use crate::sync::{Ordering, PaddedWord};
use crate::wait::{self, Liveness, Wait, WaitError};
use crate::{wake, LayoutError, Region};

/// The header kind of a fan-in region ("FANI").
pub const KIND: u32 = u32::from_le_bytes(*b"FANI");
/// Most lanes a region may have (one bit each in the consumer's quarantine mask). Under loom,
/// 4: its models use 2, and a consumer holding a side for each of 128 lanes outgrows the small
/// stacks loom runs its threads on.
pub const MAX_LANES: usize = if cfg!(loom) { 4 } else { 128 };

#[repr(C)]
#[derive(Debug, Default)]
struct Control {
    doorbell: PaddedWord,
    /// The lane count in bits 0..8, what the consumer sleeps on ([`ReaderSleeps`]) in bits
    /// 8..16 (0, the futex, in regions laid out before it could be anything else).
    lanes: PaddedWord,
}

/// Bits of the control block's `lanes` word that hold the lane count.
const LANE_COUNT_BITS: u32 = 0xff;

/// A fan-in region: `lanes` SPSC rings and a doorbell.
///
/// ```
/// use ipc_core::{fan_in::FanIn, wait::Wait, Region};
/// let mut memory = vec![0u64; FanIn::required_len(2, 1024) / 8];
/// let region = FanIn::init(Region::from_slice(&mut memory), 2, 1024).unwrap();
/// let (mut a, mut b) = (region.producer(0).unwrap(), region.producer(1).unwrap());
/// let mut consumer = region.consumer().unwrap();
/// b.push(b"from b").unwrap();
/// a.push(b"from a").unwrap();
/// let mut seen = Vec::new();
/// for _ in 0..2 {
///     let (lane, message) = consumer.read_blocking(&Wait::busy_poll()).unwrap();
///     seen.push((lane, message.to_vec()));
///     message.release();
/// }
/// seen.sort();
/// assert_eq!(seen, [(0, b"from a".to_vec()), (1, b"from b".to_vec())]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FanIn<'a> {
    region: Region<'a>,
    geometry: Geometry,
    lanes: usize,
    /// What the consumer sleeps on.
    sleeps: ReaderSleeps,
    /// Every lane's ring, as validated when the region was laid out or attached: lanes are
    /// made from it, never from their headers read again (the peer may have rewritten them).
    lane: Spsc<'a>,
}

/// Why a fan-in consumer gave no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanInError {
    /// Lane `lane` holds what its producer could not have written: that producer is broken or
    /// hostile. [`FanInConsumer::quarantine`] it to go on reading the others.
    Lane {
        /// The lane.
        lane: usize,
        /// What is wrong with it.
        corruption: Corruption,
    },
    /// A blocking read gave up.
    Wait(crate::wait::WaitError),
    /// Lane `lane`'s producer died holding its role (the [recorded
    /// peer](crate::wait::RecordedPeer) of the default wait): its last record may be torn.
    /// [`quarantine`](FanInConsumer::quarantine) the lane to wait for the others, or take its
    /// producer over. (When every producer has exited after releasing its lane, the wait ends
    /// with [`FanInError::Wait`] and [`PeerGone`](crate::wait::WaitError::PeerGone).)
    ProducerGone {
        /// The lane.
        lane: usize,
    },
    /// Lane `lane`'s next message is longer than the buffer: it stays in the lane, whole.
    BufferTooSmall {
        /// The lane.
        lane: usize,
        /// The message's length.
        len: usize,
        /// The buffer's length.
        buffer: usize,
    },
}

impl fmt::Display for FanInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lane { lane, corruption } => write!(f, "lane {lane}: {corruption}"),
            Self::Wait(w) => w.fmt(f),
            Self::ProducerGone { lane } => write!(
                f,
                "lane {lane}: its producer process died holding the lane (quarantine it to wait \
                 for the others)"
            ),
            Self::BufferTooSmall { lane, len, buffer } => write!(
                f,
                "lane {lane}: the next message is {len} bytes and the buffer {buffer}: the \
                 message stays in the lane"
            ),
        }
    }
}

impl core::error::Error for FanInError {}

impl FanInError {
    fn of(lane: usize, error: ReadError) -> Self {
        match error {
            ReadError::Corrupt(corruption) => Self::Lane { lane, corruption },
            ReadError::Wait(wait) => Self::Wait(wait),
            ReadError::BufferTooSmall { len, buffer } => Self::BufferTooSmall { lane, len, buffer },
        }
    }
}

impl<'a> FanIn<'a> {
    /// Bytes a region needs for `lanes` lanes of `capacity` bytes each (`usize::MAX` when that
    /// does not fit a `usize`: no region is that large).
    pub fn required_len(lanes: usize, capacity: usize) -> usize {
        lanes
            .checked_mul(Spsc::required_len(capacity))
            .and_then(|all| {
                all.checked_add(header::required_len(core::mem::size_of::<Control>(), 0))
            })
            .unwrap_or(usize::MAX)
    }

    /// Lays out `lanes` empty lanes of `capacity` bytes (a power of two) each.
    ///
    /// # Errors
    /// [`LayoutError`] for no lanes or more than [`MAX_LANES`], a capacity that is not a power
    /// of two in range, or a region too small for every lane or misaligned.
    pub fn init(region: Region<'a>, lanes: usize, capacity: usize) -> Result<Self, LayoutError> {
        Self::init_with(region, lanes, capacity, ReaderSleeps::OnFutex)
    }

    /// Like [`init`](Self::init), with the consumer sleeping as `sleeps` says: on an eventfd
    /// for a consumer run by an async runtime (`ipc-core-tokio`'s `AsyncFanInConsumer`), whose
    /// producers are then claimed with [`producer_with_doorbell`](Self::producer_with_doorbell).
    ///
    /// # Errors
    /// As [`init`](Self::init).
    pub fn init_with(
        region: Region<'a>,
        lanes: usize,
        capacity: usize,
        sleeps: ReaderSleeps,
    ) -> Result<Self, LayoutError> {
        header::check_count("lanes", lanes, MAX_LANES)?;
        let needed = Self::required_len(lanes, capacity);
        if region.len() < needed {
            return Err(LayoutError::RegionTooSmall {
                len: region.len(),
                needed,
            });
        }
        header::refuse_in_use(region, KIND, || Self::attach(region).ok()?.held_role())?;
        let control_at = header::BLOCK_ALIGN;
        // SAFETY: inside the region (length checked), 4-aligned, and not yet shared.
        unsafe { region.init_block(control_at, Control::default()) };
        let geometry = Geometry {
            kind: KIND,
            capacity,
            control_offset: control_at,
            data_offset: header::required_len(core::mem::size_of::<Control>(), 0),
        };
        // Every lane alike; the first is the one the others are made from.
        let first = Spsc::lay_out(lane_region(region, &geometry, 0), capacity, Wakeups::Futex)?;
        for lane in 1..lanes {
            Spsc::lay_out(
                lane_region(region, &geometry, lane),
                capacity,
                Wakeups::Futex,
            )?;
        }
        let fan_in = Self {
            region,
            geometry,
            lanes,
            sleeps,
            lane: first,
        };
        fan_in
            .control()
            .lanes
            .store(lanes as u32 | sleeps.to_bits() << 8, Ordering::Relaxed);
        // The header goes last: a peer that attaches sees complete lanes.
        header::init(
            region,
            LayoutRequest {
                kind: KIND,
                control_len: core::mem::size_of::<Control>(),
                capacity,
            },
        )?;
        Ok(fan_in)
    }

    /// Validates a fan-in region another process laid out: every lane's header, once. Lanes
    /// are made from what was validated here, whatever the peer writes later.
    ///
    /// # Errors
    /// A [`LayoutError`] naming what is wrong: the header, the lane count, a lane's header, or
    /// lanes laid out unlike each other.
    pub fn attach(region: Region<'a>) -> Result<Self, LayoutError> {
        let geometry = header::attach(region, KIND, core::mem::size_of::<Control>())?;
        let control_at = geometry.control_offset;
        // SAFETY: header::attach checked that the control block lies inside the region and is
        // 4-aligned; Control is atomics and padding, valid for any bits.
        let control: &Control = unsafe { region.block(control_at) };
        let word = control.lanes.load(Ordering::Relaxed);
        let lanes = (word & LANE_COUNT_BITS) as usize;
        header::check_count("lanes", lanes, MAX_LANES)?;
        let sleeps = ReaderSleeps::from_bits(word >> 8).ok_or(LayoutError::UnknownValue {
            field: "consumer wake-ups",
            value: u64::from(word >> 8),
        })?;
        // Checked: on a 32-bit target 64 lanes of a 1 GiB capacity overflow a usize.
        let needed = lanes
            .checked_mul(Spsc::required_len(geometry.capacity))
            .and_then(|all| all.checked_add(geometry.data_offset));
        match needed {
            Some(needed) if needed <= region.len() => {}
            _ => {
                return Err(LayoutError::RegionTooSmall {
                    len: region.len(),
                    needed: needed.unwrap_or(usize::MAX),
                })
            }
        }
        let first = Spsc::attach(lane_region(region, &geometry, 0))?;
        for lane in 1..lanes {
            let ring = Spsc::attach(lane_region(region, &geometry, lane))?;
            if ring.capacity() != first.capacity() || ring.wakeups() != first.wakeups() {
                return Err(LayoutError::UnknownValue {
                    field: "lane layout",
                    value: lane as u64,
                });
            }
        }
        Ok(Self {
            region,
            geometry,
            lanes,
            sleeps,
            lane: first,
        })
    }

    /// How many lanes (producers) the region has.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// What the consumer sleeps on.
    pub fn reader_sleeps(&self) -> ReaderSleeps {
        self.sleeps
    }

    /// Claims the producer of lane `lane`: an error if the lane does not exist or its producer
    /// is held already (see [`crate::role`]).
    ///
    /// # Errors
    /// [`ClaimError::NoSuchRole`] for a lane past the count; [`ClaimError::Taken`] while
    /// another producer holds the lane.
    /// [`ClaimError::Doorbell`] when the consumer sleeps on an eventfd (claim with
    /// [`producer_with_doorbell`](Self::producer_with_doorbell)).
    pub fn producer(&self, lane: usize) -> Result<FanInProducer<'a>, ClaimError> {
        self.claim_producer(lane, None, None)
    }

    /// Like [`producer`](Self::producer), in a region whose consumer sleeps on an eventfd
    /// ([`ReaderSleeps::OnEventfd`]): the producer rings `consumer` when it publishes to a
    /// sleeping consumer.
    ///
    /// # Errors
    /// As [`producer`](Self::producer); [`ClaimError::Doorbell`] when the consumer sleeps on
    /// the futex.
    pub fn producer_with_doorbell(
        &self,
        lane: usize,
        consumer: Doorbell<'a>,
    ) -> Result<FanInProducer<'a>, ClaimError> {
        self.claim_producer(lane, None, Some(consumer))
    }

    /// Claims the producer of lane `lane` from a holder that `holder` proves dead.
    ///
    /// # Errors
    /// [`ClaimError::NoSuchRole`] for a lane past the count; [`ClaimError::HolderAlive`] when
    /// `holder` says the holder lives; [`ClaimError::Taken`] when another claim got there
    /// first; [`ClaimError::Doorbell`] when the consumer sleeps on an eventfd (take over with
    /// [`take_over_producer_with_doorbell`](Self::take_over_producer_with_doorbell)).
    pub fn take_over_producer(
        &self,
        lane: usize,
        holder: &dyn Liveness,
    ) -> Result<FanInProducer<'a>, ClaimError> {
        self.claim_producer(lane, Some(holder), None)
    }

    /// Like [`take_over_producer`](Self::take_over_producer), in a region whose consumer sleeps
    /// on an eventfd, which the new producer rings through `consumer`.
    ///
    /// # Errors
    /// As [`take_over_producer`](Self::take_over_producer); [`ClaimError::Doorbell`] when the
    /// consumer sleeps on the futex.
    pub fn take_over_producer_with_doorbell(
        &self,
        lane: usize,
        holder: &dyn Liveness,
        consumer: Doorbell<'a>,
    ) -> Result<FanInProducer<'a>, ClaimError> {
        self.claim_producer(lane, Some(holder), Some(consumer))
    }

    /// Claims lane `lane`'s producer (from a holder `dead` proves dead, when given), ringing
    /// `eventfd` where the consumer sleeps on one.
    fn claim_producer(
        &self,
        lane: usize,
        dead: Option<&dyn Liveness>,
        eventfd: Option<Doorbell<'a>>,
    ) -> Result<FanInProducer<'a>, ClaimError> {
        let role = Role::LaneProducer(lane);
        let spsc = self.lane_ring(lane, role)?;
        self.sleeps.check_doorbell(eventfd.is_some(), role)?;
        let producer = match dead {
            None => spsc.producer(),
            Some(holder) => spsc.take_over_producer(holder),
        }
        .map_err(|e| e.for_role(role))?;
        Ok(self.producer_for(producer, eventfd))
    }

    fn producer_for(&self, lane: Producer<'a>, eventfd: Option<Doorbell<'a>>) -> FanInProducer<'a> {
        FanInProducer {
            lane,
            bell: Bell {
                word: &self.control().doorbell,
                eventfd,
            },
        }
    }

    /// Claims the consumer of every lane: an error if any lane's consumer is held already.
    ///
    /// # Errors
    /// [`ClaimError::Taken`] while any lane's consumer is held (the lanes claimed so far are
    /// released).
    pub fn consumer(&self) -> Result<FanInConsumer<'a>, ClaimError> {
        self.consumer_with(|spsc| spsc.consumer())
    }

    /// Claims the consumer of every lane from a holder that `holder` proves dead; messages it
    /// read but had not released are read again.
    ///
    /// # Errors
    /// [`ClaimError::HolderAlive`] when `holder` says the holder lives; [`ClaimError::Taken`]
    /// when another claim got there first.
    pub fn take_over_consumer(
        &self,
        holder: &dyn Liveness,
    ) -> Result<FanInConsumer<'a>, ClaimError> {
        self.consumer_with(|spsc| spsc.take_over_consumer(holder))
    }

    fn consumer_with(
        &self,
        claim: impl Fn(&Spsc<'a>) -> Result<Consumer<'a>, ClaimError>,
    ) -> Result<FanInConsumer<'a>, ClaimError> {
        let mut lanes = heapless::Vec::new();
        for lane in 0..self.lanes {
            let spsc = self.lane.in_region(self.lane_region(lane));
            // On an error the lanes claimed so far are dropped, which releases them.
            let consumer = claim(&spsc)?;
            // Cannot fail: lanes <= MAX_LANES, the Vec's capacity.
            let _ = lanes.push(consumer);
        }
        Ok(FanInConsumer {
            lanes,
            next: 0,
            quarantined: 0,
            doorbell: &self.control().doorbell,
            sleeps: self.sleeps,
            spins: crate::wait::SpinHistory::new(),
        })
    }

    /// Lane `lane`'s ring, or [`ClaimError::NoSuchRole`].
    /// The first role held in any lane now, if any.
    pub(crate) fn held_role(&self) -> Option<Role> {
        (0..self.lanes).find_map(|lane| {
            let ring = self.lane.in_region(self.lane_region(lane));
            ring.held_role().map(|role| match role {
                Role::Producer => Role::LaneProducer(lane),
                other => other,
            })
        })
    }

    fn lane_ring(&self, lane: usize, role: Role) -> Result<Spsc<'a>, ClaimError> {
        if lane >= self.lanes {
            return Err(ClaimError::NoSuchRole(role));
        }
        Ok(self.lane.in_region(self.lane_region(lane)))
    }

    fn control(&self) -> &'a Control {
        // SAFETY: control_offset lies inside the region (header validation, or init's length
        // check), is 4-aligned, and Control is atomics and padding: valid for any bits.
        unsafe { self.region.block(self.geometry.control_offset) }
    }

    fn lane_region(&self, lane: usize) -> Region<'a> {
        lane_region(self.region, &self.geometry, lane)
    }
}

/// The recorded producers of a fan-in consumer's lanes not quarantined, taken when it goes to
/// sleep ([`FanInConsumer::producer_watch`]), as the liveness a sleeping consumer asks: gone
/// when one died holding its lane (kept, for the error to name), or when every one has exited;
/// alive while any may still send (one running, one this process cannot see, a lane never
/// claimed). It borrows the region, not the consumer, so an async consumer holds it across its
/// sleep.
#[derive(Debug)]
pub struct ProducerWatch<'a> {
    lanes: heapless::Vec<(usize, RecordedHolder<'a>), MAX_LANES>,
    died_holding: Cell<Option<usize>>,
}

impl ProducerWatch<'_> {
    /// Whether a producer may still send.
    ///
    /// # Errors
    /// [`FanInError::ProducerGone`] naming a lane whose producer died holding it;
    /// [`FanInError::Wait`] with [`WaitError::PeerGone`] when every producer has exited.
    pub fn check(&self) -> Result<(), FanInError> {
        if self.peer_alive() {
            Ok(())
        } else {
            Err(self.error(WaitError::PeerGone))
        }
    }

    /// The error a wait that ended with `error` reports: the lane whose producer died holding
    /// it, when the liveness check found one.
    fn error(&self, error: WaitError) -> FanInError {
        match (error, self.died_holding.get()) {
            (WaitError::PeerGone, Some(lane)) => FanInError::ProducerGone { lane },
            (error, _) => FanInError::Wait(error),
        }
    }
}

impl Liveness for ProducerWatch<'_> {
    fn peer_alive(&self) -> bool {
        let mut any_alive = false;
        for &(lane, producer) in &self.lanes {
            if producer.peer_alive() {
                any_alive = true;
            } else if producer.holds() {
                self.died_holding.set(Some(lane));
                return false;
            }
        }
        any_alive
    }
}

/// Lane `lane` of a region whose length init or attach checked to hold every lane.
fn lane_region<'a>(region: Region<'a>, geometry: &Geometry, lane: usize) -> Region<'a> {
    let lane_len = Spsc::required_len(geometry.capacity);
    let offset = geometry.data_offset + lane * lane_len;
    // SAFETY: offset + lane_len <= region.len() (checked, without overflow, by init and
    // attach for every lane); the sub-region lives as long as the region.
    unsafe { Region::from_raw(region.base().add(offset), lane_len) }
}

/// One producer of a fan-in region.
#[derive(Debug)]
pub struct FanInProducer<'a> {
    lane: Producer<'a>,
    bell: Bell<'a>,
}

/// How a fan-in producer tells the consumer it published: the region's doorbell word, and the
/// eventfd the consumer sleeps on when it sleeps on one.
#[derive(Clone, Copy, Debug)]
struct Bell<'a> {
    word: &'a crate::sync::AtomicU32,
    eventfd: Option<Doorbell<'a>>,
}

impl<'a> FanInProducer<'a> {
    /// Copies `message` into this producer's lane, waiting for room as `how` says, publishes it
    /// and rings the doorbell.
    ///
    /// # Errors
    /// As [`Producer::push_blocking`].
    pub fn push_blocking(&mut self, message: &[u8], how: &Wait<'_>) -> Result<(), ReserveError> {
        self.lane.push_blocking(message, how)?;
        self.bell.ring();
        Ok(())
    }

    /// Copies `message` into this producer's lane if there is room now.
    ///
    /// # Errors
    /// As [`Producer::push`].
    pub fn push(&mut self, message: &[u8]) -> Result<(), ReserveError> {
        self.lane.push(message)?;
        self.bell.ring();
        Ok(())
    }

    /// Room for a message of `len` bytes in this producer's lane, if there is room now, to be
    /// written in place and then committed, as an SPSC producer's
    /// [`reserve`](Producer::reserve).
    ///
    /// ```
    /// use ipc_core::{fan_in::FanIn, Region};
    /// let mut memory = vec![0u64; FanIn::required_len(2, 1024) / 8];
    /// let region = FanIn::init(Region::from_slice(&mut memory), 2, 1024).unwrap();
    /// let mut producer = region.producer(1).unwrap();
    /// let mut grant = producer.reserve(5).unwrap();
    /// grant.copy_from_slice(b"hello"); // in the shared memory
    /// grant.commit(); // published, and the consumer's doorbell rung
    /// let mut consumer = region.consumer().unwrap();
    /// let (lane, message) = consumer.read().unwrap().unwrap();
    /// assert_eq!((lane, &*message), (1, &b"hello"[..]));
    /// ```
    ///
    /// # Errors
    /// As [`Producer::reserve`].
    pub fn reserve(&mut self, len: usize) -> Result<FanInWriteGrant<'_, 'a>, ReserveError> {
        Ok(FanInWriteGrant {
            grant: self.lane.reserve(len)?,
            bell: self.bell,
        })
    }

    /// Like [`reserve`](Self::reserve), but waits for room as `how` says.
    ///
    /// # Errors
    /// As [`Producer::reserve_blocking`].
    pub fn reserve_blocking(
        &mut self,
        len: usize,
        how: &Wait<'_>,
    ) -> Result<FanInWriteGrant<'_, 'a>, ReserveError> {
        Ok(FanInWriteGrant {
            grant: self.lane.reserve_blocking(len, how)?,
            bell: self.bell,
        })
    }
}

impl FanInProducer<'_> {
    /// Publishes the messages committed with
    /// [`commit_deferred`](FanInWriteGrant::commit_deferred) and rings the consumer's doorbell
    /// once for them all (nothing, when there are none).
    ///
    /// ```
    /// use ipc_core::{fan_in::FanIn, Region};
    /// let mut memory = vec![0u64; FanIn::required_len(1, 1024) / 8];
    /// let region = FanIn::init(Region::from_slice(&mut memory), 1, 1024).unwrap();
    /// let (mut producer, mut consumer) = (region.producer(0).unwrap(), region.consumer().unwrap());
    /// for byte in 1..=3u8 {
    ///     let mut grant = producer.reserve(1).unwrap();
    ///     grant[0] = byte;
    ///     grant.commit_deferred();
    /// }
    /// assert!(consumer.read().unwrap().is_none(), "deferred: not visible yet");
    /// producer.flush().unwrap();
    /// let (_, first) = consumer.read().unwrap().unwrap();
    /// assert_eq!(&*first, &[1]);
    /// ```
    ///
    /// # Errors
    /// As [`Producer::flush`].
    pub fn flush(&mut self) -> Result<(), Corruption> {
        if !self.lane.has_deferred() {
            return self.lane.flush();
        }
        let flushed = self.lane.flush();
        self.bell.ring();
        flushed
    }
}

/// Room for one message in a fan-in producer's lane, written in place; nothing is visible to
/// the consumer until [`commit`](Self::commit), which also rings its doorbell. Dropping it
/// without committing abandons it.
#[derive(Debug)]
pub struct FanInWriteGrant<'p, 'a> {
    grant: WriteGrant<'p, 'a>,
    bell: Bell<'a>,
}

impl FanInWriteGrant<'_, '_> {
    /// Publishes the message and rings the consumer's doorbell (waking it if it sleeps).
    pub fn commit(self) {
        self.grant.commit();
        self.bell.ring();
    }

    /// Makes the message part of the producer's next [`flush`](FanInProducer::flush): nothing
    /// is visible before it, and a batch costs one ring of the doorbell.
    pub fn commit_deferred(self) {
        self.grant.commit_deferred();
    }
}

impl Deref for FanInWriteGrant<'_, '_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.grant
    }
}

impl DerefMut for FanInWriteGrant<'_, '_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.grant
    }
}

impl Bell<'_> {
    /// Rings after a publish: moves the doorbell word's position, and wakes the consumer (on
    /// its futex or its eventfd) if it announced that it sleeps.
    fn ring(&self) {
        let word = self.word;
        let mut current = word.load(Ordering::Relaxed);
        loop {
            let next = current.wrapping_add(1) & wake::POSITION;
            match word.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(previous) => {
                    if previous & wake::WAITING != 0 {
                        match self.eventfd {
                            Some(eventfd) => eventfd.ring(),
                            None => wait::wake_one(word),
                        }
                    }
                    return;
                }
                Err(actual) => current = actual,
            }
        }
    }
}

/// The consumer of a fan-in region.
#[derive(Debug)]
pub struct FanInConsumer<'a> {
    lanes: heapless::Vec<Consumer<'a>, MAX_LANES>,
    next: usize,
    /// Lanes no longer read, one bit each.
    quarantined: u128,
    doorbell: &'a crate::sync::AtomicU32,
    /// What it sleeps on.
    sleeps: ReaderSleeps,
    /// What this side's waits for messages learned of spinning.
    spins: crate::wait::SpinHistory,
}

impl<'a> FanInConsumer<'a> {
    /// Stops reading lane `lane` (one whose producer is broken or hostile): the others are
    /// read as before. A lane out of range is ignored.
    pub fn quarantine(&mut self, lane: usize) {
        if lane < self.lanes.len() {
            self.quarantined |= 1 << lane;
        }
    }

    /// What this consumer sleeps on (fixed when the region was laid out).
    pub fn reader_sleeps(&self) -> ReaderSleeps {
        self.sleeps
    }

    /// Whether lane `lane` is quarantined.
    pub fn is_quarantined(&self, lane: usize) -> bool {
        lane < MAX_LANES && self.quarantined & (1 << lane) != 0
    }

    /// The next message from any lane not quarantined (round-robin), and the lane it came
    /// from. A corrupted lane is named in the error, and stays so until it is quarantined.
    ///
    /// # Errors
    /// [`FanInError::Lane`] naming a lane whose producer wrote what it could not have:
    /// [`quarantine`](Self::quarantine) it to go on reading the others.
    pub fn read(&mut self) -> Result<Option<(usize, ReadGrant<'_, 'a>)>, FanInError> {
        match self.ready_lane()? {
            Some(lane) => self.take(lane).map(Some),
            None => Ok(None),
        }
    }

    /// Like [`read`](Self::read), but waits as `how` says.
    ///
    /// # Errors
    /// As [`read`](Self::read), and [`FanInError::Wait`] when the wait gives up, or with
    /// [`WaitError::SleepsOnEventfd`] for a wait that would sleep on the futex of a region whose
    /// consumer sleeps on an eventfd.
    pub fn read_blocking(
        &mut self,
        how: &Wait<'_>,
    ) -> Result<(usize, ReadGrant<'_, 'a>), FanInError> {
        self.sleeps.check_wait(how).map_err(FanInError::Wait)?;
        let lane = loop {
            if let Some(lane) = self.ready_lane()? {
                break lane;
            }
            // Read the doorbell, then look again: a message rung before this load is visible.
            let rung = wake::position(self.doorbell);
            if self.ready_lane()?.is_some() {
                continue;
            }
            // The history is copied out and back: the wait borrows the rest of this side.
            let mut spins = self.spins;
            let waited = {
                let producers = self.producer_watch();
                let ready = || self.has_message();
                wait::until(self.doorbell, rung, &ready, how, &producers, &mut spins)
                    .map_err(|e| producers.error(e))
            };
            self.spins = spins;
            waited?;
        };
        self.take(lane)
    }

    /// Copies the next message into `buffer`, waiting as `how` says; returns (lane, length).
    ///
    /// # Errors
    /// As [`read_blocking`](Self::read_blocking), and [`FanInError::BufferTooSmall`] for a
    /// message longer than `buffer`, which stays in its lane untouched.
    pub fn pop_blocking(
        &mut self,
        buffer: &mut [u8],
        how: &Wait<'_>,
    ) -> Result<(usize, usize), FanInError> {
        let (lane, grant) = self.read_blocking(how)?;
        let len = grant
            .copy_into(buffer)
            .map_err(|e| FanInError::of(lane, e))?;
        Ok((lane, len))
    }

    /// True when a lane not quarantined has a record (or a wrap marker) published at its
    /// position: a cheap check for spinning, which reads no index word.
    pub fn has_message(&self) -> bool {
        self.lanes
            .iter()
            .enumerate()
            .any(|(lane, c)| !self.is_quarantined(lane) && c.has_message())
    }

    /// For a consumer that sleeps on an eventfd ([`ReaderSleeps::OnEventfd`]; an async
    /// adapter): announces that it will sleep until a producer publishes. `Ok(true)`: announced;
    /// sleep until the eventfd is readable, then read again. `Ok(false)`: a message is there
    /// already; do not sleep. A wait that ends without sleeping calls
    /// [`withdraw_sleep`](Self::withdraw_sleep).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn announce_sleep(&mut self) -> Result<bool, FanInError> {
        if self.ready_lane()?.is_some() {
            return Ok(false);
        }
        // As in read_blocking: a producer rings after it publishes, so a message rung before
        // this load is seen by the look that follows, and one rung after it moves the word.
        let rung = wake::position(self.doorbell);
        if self.ready_lane()?.is_some() {
            return Ok(false);
        }
        Ok(wake::announce(self.doorbell, rung).is_some())
    }

    /// Withdraws an [announced](Self::announce_sleep) sleep (a cancelled wait), so producers
    /// do not ring for nobody.
    pub fn withdraw_sleep(&mut self) {
        wake::withdraw(self.doorbell);
    }

    /// Whether any producer of a lane not quarantined may still send, as the default wait
    /// asks while asleep (for a consumer that sleeps by other means).
    ///
    /// # Errors
    /// As [`ProducerWatch::check`].
    pub fn check_producers(&self) -> Result<(), FanInError> {
        self.producer_watch().check()
    }

    /// The producers of the lanes not quarantined now, for a consumer that sleeps by other
    /// means to watch while asleep ([`ProducerWatch::check`]).
    pub fn producer_watch(&self) -> ProducerWatch<'a> {
        let mut lanes = heapless::Vec::new();
        for (lane, consumer) in self.lanes.iter().enumerate() {
            if !self.is_quarantined(lane) {
                // Cannot fail: at most MAX_LANES lanes, the Vec's capacity.
                let _ = lanes.push((lane, consumer.producer_record()));
            }
        }
        ProducerWatch {
            lanes,
            died_holding: Cell::new(None),
        }
    }

    /// The lane [`read`](Self::read) would take its next message from, if any holds a whole
    /// one now: for a waiter that checks, then reads ([`read_lane`](Self::read_lane)).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn poll_ready(&mut self) -> Result<Option<usize>, FanInError> {
        self.ready_lane()
    }

    /// Reads the next message of lane `lane`, one [`poll_ready`](Self::poll_ready) named (the
    /// round-robin goes on after it).
    ///
    /// # Errors
    /// As [`read`](Self::read); [`FanInError::Lane`] with [`Corruption::Vanished`] when the lane
    /// holds no whole message (its producer took back one it had published, or no lane
    /// `lane` exists).
    pub fn read_lane(&mut self, lane: usize) -> Result<(usize, ReadGrant<'_, 'a>), FanInError> {
        if lane >= self.lanes.len() {
            return Err(FanInError::Lane {
                lane,
                corruption: Corruption::Vanished { position: 0 },
            });
        }
        self.take(lane)
    }

    /// The first lane from `next` on with a whole message ready.
    fn ready_lane(&mut self) -> Result<Option<usize>, FanInError> {
        let count = self.lanes.len();
        for i in 0..count {
            let lane = (self.next + i) % count;
            if self.is_quarantined(lane) {
                continue;
            }
            let ready = self.lanes[lane]
                .poll_next()
                .map_err(|e| FanInError::of(lane, e))?;
            if ready {
                return Ok(Some(lane));
            }
        }
        Ok(None)
    }

    /// Reads the message `ready_lane` found in `lane`.
    fn take(&mut self, lane: usize) -> Result<(usize, ReadGrant<'_, 'a>), FanInError> {
        self.next = (lane + 1) % self.lanes.len();
        let tail = self.lanes[lane].position();
        match self.lanes[lane]
            .read()
            .map_err(|e| FanInError::of(lane, e))?
        {
            Some(grant) => Ok((lane, grant)),
            // poll_next just saw it whole: only a peer rewriting the region takes it away.
            None => Err(FanInError::Lane {
                lane,
                corruption: Corruption::Vanished { position: tail },
            }),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn a_consumer_on_an_eventfd_needs_a_doorbell_from_every_producer_and_refuses_futex_sleeps() {
        use rustix::fd::AsFd;
        let stand_in = std::io::stdin();
        let bell = Doorbell::eventfd(stand_in.as_fd());
        let mut mem = memory(2, 1024);
        let region = FanIn::init_with(
            Region::from_slice(&mut mem),
            2,
            1024,
            ReaderSleeps::OnEventfd,
        )
        .unwrap();
        assert_eq!(
            region.producer(0).unwrap_err(),
            ClaimError::Doorbell {
                role: Role::LaneProducer(0),
                needed: true
            }
        );
        let attached = FanIn::attach(region.region).unwrap();
        assert_eq!(
            (attached.reader_sleeps(), attached.lanes()),
            (ReaderSleeps::OnEventfd, 2)
        );
        let mut consumer = region.consumer().unwrap();
        assert_eq!(
            consumer.read_blocking(&Wait::futex()).unwrap_err(),
            FanInError::Wait(WaitError::SleepsOnEventfd)
        );
        let mut producer = region.producer_with_doorbell(1, bell).unwrap();
        producer.push(b"spun").unwrap();
        let (lane, grant) = consumer.read_blocking(&Wait::busy_poll()).unwrap();
        assert_eq!((lane, &*grant), (1, &b"spun"[..]));
        grant.release();
        // A region whose consumer sleeps on the futex refuses a doorbell.
        let mut futex_mem = memory(1, 1024);
        let futex = FanIn::init(Region::from_slice(&mut futex_mem), 1, 1024).unwrap();
        assert_eq!(
            futex.producer_with_doorbell(0, bell).unwrap_err(),
            ClaimError::Doorbell {
                role: Role::LaneProducer(0),
                needed: false
            }
        );
        // A mode nobody wrote is a layout error, not a guess.
        drop((consumer, producer));
        region.control().lanes.store(2 | 7 << 8, Ordering::Relaxed);
        assert_eq!(
            FanIn::attach(region.region).unwrap_err(),
            LayoutError::UnknownValue {
                field: "consumer wake-ups",
                value: 7
            }
        );
    }

    #[test]
    #[cfg(not(miri))] // miri cannot make an eventfd
    fn a_sleeping_consumer_is_rung_once_through_its_eventfd_and_a_withdrawn_one_not_at_all() {
        use crate::doorbell::test_eventfd::{new as eventfd, rung};
        use rustix::fd::AsFd;
        let sleeps_on = eventfd();
        let mut mem = memory(2, 1024);
        let region = FanIn::init_with(
            Region::from_slice(&mut mem),
            2,
            1024,
            ReaderSleeps::OnEventfd,
        )
        .unwrap();
        let mut consumer = region.consumer().unwrap();
        let mut producers = [0, 1].map(|lane| {
            region
                .producer_with_doorbell(lane, Doorbell::eventfd(sleeps_on.as_fd()))
                .unwrap()
        });
        assert!(
            consumer.announce_sleep().unwrap(),
            "nothing there: it may sleep"
        );
        producers[1].push(b"one").unwrap();
        producers[0].push(b"two").unwrap();
        assert_eq!(
            rung(&sleeps_on),
            1,
            "the first publish rings, the second need not"
        );
        assert!(
            !consumer.announce_sleep().unwrap(),
            "messages are there: no sleep"
        );
        for _ in 0..2 {
            consumer.read().unwrap().unwrap().1.release();
        }
        assert!(consumer.announce_sleep().unwrap());
        consumer.withdraw_sleep();
        producers[0].push(b"three").unwrap();
        assert_eq!(rung(&sleeps_on), 0, "a withdrawn sleep is not rung");
        assert_eq!(consumer.poll_ready().unwrap(), Some(0));
        let (lane, grant) = consumer.read_lane(0).unwrap();
        assert_eq!((lane, &*grant), (0, &b"three"[..]));
        grant.release();
        assert!(matches!(
            consumer.read_lane(0),
            Err(FanInError::Lane {
                lane: 0,
                corruption: Corruption::Vanished { .. }
            })
        ));
        assert!(
            consumer.check_producers().is_ok(),
            "both producers live here"
        );
    }

    fn memory(lanes: usize, capacity: usize) -> Vec<u64> {
        vec![0u64; FanIn::required_len(lanes, capacity).div_ceil(8)]
    }

    #[test]
    fn a_reserved_message_is_seen_only_once_committed_and_the_commit_rings_the_doorbell() {
        let mut mem = memory(2, 256);
        let fan_in = FanIn::init(Region::from_slice(&mut mem), 2, 256).unwrap();
        let mut producer = fan_in.producer(0).unwrap();
        let mut consumer = fan_in.consumer().unwrap();
        let rung = |fan_in: &FanIn<'_>| fan_in.control().doorbell.load(Ordering::Relaxed);
        let before = rung(&fan_in);
        // Abandoned: nothing published, the doorbell untouched.
        {
            let mut abandoned = producer.reserve(4).unwrap();
            abandoned.copy_from_slice(b"lost");
        }
        assert!(consumer.read().unwrap().is_none());
        assert_eq!(rung(&fan_in), before);
        // Written in place, invisible until committed, then published with one ring.
        let mut grant = producer.reserve_blocking(5, &Wait::busy_poll()).unwrap();
        grant.copy_from_slice(b"kept!");
        assert!(consumer.read().unwrap().is_none(), "visible before commit");
        grant.commit();
        assert_eq!(rung(&fan_in), before.wrapping_add(1) & wake::POSITION);
        let (lane, message) = consumer.read().unwrap().unwrap();
        assert_eq!((lane, &*message), (0, &b"kept!"[..]));
    }

    #[test]
    fn lanes_are_served_round_robin_and_each_keeps_its_order() {
        let mut mem = memory(3, 256);
        let fan_in = FanIn::init(Region::from_slice(&mut mem), 3, 256).unwrap();
        let mut producers: Vec<_> = (0..3).map(|lane| fan_in.producer(lane).unwrap()).collect();
        for round in 0..2u8 {
            for (lane, producer) in producers.iter_mut().enumerate() {
                producer.push(&[lane as u8, round]).unwrap();
            }
        }
        let mut consumer = fan_in.consumer().unwrap();
        let mut seen = Vec::new();
        while let Some((lane, grant)) = consumer.read().unwrap() {
            assert_eq!(grant[0] as usize, lane);
            seen.push((grant[0], grant[1]));
            grant.release();
        }
        assert_eq!(seen, [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]);
    }

    /// Random traffic through every lane, with payloads made of the words a record header is
    /// made of (see `test_payloads`): each lane must give exactly what its producer sent, in
    /// order, and an empty read must mean every lane is empty.
    #[test]
    fn each_lane_gives_exactly_what_was_sent_whatever_the_payload_bytes() {
        use crate::test_payloads::{plausible_payload, Rng};
        use std::collections::VecDeque;
        let steps = if cfg!(miri) { 300 } else { 30_000 };
        for capacity in [64, 256, 4096] {
            let lanes = 3;
            let mut mem = memory(lanes, capacity);
            let fan_in = FanIn::init(Region::from_slice(&mut mem), lanes, capacity).unwrap();
            let mut producers: Vec<_> = (0..lanes).map(|l| fan_in.producer(l).unwrap()).collect();
            let mut consumer = fan_in.consumer().unwrap();
            let max = fan_in.lane.max_message_len();
            let mut sent = vec![VecDeque::new(); lanes];
            let mut rng = Rng(capacity as u64);
            for _ in 0..steps {
                if rng.below(2) == 0 {
                    let lane = rng.below(lanes);
                    let near = [consumer.lanes[lane].position()];
                    let len = rng.below(max + 1);
                    let m = plausible_payload(&mut rng, len, &near, capacity as u32, max as u32);
                    match producers[lane].push(&m) {
                        Ok(()) => sent[lane].push_back(m),
                        Err(ReserveError::Full) => {}
                        Err(e) => panic!("{e}"),
                    }
                    continue;
                }
                match consumer.read().unwrap() {
                    Some((lane, grant)) => {
                        let expected = sent[lane].pop_front().expect("a message nobody sent");
                        assert_eq!(&*grant, &expected[..], "ring of {capacity}, lane {lane}");
                        grant.release();
                    }
                    None => assert!(sent.iter().all(VecDeque::is_empty), "a message not read"),
                }
            }
            while let Some((lane, grant)) = consumer.read().unwrap() {
                let expected = sent[lane].pop_front().expect("a message nobody sent");
                assert_eq!(&*grant, &expected[..], "ring of {capacity}, lane {lane}");
                grant.release();
            }
            assert!(sent.iter().all(VecDeque::is_empty), "a message not read");
        }
    }

    #[test]
    fn attach_checks_the_lane_count() {
        let mut mem = memory(2, 128);
        FanIn::init(Region::from_slice(&mut mem), 2, 128).unwrap();
        let attached = FanIn::attach(Region::from_slice(&mut mem)).unwrap();
        assert_eq!(attached.lanes(), 2);
        // The lane count lives in the low 8 bits of the second control word.
        let at = (header::BLOCK_ALIGN + 128) / 8;
        mem[at] = 200;
        assert_eq!(
            FanIn::attach(Region::from_slice(&mut mem)).unwrap_err(),
            LayoutError::CountOutOfRange {
                what: "lanes",
                count: 200,
                max: MAX_LANES as u64
            }
        );
        mem[at] = 60;
        assert!(matches!(
            FanIn::attach(Region::from_slice(&mut mem)),
            Err(LayoutError::RegionTooSmall { .. })
        ));
    }

    /// Byte offset of lane `lane` from the start of the region.
    fn lane_at(lanes: usize, capacity: usize, lane: usize) -> usize {
        FanIn::required_len(lanes, capacity) - (lanes - lane) * Spsc::required_len(capacity)
    }

    #[test]
    fn a_spoiled_lane_is_named_and_quarantined_and_the_others_go_on() {
        let (lanes, capacity) = (3, 128);
        let mut mem = memory(lanes, capacity);
        let base = core::ptr::NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: `mem` outlives the region and is touched only through it and the atomic
        // store below, as a peer process would.
        let region = unsafe { Region::from_raw(base, mem.len() * 8) };
        let fan_in = FanIn::init(region, lanes, capacity).unwrap();
        let mut producers: Vec<_> = (0..lanes)
            .map(|lane| fan_in.producer(lane).unwrap())
            .collect();
        for producer in &mut producers {
            producer.push(&[7; 8]).unwrap();
        }
        // Lane 1's producer (hostile) rewrites its published record's length.
        let record = lane_at(lanes, capacity, 1) + Spsc::required_len(capacity) - capacity;
        // SAFETY: lane 1's first length word, inside the region and 4-aligned.
        let len = unsafe {
            base.add(record)
                .cast::<core::sync::atomic::AtomicU32>()
                .as_ref()
        };
        len.store(5000, core::sync::atomic::Ordering::Relaxed);
        let mut consumer = fan_in.consumer().unwrap();
        let (lane, grant) = consumer.read().unwrap().unwrap();
        assert_eq!(lane, 0);
        grant.release();
        let spoiled = FanInError::Lane {
            lane: 1,
            corruption: Corruption::RecordLength {
                position: 0,
                len: 5000,
            },
        };
        assert_eq!(consumer.read().unwrap_err(), spoiled);
        assert_eq!(
            consumer.read().unwrap_err(),
            spoiled,
            "until it is quarantined"
        );
        consumer.quarantine(1);
        assert!(consumer.is_quarantined(1));
        let (lane, grant) = consumer.read().unwrap().unwrap();
        assert_eq!(lane, 2);
        grant.release();
        producers[0].push(&[8; 8]).unwrap();
        assert_eq!(
            consumer.read().unwrap().unwrap().0,
            0,
            "lane 0 is still read"
        );
    }

    #[test]
    fn a_lane_header_rewritten_after_attach_does_not_panic() {
        let (lanes, capacity) = (2, 128);
        let mut mem = memory(lanes, capacity);
        FanIn::init(Region::from_slice(&mut mem), lanes, capacity).unwrap();
        let base = core::ptr::NonNull::new(mem.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: as above.
        let region = unsafe { Region::from_raw(base, mem.len() * 8) };
        let fan_in = FanIn::attach(region).unwrap();
        // The peer spoils lane 1's magic after this side validated it.
        // SAFETY: lane 1's first header word, inside the region and 4-aligned.
        let magic = unsafe {
            base.add(lane_at(lanes, capacity, 1))
                .cast::<core::sync::atomic::AtomicU32>()
                .as_ref()
        };
        magic.store(0xdead, core::sync::atomic::Ordering::Relaxed);
        let mut producer = fan_in.producer(1).unwrap();
        let mut consumer = fan_in.consumer().unwrap();
        producer.push(b"still").unwrap();
        let (lane, grant) = consumer.read().unwrap().unwrap();
        assert_eq!((lane, &*grant), (1, &b"still"[..]));
    }

    #[test]
    fn lane_arithmetic_that_overflows_is_refused() {
        assert_eq!(FanIn::required_len(usize::MAX / 2, 1 << 20), usize::MAX);
    }

    use crate::wait::Dead;

    #[test]
    fn each_lane_has_one_producer_and_the_region_one_consumer() {
        let mut mem = memory(2, 128);
        let fan_in = FanIn::init(Region::from_slice(&mut mem), 2, 128).unwrap();
        let mut first = fan_in.producer(1).unwrap();
        assert_eq!(
            fan_in.producer(1).unwrap_err(),
            ClaimError::Taken(Role::LaneProducer(1))
        );
        assert!(fan_in.producer(0).is_ok(), "another lane is free");
        assert_eq!(
            fan_in.producer(2).unwrap_err(),
            ClaimError::NoSuchRole(Role::LaneProducer(2)),
            "no panic for a lane past the count"
        );
        let consumer = fan_in.consumer().unwrap();
        assert_eq!(
            fan_in.consumer().unwrap_err(),
            ClaimError::Taken(Role::Consumer)
        );
        // Its holder dies: taken over, with what it had not read.
        first.push(b"kept").unwrap();
        core::mem::forget(consumer);
        let mut consumer = fan_in.take_over_consumer(&Dead).unwrap();
        let (lane, grant) = consumer.read().unwrap().unwrap();
        assert_eq!((lane, &*grant), (1, &b"kept"[..]));
        grant.release();
        let mut second = fan_in.take_over_producer(1, &Dead).unwrap();
        second.push(b"new holder").unwrap();
        drop(first);
        assert_eq!(
            fan_in.producer(1).unwrap_err(),
            ClaimError::Taken(Role::LaneProducer(1)),
            "the old holder released nothing of the new one's"
        );
    }

    #[test]
    fn a_consumer_refused_on_one_lane_holds_no_other() {
        let mut mem = memory(3, 128);
        let fan_in = FanIn::init(Region::from_slice(&mut mem), 3, 128).unwrap();
        // A stray consumer of lane 2 alone (a bug in a peer): the region's consumer is refused
        // and leaves lanes 0 and 1 free again.
        let lane_2 = fan_in.lane.in_region(fan_in.lane_region(2));
        let stray = lane_2.consumer().unwrap();
        assert_eq!(
            fan_in.consumer().unwrap_err(),
            ClaimError::Taken(Role::Consumer)
        );
        drop(stray);
        assert!(fan_in.consumer().is_ok());
    }

    #[test]
    fn init_refuses_zero_lanes() {
        let mut mem = memory(1, 128);
        assert!(FanIn::init(Region::from_slice(&mut mem), 0, 128).is_err());
    }

    #[test]
    #[cfg(not(miri))] // miri cannot run the raw futex syscall rustix makes
    fn a_sleeping_consumer_is_woken_by_every_producer() {
        const LANES: usize = 3;
        const EACH: u32 = 20_000;
        let mut mem = memory(LANES, 512);
        let fan_in = FanIn::init(Region::from_slice(&mut mem), LANES, 512).unwrap();
        let how = Wait::futex();
        std::thread::scope(|s| {
            for lane in 0..LANES {
                let mut producer = fan_in.producer(lane).unwrap();
                s.spawn(move || {
                    for n in 0..EACH {
                        producer.push_blocking(&n.to_le_bytes(), &how).unwrap();
                    }
                });
            }
            let mut consumer = fan_in.consumer().unwrap();
            let mut next = [0u32; LANES];
            let mut buffer = [0u8; 4];
            for _ in 0..EACH * LANES as u32 {
                let (lane, len) = consumer.pop_blocking(&mut buffer, &how).unwrap();
                assert_eq!(len, 4);
                assert_eq!(
                    u32::from_le_bytes(buffer),
                    next[lane],
                    "lane {lane} out of order"
                );
                next[lane] += 1;
            }
            assert_eq!(next, [EACH; LANES]);
        });
    }
}
