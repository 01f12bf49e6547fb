//! A single-producer single-consumer ring of variable-length messages in a shared region.
//!
//! The data area holds records `[len: u32][tag: u32][payload][padding to 8 bytes]`. A record
//! never wraps: when one does not fit before the end, the producer writes a wrap marker and starts
//! it at offset 0. Positions are byte counts that wrap at 2^31; the data area's capacity (a power
//! of two up to 2^30) divides that, so `position & (capacity - 1)` is the offset. Offsets are
//! also rounded down to 8 bytes: positions are multiples of 8, and one read from a corrupted
//! region must still give an aligned, in-bounds access.
//!
//! A record is published by its tag, `position + 1`, stored last with release ordering (stale
//! tags from earlier laps differ, and zeroed memory never matches). The consumer polls the tag at
//! its own position, so in the fast path no index word moves between the CPUs: only the record's
//! own cache lines do. The head (producer) and tail (consumer) are [wake words](crate::wake) on
//! separate pairs of cache lines: the producer publishes its head after the tags for a consumer
//! that sleeps, and the producer caches the tail, reading it again only when the ring looks full.
//! Everything read from the region is validated before use: a corrupted index, tag or length
//! gives a [`Corruption`] error or no message, never an access outside the data area.
//!
//! ```
//! use ipc_core::{spsc::Spsc, Region};
//! let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
//! let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
//! let (mut producer, mut consumer) = (ring.producer()?, ring.consumer()?);
//! producer.push(b"hello").unwrap();
//! let message = consumer.read().unwrap().expect("one message");
//! assert_eq!(&*message, b"hello");
//! message.release();
//! # Ok::<(), ipc_core::role::ClaimError>(())
//! ```

mod data;
mod grant;
mod wakeups;

use core::marker::PhantomData;

pub use crate::error::{Corruption, ReadError, ReserveError};
pub use grant::{ReadGrant, WriteGrant};
use wakeups::Side;
pub use wakeups::{EventfdSides, FutexSleep, Wakeups};

use data::Data;

use crate::doorbell::Doorbell;
use crate::header::{self, Geometry, LayoutRequest};
use crate::role::{Claim, ClaimError, ClaimSlot, RecordedHolder, Role};
use crate::sync::{AtomicU32, PaddedWord};
use crate::wait::{self, Liveness, SpinHistory, Wait};
use crate::{wake, LayoutError, Region};

/// The header kind of an SPSC ring ("SPSC").
pub const KIND: u32 = u32::from_le_bytes(*b"SPSC");
/// Bytes before each payload.
pub const RECORD_HEADER: usize = 8;
/// Largest data area: positions wrap at 2^31 and must stay a multiple of the capacity.
pub const MAX_CAPACITY: usize = 1 << 30;
const WRAP_MARKER: u32 = u32::MAX;
/// The smallest record that goes back to the start of an empty ring ([`Producer`]'s `rewinds`).
const REWIND_MIN_RECORD: u32 = 16 << 10;

/// The control block: one wake word per side, each on its own pair of cache lines, the ring's
/// [`Wakeups`] mode (written at init, read once by each side) and the two [role
/// claims](crate::role), touched only when a side is made or dropped.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub(crate) head: PaddedWord,
    pub(crate) tail: PaddedWord,
    pub(crate) wakeups: core::sync::atomic::AtomicU32,
    pub(crate) producer_claim: ClaimSlot,
    pub(crate) consumer_claim: ClaimSlot,
}

/// An SPSC ring laid out in a region.
#[derive(Clone, Copy, Debug)]
pub struct Spsc<'a> {
    region: Region<'a>,
    geometry: Geometry,
    wakeups: Wakeups,
}

impl<'a> Spsc<'a> {
    /// Bytes a region needs for a ring with a data area of `capacity` bytes.
    pub fn required_len(capacity: usize) -> usize {
        header::required_len(core::mem::size_of::<Control>(), capacity) + data::shadow_len(capacity)
    }

    /// Lays out an empty ring with a data area of `capacity` bytes (a power of two, at most
    /// [`MAX_CAPACITY`]) in `region`, whose sides may sleep ([`Wakeups::Futex`]), before the
    /// peer attaches. A region that holds a structure in use is refused, not reset.
    ///
    /// # Errors
    /// [`LayoutError`] for a capacity that is not a power of two from 16 to [`MAX_CAPACITY`],
    /// a region too small or misaligned, [`LayoutError::InUse`] while a role of a ring laid
    /// out there is held, or [`LayoutError::WrongKind`] over another structure.
    pub fn init(region: Region<'a>, capacity: usize) -> Result<Self, LayoutError> {
        Self::init_with(region, capacity, Wakeups::Futex)
    }

    /// Like [`init`](Self::init), with the given [`Wakeups`] mode: [`Wakeups::SpinOnly`]
    /// spares every publish its locked instruction when neither side will ever sleep.
    ///
    /// # Errors
    /// As [`init`](Self::init).
    pub fn init_with(
        region: Region<'a>,
        capacity: usize,
        wakeups: Wakeups,
    ) -> Result<Self, LayoutError> {
        header::refuse_in_use(region, KIND, || Self::attach(region).ok()?.held_role())?;
        Self::lay_out(region, capacity, wakeups)
    }

    /// [`init_with`](Self::init_with) without looking at what the region held: a fan-in
    /// region lays its lanes out so, having refused a region in use as a whole.
    pub(crate) fn lay_out(
        region: Region<'a>,
        capacity: usize,
        wakeups: Wakeups,
    ) -> Result<Self, LayoutError> {
        header::check_capacity(capacity, 2 * RECORD_HEADER, MAX_CAPACITY)?;
        let needed = Self::required_len(capacity);
        if region.len() < needed {
            return Err(LayoutError::RegionTooSmall {
                len: region.len(),
                needed,
            });
        }
        // The control block must be zero before the header makes the ring visible (a region
        // misaligned is left alone: header::init refuses it just below).
        let aligned = region
            .base()
            .as_ptr()
            .align_offset(core::mem::align_of::<Control>())
            == 0;
        if aligned {
            let control = Control {
                wakeups: core::sync::atomic::AtomicU32::new(wakeups.to_word()),
                ..Control::default()
            };
            // SAFETY: the control block lies inside the region (its length was checked above),
            // is 4-aligned (BLOCK_ALIGN from a 4-aligned base) and nobody else uses the
            // region yet.
            unsafe { region.init_block(header::BLOCK_ALIGN, control) };
            // The first record's tag word may hold anything (a reused file): clear it, as the
            // producer clears the next record's before every publish (see `clear_next_tag`).
            let data_offset =
                header::required_len(core::mem::size_of::<Control>(), capacity) - capacity;
            // SAFETY: the data area's first 8 bytes lie inside the region (checked above), are
            // 4-aligned (a multiple of BLOCK_ALIGN from a 4-aligned base) and nobody else uses
            // the region yet.
            #[cfg(not(loom))]
            unsafe {
                region.init_block(data_offset + 4, core::sync::atomic::AtomicU32::new(0))
            };
            #[cfg(loom)]
            let _ = data_offset;
        }
        let geometry = header::init(
            region,
            LayoutRequest {
                kind: KIND,
                control_len: core::mem::size_of::<Control>(),
                capacity,
            },
        )?;
        #[cfg(loom)]
        // SAFETY: the region holds required_len bytes (header::init checked the area; the
        // shadow follows it, and the length check above covered it), not yet shared.
        unsafe {
            data::init_shadow(region, geometry.data_offset, capacity)
        };
        Ok(Self {
            region,
            geometry,
            wakeups,
        })
    }

    /// Validates the ring another process laid out in `region`.
    ///
    /// # Errors
    /// A [`LayoutError`] naming the first header or control field that is wrong (see
    /// [`header::attach`]), or an unknown wake-up mode.
    ///
    /// ```
    /// use ipc_core::{spsc::Spsc, LayoutError, Region};
    /// let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
    /// // Nothing laid out yet: refused, with the field that is wrong.
    /// assert!(matches!(Spsc::attach(Region::from_slice(&mut memory)), Err(LayoutError::BadMagic { .. })));
    /// Spsc::init(Region::from_slice(&mut memory), 1024)?;
    /// assert_eq!(Spsc::attach(Region::from_slice(&mut memory))?.capacity(), 1024);
    /// # Ok::<(), LayoutError>(())
    /// ```
    pub fn attach(region: Region<'a>) -> Result<Self, LayoutError> {
        let geometry = header::attach(region, KIND, core::mem::size_of::<Control>())?;
        header::check_capacity(geometry.capacity, 2 * RECORD_HEADER, MAX_CAPACITY)?;
        let needed = geometry.data_offset + geometry.capacity + data::shadow_len(geometry.capacity);
        if region.len() < needed {
            return Err(LayoutError::RegionTooSmall {
                len: region.len(),
                needed,
            });
        }
        let mut ring = Self {
            region,
            geometry,
            wakeups: Wakeups::Futex,
        };
        let word = ring
            .control()
            .wakeups
            .load(core::sync::atomic::Ordering::Relaxed);
        ring.wakeups = Wakeups::from_word(word).ok_or(LayoutError::UnknownValue {
            field: "wakeups",
            value: word.into(),
        })?;
        Ok(ring)
    }

    /// The same ring layout in `region`, another region of the same length laid out alike
    /// (the lanes of a fan-in region), without reading its header again.
    pub(crate) fn in_region(&self, region: Region<'a>) -> Self {
        debug_assert_eq!(region.len(), self.region.len());
        Self { region, ..*self }
    }

    /// Whether this ring's sides may sleep.
    pub fn wakeups(&self) -> Wakeups {
        self.wakeups
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> usize {
        self.geometry.capacity
    }

    /// The longest message the ring accepts: half the data area less a record header, so that
    /// a message always fits once the consumer catches up, wherever the wrap falls.
    ///
    /// ```
    /// use ipc_core::{spsc::{ReserveError, Spsc}, Region};
    /// let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
    /// let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
    /// assert_eq!(ring.max_message_len(), 504);
    /// let mut producer = ring.producer().unwrap();
    /// assert!(matches!(producer.push(&[0; 505]), Err(ReserveError::TooLarge { len: 505, max: 504 })));
    /// ```
    pub fn max_message_len(&self) -> usize {
        self.capacity() / 2 - RECORD_HEADER
    }

    /// Claims the producing side: an error if it is held already, here or in another process,
    /// until the holder drops it (or is [taken over](Self::take_over_producer)).
    ///
    /// The consumer's index is read here but trusted only once validated: a tail out of range
    /// for the head is taken as a full ring, so the first reserve reads it again and reports
    /// it as [`Corruption::TailIndex`].
    ///
    /// # Errors
    /// [`ClaimError::Taken`] while another producer holds the role.
    pub fn producer(&self) -> Result<Producer<'a>, ClaimError> {
        self.claim_producer(None)
    }

    /// Like [`producer`](Self::producer), on a ring whose consumer sleeps on an eventfd
    /// ([`Wakeups::Eventfd`]): the producer rings `consumer` when it publishes to a sleeping
    /// consumer.
    ///
    /// # Errors
    /// As [`producer`](Self::producer); [`ClaimError::Doorbell`] when the consumer does not
    /// sleep on an eventfd (and [`producer`](Self::producer) alone, without a doorbell, when
    /// it does).
    pub fn producer_with_doorbell(
        &self,
        consumer: Doorbell<'a>,
    ) -> Result<Producer<'a>, ClaimError> {
        self.claim_producer(Some(consumer))
    }

    pub(crate) fn claim_producer(
        &self,
        doorbell: Option<Doorbell<'a>>,
    ) -> Result<Producer<'a>, ClaimError> {
        let peer = self.peer_wake(Side::Consumer, doorbell, Role::Producer)?;
        let claim = Claim::take(&self.control().producer_claim, Role::Producer)?;
        Ok(self.producer_with(claim, peer))
    }

    /// Claims the producing side from a holder that `holder` proves dead (see [`crate::role`]).
    ///
    /// The new producer goes on after the last record the dead one published, even if it died
    /// before publishing its head; records it reserved or deferred and never published are
    /// lost.
    ///
    /// # Errors
    /// [`ClaimError::HolderAlive`] when `holder` says the holder lives; [`ClaimError::Taken`]
    /// when another claim got there first; [`ClaimError::Doorbell`] when the consumer sleeps on
    /// an eventfd (take over with [`take_over_producer_with_doorbell`](Self::take_over_producer_with_doorbell)).
    ///
    /// ```
    /// use ipc_core::{role::{ClaimError, Role}, spsc::Spsc, wait::{AssumeAlive, Liveness}, Region};
    /// struct Dead;
    /// impl Liveness for Dead {
    ///     fn peer_alive(&self) -> bool { false }
    /// }
    /// let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
    /// let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
    /// let mut first = ring.producer().unwrap();
    /// first.push(b"before").unwrap();
    /// std::mem::forget(first); // its holder "died" without releasing the role
    /// assert_eq!(ring.producer().unwrap_err(), ClaimError::Taken(Role::Producer));
    /// assert_eq!(ring.take_over_producer(&AssumeAlive).unwrap_err(), ClaimError::HolderAlive(Role::Producer));
    /// let mut next = ring.take_over_producer(&Dead).unwrap();
    /// next.push(b"after").unwrap();
    /// let mut consumer = ring.consumer().unwrap();
    /// assert_eq!(&*consumer.read().unwrap().unwrap(), b"before");
    /// ```
    pub fn take_over_producer(&self, holder: &dyn Liveness) -> Result<Producer<'a>, ClaimError> {
        self.take_over_producer_ringing(holder, None)
    }

    /// [`take_over_producer`](Self::take_over_producer) on a ring whose consumer sleeps on an
    /// eventfd, which the new producer rings through `consumer`.
    ///
    /// # Errors
    /// As [`take_over_producer`](Self::take_over_producer), and [`ClaimError::Doorbell`] when
    /// the consumer does not sleep on an eventfd.
    pub fn take_over_producer_with_doorbell(
        &self,
        holder: &dyn Liveness,
        consumer: Doorbell<'a>,
    ) -> Result<Producer<'a>, ClaimError> {
        self.take_over_producer_ringing(holder, Some(consumer))
    }

    pub(crate) fn take_over_producer_ringing(
        &self,
        holder: &dyn Liveness,
        doorbell: Option<Doorbell<'a>>,
    ) -> Result<Producer<'a>, ClaimError> {
        let peer = self.peer_wake(Side::Consumer, doorbell, Role::Producer)?;
        let claim = Claim::take_over(&self.control().producer_claim, Role::Producer, holder)?;
        Ok(self.producer_with(claim, peer))
    }

    /// How a side claiming `role` wakes its peer (`peer`), given the doorbell it was handed.
    fn peer_wake(
        &self,
        peer: Side,
        doorbell: Option<Doorbell<'a>>,
        role: Role,
    ) -> Result<PeerWake<'a>, ClaimError> {
        let needed = self.wakeups.sleeps_on_eventfd(peer);
        match (self.wakeups, needed, doorbell) {
            (Wakeups::SpinOnly, _, None) => Ok(PeerWake::Unwatched),
            (_, true, Some(doorbell)) => Ok(PeerWake::Doorbell(doorbell)),
            (_, false, None) => Ok(PeerWake::Futex),
            _ => Err(ClaimError::Doorbell { role, needed }),
        }
    }

    fn producer_with(&self, claim: Claim<'a>, peer: PeerWake<'a>) -> Producer<'a> {
        let control = self.control();
        let capacity = self.capacity() as u32;
        let tail = wake::position(&control.tail);
        let head = self.last_published_end(wake::position(&control.head), tail);
        let cached_tail = if wake::distance(tail, head) <= capacity {
            tail
        } else {
            head.wrapping_sub(capacity) & wake::POSITION
        };
        Producer {
            control,
            data: self.data(),
            capacity,
            head,
            published: head,
            cached_tail,
            corrupt: None,
            wakeups: self.wakeups,
            spins: SpinHistory::new(),
            peer,
            _claim: claim,
            _region: PhantomData,
        }
    }

    /// The end of the records published from `head` on: a producer publishes its tags before
    /// its head, so one that died in between leaves records the consumer may already read.
    /// The walk reads only validated lengths, never goes more than a capacity past `tail`, and
    /// stops at the first record that is not published.
    fn last_published_end(&self, mut head: u32, tail: u32) -> u32 {
        let (data, capacity) = (self.data(), self.capacity() as u32);
        let max_len = capacity / 2 - RECORD_HEADER as u32;
        if wake::distance(tail, head) > capacity {
            return head;
        }
        while published_at(data, capacity, head) {
            let offset = wake::offset_in(head, capacity);
            // SAFETY: offset < capacity and 8-aligned, so the record header fits.
            let len = unsafe { data.length(offset) }.load(core::sync::atomic::Ordering::Relaxed);
            let advance = match len {
                WRAP_MARKER if offset != 0 => capacity - offset,
                len if len <= max_len && offset + record_len(len as usize) as u32 <= capacity => {
                    record_len(len as usize) as u32
                }
                _ => break,
            };
            let next = head.wrapping_add(advance) & wake::POSITION;
            if wake::distance(tail, next) > capacity {
                break;
            }
            head = next;
        }
        head
    }

    /// Claims the consuming side: an error if it is held already, here or in another process,
    /// until the holder drops it (or is [taken over](Self::take_over_consumer)).
    ///
    /// # Errors
    /// [`ClaimError::Taken`] while another consumer holds the role.
    pub fn consumer(&self) -> Result<Consumer<'a>, ClaimError> {
        self.claim_consumer(None)
    }

    /// Like [`consumer`](Self::consumer), on a ring whose producer sleeps on an eventfd
    /// ([`Wakeups::Eventfd`]): the consumer rings `producer` when it releases room to a
    /// sleeping producer.
    ///
    /// # Errors
    /// As [`consumer`](Self::consumer); [`ClaimError::Doorbell`] when the producer does not
    /// sleep on an eventfd.
    pub fn consumer_with_doorbell(
        &self,
        producer: Doorbell<'a>,
    ) -> Result<Consumer<'a>, ClaimError> {
        self.claim_consumer(Some(producer))
    }

    pub(crate) fn claim_consumer(
        &self,
        doorbell: Option<Doorbell<'a>>,
    ) -> Result<Consumer<'a>, ClaimError> {
        let peer = self.peer_wake(Side::Producer, doorbell, Role::Consumer)?;
        let claim = Claim::take(&self.control().consumer_claim, Role::Consumer)?;
        Ok(self.consumer_with(claim, peer))
    }

    /// Claims the consuming side from a holder that `holder` proves dead (see [`crate::role`]).
    /// It starts at the last position the dead consumer released: messages it read but had not
    /// yet released are read again.
    ///
    /// # Errors
    /// [`ClaimError::HolderAlive`] when `holder` says the holder lives; [`ClaimError::Taken`]
    /// when another claim got there first; [`ClaimError::Doorbell`] when the producer sleeps on
    /// an eventfd (take over with [`take_over_consumer_with_doorbell`](Self::take_over_consumer_with_doorbell)).
    pub fn take_over_consumer(&self, holder: &dyn Liveness) -> Result<Consumer<'a>, ClaimError> {
        self.take_over_consumer_ringing(holder, None)
    }

    /// [`take_over_consumer`](Self::take_over_consumer) on a ring whose producer sleeps on an
    /// eventfd, which the new consumer rings through `producer`.
    ///
    /// # Errors
    /// As [`take_over_consumer`](Self::take_over_consumer), and [`ClaimError::Doorbell`] when
    /// the producer does not sleep on an eventfd.
    pub fn take_over_consumer_with_doorbell(
        &self,
        holder: &dyn Liveness,
        producer: Doorbell<'a>,
    ) -> Result<Consumer<'a>, ClaimError> {
        self.take_over_consumer_ringing(holder, Some(producer))
    }

    pub(crate) fn take_over_consumer_ringing(
        &self,
        holder: &dyn Liveness,
        doorbell: Option<Doorbell<'a>>,
    ) -> Result<Consumer<'a>, ClaimError> {
        let peer = self.peer_wake(Side::Producer, doorbell, Role::Consumer)?;
        let claim = Claim::take_over(&self.control().consumer_claim, Role::Consumer, holder)?;
        Ok(self.consumer_with(claim, peer))
    }

    fn consumer_with(&self, claim: Claim<'a>, peer: PeerWake<'a>) -> Consumer<'a> {
        let control = self.control();
        let tail = wake::position(&control.tail);
        Consumer {
            control,
            data: self.data(),
            capacity: self.capacity() as u32,
            tail,
            published: tail,
            wakeups: self.wakeups,
            spins: SpinHistory::new(),
            peer,
            claim,
            _region: PhantomData,
        }
    }

    /// The first role held in this ring now, if any.
    pub(crate) fn held_role(&self) -> Option<Role> {
        let control = self.control();
        if control.producer_claim.is_held() {
            Some(Role::Producer)
        } else if control.consumer_claim.is_held() {
            Some(Role::Consumer)
        } else {
            None
        }
    }

    fn control(&self) -> &'a Control {
        // SAFETY: the geometry was validated: the control block lies inside the region and is
        // 4-aligned; Control is atomics and padding bytes, valid for any bits.
        unsafe { self.region.block(self.geometry.control_offset) }
    }

    fn data(&self) -> Data {
        // SAFETY: data_offset + capacity (and any shadow after it) <= region.len() (validated
        // at init or attach).
        unsafe {
            Data::new(
                self.region.base().add(self.geometry.data_offset),
                self.geometry.capacity,
            )
        }
    }
}

/// Rounds a payload length up to the 8-byte record alignment, with its header.
#[inline]
fn record_len(len: usize) -> usize {
    RECORD_HEADER + len.next_multiple_of(8)
}

/// The tag that publishes the record at `position`.
#[inline]
fn tag_for(position: u32) -> u32 {
    position.wrapping_add(1) & wake::POSITION
}

/// True when the record at `position` is published.
#[inline]
fn published_at(data: Data, capacity: u32, position: u32) -> bool {
    // SAFETY: the offset is below capacity and 8-aligned (positions of records are).
    let tag = unsafe { data.tag(wake::offset_in(position, capacity)) };
    tag.load(core::sync::atomic::Ordering::Acquire) == tag_for(position)
}

/// Asks the CPU to fetch the two cache lines after the record at `position` while a consumer
/// polls its tag, so that when the record lands its payload arrives with the tag instead of one
/// cache miss later (measured: shm-spin 128 B round trips 12% faster). A hint, not an access.
#[inline]
fn prefetch_payload(data: Data, capacity: u32, position: u32) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let offset = wake::offset_in(position, capacity) as usize;
        for line in [64, 128] {
            if offset + line < capacity as usize {
                // SAFETY: a prefetch neither reads nor writes memory as far as the program can
                // tell; the address is inside the data area anyway.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(
                        data.as_ptr().add(offset + line).cast_const().cast(),
                    )
                };
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, capacity, position);
}

/// How a side wakes its peer when it publishes, fixed when the side is claimed.
#[derive(Clone, Copy, Debug)]
enum PeerWake<'a> {
    /// The peer never sleeps (a spin-only ring): a plain store.
    Unwatched,
    /// The peer sleeps on the futex of the index word.
    Futex,
    /// The peer sleeps on an eventfd.
    Doorbell(Doorbell<'a>),
}

/// Publishes a side's index, waking a peer that sleeps on it: the peer re-checks the index
/// after announcing itself, so either it sees this position or the swap sees its announcement.
#[inline]
fn publish(word: &AtomicU32, position: u32, peer: PeerWake<'_>) {
    match peer {
        PeerWake::Futex => {
            if wake::publish(word, position) {
                wait::wake_one(word);
            }
        }
        PeerWake::Doorbell(doorbell) => {
            if wake::publish(word, position) {
                doorbell.ring();
            }
        }
        PeerWake::Unwatched => wake::publish_unwatched(word, position),
    }
}

/// The producing side of a ring.
#[derive(Debug)]
pub struct Producer<'a> {
    control: &'a Control,
    data: Data,
    capacity: u32,
    /// Where the next record goes (includes deferred, unpublished records).
    head: u32,
    /// The head the consumer can see.
    published: u32,
    cached_tail: u32,
    /// Corruption found while publishing deferred records: returned by the next reserve.
    corrupt: Option<Corruption>,
    wakeups: Wakeups,
    /// What this side's waits for room learned of spinning.
    spins: SpinHistory,
    /// How publishing wakes the consumer.
    peer: PeerWake<'a>,
    /// Held until this producer is dropped.
    _claim: Claim<'a>,
    _region: PhantomData<&'a mut [u8]>,
}

// SAFETY: a Producer only touches shared memory through atomics and through the part of the
// data area the protocol gives it; it may move to another thread.
unsafe impl Send for Producer<'_> {}

impl<'a> Producer<'a> {
    /// True when records were committed (deferred) and not yet published by a flush.
    pub(crate) fn has_deferred(&self) -> bool {
        self.published != self.head
    }

    /// Reserves room for a `len`-byte message and returns a grant to write it in place.
    ///
    /// # Errors
    /// [`ReserveError::TooLarge`] for a message over [`Spsc::max_message_len`];
    /// [`ReserveError::Full`] while the consumer has not released enough;
    /// [`ReserveError::Corrupt`] when the consumer's index is impossible, or for a corruption
    /// an earlier [`flush`](Self::flush) found.
    ///
    /// ```
    /// use ipc_core::{spsc::{ReserveError, Spsc}, Region};
    /// let mut memory = vec![0u64; Spsc::required_len(64) / 8];
    /// let ring = Spsc::init(Region::from_slice(&mut memory), 64).unwrap();
    /// let mut producer = ring.producer().unwrap();
    /// let mut grant = producer.reserve(16).unwrap();
    /// grant.copy_from_slice(&[7; 16]); // written in place, in the shared memory
    /// grant.commit();
    /// producer.push(&[8; 16]).unwrap();
    /// // Two 24-byte records fill the 64-byte area (less the wrap room): the next waits for the consumer.
    /// assert!(matches!(producer.reserve(16), Err(ReserveError::Full)));
    /// let mut consumer = ring.consumer().unwrap();
    /// assert_eq!(&*consumer.read().unwrap().unwrap(), &[7; 16]);
    /// ```
    #[inline]
    pub fn reserve(&mut self, len: usize) -> Result<WriteGrant<'_, 'a>, ReserveError> {
        let padding = self.space_for(len)?;
        Ok(WriteGrant::new(self, padding, len as u32))
    }

    /// Like [`reserve`](Self::reserve), but waits for room as `how` says.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve), but never `Full`: [`ReserveError::Wait`] when the wait
    /// gives up, or asks to sleep on a spin-only ring.
    pub fn reserve_blocking(
        &mut self,
        len: usize,
        how: &Wait<'_>,
    ) -> Result<WriteGrant<'_, 'a>, ReserveError> {
        self.wakeups
            .check(Side::Producer, how.strategy)
            .map_err(ReserveError::Wait)?;
        loop {
            match self.space_for(len) {
                Ok(padding) => return Ok(WriteGrant::new(self, padding, len as u32)),
                Err(ReserveError::Full) => {}
                Err(other) => return Err(other),
            }
            let consumer = self.control.consumer_claim.holder();
            wait::until_moved(
                &self.control.tail,
                self.cached_tail,
                how,
                &consumer,
                &mut self.spins,
            )
            .map_err(ReserveError::Wait)?;
        }
    }

    /// The process recorded as this ring's consumer, watched as a liveness hook.
    pub fn consumer_record(&self) -> RecordedHolder<'a> {
        self.control.consumer_claim.holder()
    }

    /// The ring's wake-up mode, as this side saw it when it was claimed.
    pub fn wakeups(&self) -> Wakeups {
        self.wakeups
    }

    /// True when a `len`-byte message fits now: [`reserve`](Self::reserve) then succeeds.
    /// For waiters that cannot hold a grant across a check (async adapters).
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve), but never `Full`.
    pub fn has_room_for(&mut self, len: usize) -> Result<bool, ReserveError> {
        match self.space_for(len) {
            Ok(_) => Ok(true),
            Err(ReserveError::Full) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// For a producer that sleeps on an eventfd ([`Wakeups::Eventfd`]; an async adapter):
    /// publishes what is deferred, then announces that it will sleep until the consumer
    /// releases room for a `len`-byte message. `Ok(true)`: announced; sleep until the eventfd
    /// is readable, then check again. `Ok(false)`: the room is there already; do not sleep. A
    /// wait that ends without sleeping calls [`withdraw_sleep`](Self::withdraw_sleep).
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve), but never `Full`.
    pub fn announce_sleep(&mut self, len: usize) -> Result<bool, ReserveError> {
        Ok(self.announce_on_tail(len)?.is_some())
    }

    /// For a producer that sleeps on the consumer's futex word by other means than ipc-core's
    /// own wait (io_uring's `IORING_OP_FUTEX_WAIT`), on a ring whose producer sleeps on the
    /// futex: as [`Consumer::announce_futex_sleep`], waiting for room for a `len`-byte message.
    ///
    /// # Errors
    /// As [`announce_sleep`](Self::announce_sleep), and the wait errors of
    /// [`Consumer::announce_futex_sleep`] (in [`ReserveError::Wait`]).
    pub fn announce_futex_sleep(&mut self, len: usize) -> Result<Option<FutexSleep>, ReserveError> {
        self.wakeups()
            .check_futex_sleeper(Side::Producer)
            .map_err(ReserveError::Wait)?;
        let value = self.announce_on_tail(len)?;
        Ok(value.map(|value| FutexSleep::on(&self.control.tail, value)))
    }

    /// Announces a sleep on the tail word until there is room for `len` bytes: the value to
    /// sleep on, `None` when the room is there (or came meanwhile).
    fn announce_on_tail(&mut self, len: usize) -> Result<Option<u32>, ReserveError> {
        // A corruption found here is kept and returned by the check below.
        let _ = self.flush();
        if self.has_room_for(len)? {
            return Ok(None);
        }
        // has_room_for just read the tail: the announcement fails if it moved since.
        Ok(wake::announce(&self.control.tail, self.cached_tail))
    }

    /// Withdraws an [announced](Self::announce_sleep) sleep (a cancelled wait), so the consumer
    /// does not ring for nobody.
    pub fn withdraw_sleep(&mut self) {
        wake::withdraw(&self.control.tail);
    }

    /// Checks there is room for a `len`-byte record now; returns the wrap padding it needs.
    #[inline]
    fn space_for(&mut self, len: usize) -> Result<u32, ReserveError> {
        if let Some(corruption) = self.corrupt {
            return Err(ReserveError::Corrupt(corruption));
        }
        let max = self.capacity as usize / 2 - RECORD_HEADER;
        if len > max {
            return Err(ReserveError::TooLarge { len, max });
        }
        let record = record_len(len) as u32;
        let offset = wake::offset_in(self.head, self.capacity);
        let padding = if record > self.capacity - offset || self.rewinds(record, offset)? {
            self.capacity - offset
        } else {
            0
        };
        let needed = padding + record;
        if self.free() < needed {
            self.refresh_tail()?;
            if self.free() < needed {
                return Err(ReserveError::Full);
            }
        }
        Ok(padding)
    }

    /// Copies `message` into the ring and publishes it.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    #[inline]
    pub fn push(&mut self, message: &[u8]) -> Result<(), ReserveError> {
        let mut grant = self.reserve(message.len())?;
        crate::copy::copy_bytes(&mut grant, message);
        grant.commit();
        Ok(())
    }

    /// Copies `message` into the ring, waiting for room as `how` says, and publishes it.
    ///
    /// # Errors
    /// As [`reserve_blocking`](Self::reserve_blocking).
    pub fn push_blocking(&mut self, message: &[u8], how: &Wait<'_>) -> Result<(), ReserveError> {
        let mut grant = self.reserve_blocking(message.len(), how)?;
        crate::copy::copy_bytes(&mut grant, message);
        grant.commit();
        Ok(())
    }

    /// Publishes every record committed with [`WriteGrant::commit_deferred`].
    ///
    /// It walks the length words of those records, which the peer can write too: the walk is
    /// bounded by the bytes this side committed, and a length that does not fit them stops it
    /// with [`Corruption::RecordLength`] (also returned by every later reserve). The head is
    /// published either way, so a consumer is never left waiting.
    ///
    /// # Errors
    /// [`Corruption::RecordLength`] when the peer rewrote a deferred record's length (every
    /// later reserve returns it too); the head is published all the same.
    ///
    /// ```
    /// use ipc_core::{spsc::Spsc, Region};
    /// let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
    /// let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
    /// let (mut producer, mut consumer) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// for byte in 1..=3u8 {
    ///     let mut grant = producer.reserve(1).unwrap();
    ///     grant[0] = byte;
    ///     grant.commit_deferred();
    /// }
    /// assert!(consumer.read().unwrap().is_none(), "deferred: not visible yet");
    /// producer.flush().unwrap(); // all three, with at most one wake-up
    /// let mut buffer = [0u8; 1];
    /// assert_eq!(consumer.pop(&mut buffer).unwrap(), Some(1));
    /// assert_eq!(buffer, [1]);
    /// ```
    #[inline]
    pub fn flush(&mut self) -> Result<(), Corruption> {
        if self.published == self.head {
            return self.corrupt.map_or(Ok(()), Err);
        }
        let max_len = self.capacity / 2 - RECORD_HEADER as u32;
        let mut position = self.published;
        // Bytes committed and not yet published: each step takes at least 8 of them.
        let mut left = wake::distance(self.published, self.head);
        while left != 0 {
            let offset = wake::offset_in(position, self.capacity);
            // SAFETY: offset < capacity and 8-aligned (positions move in steps of 8 from an
            // aligned start), so the record header's 8 bytes lie inside the data area.
            let len =
                unsafe { self.data.length(offset) }.load(core::sync::atomic::Ordering::Relaxed);
            let advance = match len {
                WRAP_MARKER if offset != 0 => self.capacity - offset,
                len if len <= max_len => record_len(len as usize) as u32,
                _ => 0,
            };
            if advance == 0 || advance > left {
                self.corrupt = Some(Corruption::RecordLength { position, len });
                break;
            }
            // SAFETY: the same record's tag word, next to its length word inside the data area.
            // Release: the payload written before is visible with the tag.
            unsafe { self.data.tag(offset) }
                .store(tag_for(position), core::sync::atomic::Ordering::Release);
            position = position.wrapping_add(advance) & wake::POSITION;
            left -= advance;
        }
        self.published = self.head;
        publish(&self.control.head, self.head, self.peer);
        self.corrupt.map_or(Ok(()), Err)
    }

    /// Makes sure the tag word at the head, where the next record will start, does not hold
    /// the tag the consumer will look for there: clears it when it does.
    ///
    /// Whatever an earlier lap left in that word (a payload word, an old tag) must not be taken
    /// for a record, and only the exact tag would be. The word is read first and written only
    /// then, which in practice is never: a store on every message would take the line from a
    /// consumer polling it before the record is there. Reading is enough because nobody else
    /// writes the word (the consumer writes no data), so what this read sees stays until this
    /// producer writes, and the consumer, which reads it only after this side's next release,
    /// sees that value or a later one. In a full ring the head's word is the header of the oldest
    /// unreleased record, whose tag is a capacity behind (or zero while deferred): it never
    /// matches, so the producer never writes into the consumer's space.
    #[inline]
    fn clear_next_tag(&self) {
        let offset = wake::offset_in(self.head, self.capacity);
        // SAFETY: offset < capacity and 8-aligned, so the tag word lies inside the data area.
        let tag = unsafe { self.data.tag(offset) };
        if tag.load(core::sync::atomic::Ordering::Relaxed) == tag_for(self.head) {
            tag.store(0, core::sync::atomic::Ordering::Relaxed);
        }
    }

    #[inline]
    fn free(&self) -> u32 {
        // The cached tail is validated (at creation and at every refresh): never more than a
        // capacity behind the head. Saturating all the same: no arithmetic on peer data wraps.
        self.capacity
            .saturating_sub(wake::distance(self.cached_tail, self.head))
    }

    /// True when a `record`-byte record at `offset` should go back to the start of the data
    /// area instead: it is large ([`REWIND_MIN_RECORD`]), the consumer has released everything,
    /// and two such records fit before `offset` (the padding holds its room until the consumer
    /// reads past it: the next record must still find room without waiting).
    ///
    /// A ring otherwise walks its whole data area whatever the traffic, and a data area sized
    /// for large messages outgrows the cache: a 1 MiB request-response over a 4 MiB ring then
    /// writes cold lines every time. Rewinding keeps one-at-a-time traffic on the same lines,
    /// as a pool allocator reusing its last buffer would. Small records never rewind: asking
    /// the consumer's index costs a cache miss that only a large copy hides.
    #[inline]
    fn rewinds(&mut self, record: u32, offset: u32) -> Result<bool, ReserveError> {
        if record < REWIND_MIN_RECORD || offset / 2 < record || self.published != self.head {
            return Ok(false);
        }
        if self.cached_tail != self.head {
            self.refresh_tail()?;
        }
        Ok(self.cached_tail == self.head)
    }

    fn refresh_tail(&mut self) -> Result<(), ReserveError> {
        let tail = wake::position(&self.control.tail);
        if wake::distance(tail, self.head) > self.capacity {
            return Err(ReserveError::Corrupt(Corruption::TailIndex {
                tail,
                head: self.head,
            }));
        }
        self.cached_tail = tail;
        Ok(())
    }
}

/// Released bytes a consumer keeps unpublished at most: a quarter of the ring. Under loom,
/// unbounded, so that the models exercise only the other two triggers (a waiting producer, an
/// empty ring), which are the ones correctness rests on.
const fn lazy_release_threshold(capacity: u32) -> u32 {
    if cfg!(loom) {
        u32::MAX
    } else {
        capacity / 4
    }
}

/// The consuming side of a ring.
#[derive(Debug)]
pub struct Consumer<'a> {
    control: &'a Control,
    data: Data,
    capacity: u32,
    /// Where the next record starts (past any wrap marker already skipped).
    tail: u32,
    /// The tail the producer can see. Releases are published lazily: when a quarter of the ring
    /// is pending, when the producer waits for room, or when this consumer finds the ring
    /// empty, so that the common case costs no read-modify-write of a shared line.
    published: u32,
    wakeups: Wakeups,
    /// What this side's waits for messages learned of spinning.
    spins: SpinHistory,
    /// How releasing wakes the producer.
    peer: PeerWake<'a>,
    /// Held until this consumer is dropped (after its releases are published).
    claim: Claim<'a>,
    _region: PhantomData<&'a [u8]>,
}

// SAFETY: a consumer holds only its own cursor and the region's address; it touches the shared
// bytes through atomics and copies that follow the ring's protocol, from whichever thread owns it.
unsafe impl Send for Consumer<'_> {}

impl Drop for Consumer<'_> {
    fn drop(&mut self) {
        // Space released but not yet published goes back to the producer (not from a copy
        // inherited across fork: the ring is its parent's).
        if self.claim.held_here() {
            self.flush();
        }
    }
}

impl<'a> Consumer<'a> {
    /// The next message, if one is published, as a grant to read it in place.
    ///
    /// # Errors
    /// [`ReadError::Corrupt`] for a record length, wrap marker or index the producer could not
    /// have written.
    #[inline]
    pub fn read(&mut self) -> Result<Option<ReadGrant<'_, 'a>>, ReadError> {
        match self.next_record()? {
            Some((offset, len)) => Ok(Some(ReadGrant::new(self, offset, len))),
            None => Ok(None),
        }
    }

    /// Like [`read`](Self::read), but waits for a message as `how` says.
    ///
    /// # Errors
    /// As [`read`](Self::read), and [`ReadError::Wait`] when the wait gives up, or asks to
    /// sleep on a spin-only ring.
    pub fn read_blocking(&mut self, how: &Wait<'_>) -> Result<ReadGrant<'_, 'a>, ReadError> {
        self.wakeups
            .check(Side::Consumer, how.strategy)
            .map_err(ReadError::Wait)?;
        loop {
            if let Some((offset, len)) = self.next_record()? {
                return Ok(ReadGrant::new(self, offset, len));
            }
            let (data, capacity, tail) = (self.data, self.capacity, self.tail);
            let ready = || {
                prefetch_payload(data, capacity, tail);
                published_at(data, capacity, tail)
            };
            // Spinning polls the record's tag alone, so the head's cache line stays with the
            // producer (reading it on every wait costs the producer a line transfer per
            // message).
            if wait::spin(&ready, how, &mut self.spins) {
                continue;
            }
            // The head may lag behind records already read through their tags (the producer
            // writes tags first, then its head), so the waiter sleeps on the head value it
            // sees, and checks for a record only after reading it (acquire): a record published
            // with that head is then visible.
            let head = wake::position(&self.control.head);
            if ready() {
                continue;
            }
            self.check_head_to_sleep_on(head)?;
            let producer = self.control.producer_claim.holder();
            wait::until_after_spin(&self.control.head, head, &ready, how, &producer)
                .map_err(ReadError::Wait)?;
        }
    }

    /// The ring's wake-up mode, as this side saw it when it was claimed.
    pub fn wakeups(&self) -> Wakeups {
        self.wakeups
    }

    /// True when a message is there: [`read`](Self::read) then returns it. For waiters that
    /// cannot hold a grant across a check (async adapters). Finding none publishes pending
    /// releases, as [`read`](Self::read) does.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn has_message_ready(&mut self) -> Result<bool, ReadError> {
        Ok(self.next_record()?.is_some())
    }

    /// For a consumer that sleeps on an eventfd ([`Wakeups::Eventfd`]; an async adapter):
    /// announces that it will sleep until the producer publishes. `Ok(true)`: announced; sleep
    /// until the eventfd is readable, then read again. `Ok(false)`: a message is there
    /// already; do not sleep. A wait that ends without sleeping calls
    /// [`withdraw_sleep`](Self::withdraw_sleep).
    ///
    /// # Errors
    /// As [`read`](Self::read), and a head index the producer could not have written.
    pub fn announce_sleep(&mut self) -> Result<bool, ReadError> {
        Ok(self.announce_on_head()?.is_some())
    }

    /// For a consumer that sleeps on the producer's futex word by other means than ipc-core's
    /// own wait (io_uring's `IORING_OP_FUTEX_WAIT`, `futex_waitv` over several rings), on a
    /// ring whose consumer sleeps on the futex ([`Wakeups::Futex`]): announces the sleep and
    /// returns where to sleep. `Ok(Some(sleep))`: wait until [`FutexSleep::word`] no longer
    /// holds [`FutexSleep::value`] (or a wake), then read again. `Ok(None)`: a message is there
    /// already; do not sleep. A wait that ends without sleeping calls
    /// [`withdraw_sleep`](Self::withdraw_sleep). The producer wakes the word with a plain
    /// `FUTEX_WAKE`, shared (not private), as it wakes any sleeper: the protocol is unchanged.
    ///
    /// # Errors
    /// As [`announce_sleep`](Self::announce_sleep), and [`WaitError::SleepDisabled`] or
    /// [`WaitError::SleepsOnEventfd`] (in [`ReadError::Wait`]) on a ring whose producer would
    /// not wake a futex sleeper.
    ///
    /// [`WaitError::SleepDisabled`]: crate::wait::WaitError::SleepDisabled
    /// [`WaitError::SleepsOnEventfd`]: crate::wait::WaitError::SleepsOnEventfd
    pub fn announce_futex_sleep(&mut self) -> Result<Option<FutexSleep>, ReadError> {
        self.wakeups()
            .check_futex_sleeper(Side::Consumer)
            .map_err(ReadError::Wait)?;
        let value = self.announce_on_head()?;
        Ok(value.map(|value| FutexSleep::on(&self.control.head, value)))
    }

    /// Announces a sleep on the head word: the value to sleep on, `None` when a message is
    /// there (or came meanwhile).
    fn announce_on_head(&mut self) -> Result<Option<u32>, ReadError> {
        if self.has_message_ready()? {
            return Ok(None);
        }
        // As in read_blocking: the waiter sleeps on the head it read, and looks for a record
        // only after reading it, so a record published with that head is seen.
        let head = wake::position(&self.control.head);
        if self.has_message_ready()? {
            return Ok(None);
        }
        self.check_head_to_sleep_on(head)?;
        Ok(wake::announce(&self.control.head, head))
    }

    /// Checks the head a waiter is about to sleep on, read before it found no record at its
    /// position: any head but that position is a producer that published past records it never
    /// wrote, or an index out of range.
    fn check_head_to_sleep_on(&self, head: u32) -> Result<(), ReadError> {
        let (capacity, tail) = (self.capacity, self.tail);
        let ahead = wake::distance(tail, head);
        if ahead != 0 && ahead <= capacity {
            return Err(ReadError::Corrupt(Corruption::Unpublished { head, tail }));
        }
        if ahead != 0 && wake::distance(head, tail) > capacity {
            return Err(ReadError::Corrupt(Corruption::HeadIndex { head, tail }));
        }
        Ok(())
    }

    /// Withdraws an [announced](Self::announce_sleep) sleep (a cancelled wait), so the
    /// producer does not ring for nobody.
    pub fn withdraw_sleep(&mut self) {
        wake::withdraw(&self.control.head);
    }

    /// The process recorded as this ring's producer, watched as a liveness hook.
    pub fn producer_record(&self) -> RecordedHolder<'a> {
        self.control.producer_claim.holder()
    }

    /// True when a record (or a wrap marker) is published at this consumer's position: a cheap
    /// check that reads no index word.
    #[inline]
    pub fn has_message(&self) -> bool {
        published_at(self.data, self.capacity, self.tail)
    }

    /// Moves past a published wrap marker and says whether a whole message is ready.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn poll_next(&mut self) -> Result<bool, ReadError> {
        Ok(self.next_record()?.is_some())
    }

    /// This consumer's position in the ring.
    pub fn position(&self) -> u32 {
        self.tail
    }

    /// Copies the next message into `buffer` and releases it; returns its length.
    ///
    /// # Errors
    /// As [`read`](Self::read), and [`ReadError::BufferTooSmall`] (with the message's length)
    /// for a message longer than `buffer`, which stays in the ring untouched.
    ///
    /// ```
    /// use ipc_core::{spsc::Spsc, Region};
    /// let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
    /// let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
    /// let (mut producer, mut consumer) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// let mut buffer = [0u8; 8];
    /// assert_eq!(consumer.pop(&mut buffer).unwrap(), None);
    /// producer.push(b"copy me").unwrap();
    /// assert_eq!(consumer.pop(&mut buffer).unwrap(), Some(7));
    /// assert_eq!(&buffer[..7], b"copy me");
    /// ```
    #[inline]
    pub fn pop(&mut self, buffer: &mut [u8]) -> Result<Option<usize>, ReadError> {
        match self.read()? {
            Some(grant) => grant.copy_into(buffer).map(Some),
            None => Ok(None),
        }
    }

    /// Copies the next message into `buffer`, waiting as `how` says; returns its length.
    ///
    /// # Errors
    /// As [`read_blocking`](Self::read_blocking), and [`ReadError::BufferTooSmall`] as
    /// [`pop`](Self::pop).
    pub fn pop_blocking(&mut self, buffer: &mut [u8], how: &Wait<'_>) -> Result<usize, ReadError> {
        self.read_blocking(how)?.copy_into(buffer)
    }

    /// Offset and length of the next record's payload, skipping a wrap marker; validates all.
    #[inline]
    fn next_record(&mut self) -> Result<Option<(u32, u32)>, ReadError> {
        loop {
            if !published_at(self.data, self.capacity, self.tail) {
                // Nothing to read: make every release visible before the caller waits or
                // goes away, so that a producer waiting for room is never stranded.
                self.flush();
                return Ok(None);
            }
            let offset = wake::offset_in(self.tail, self.capacity);
            // SAFETY: offset < capacity, 8-aligned (records are), so the header's 8 bytes fit.
            let len =
                unsafe { self.data.length(offset) }.load(core::sync::atomic::Ordering::Relaxed);
            let corrupt = ReadError::Corrupt(Corruption::RecordLength {
                position: self.tail,
                len,
            });
            if len == WRAP_MARKER {
                if offset == 0 {
                    return Err(corrupt);
                }
                self.tail = self.tail.wrapping_add(self.capacity - offset) & wake::POSITION;
                continue;
            }
            if len as usize > self.capacity as usize / 2 - RECORD_HEADER {
                return Err(corrupt);
            }
            let record = record_len(len as usize) as u32;
            if offset + record > self.capacity {
                return Err(corrupt);
            }
            return Ok(Some((offset + RECORD_HEADER as u32, len)));
        }
    }

    #[inline]
    fn release_to(&mut self, position: u32) {
        self.tail = position & wake::POSITION;
        if wake::distance(self.published, self.tail) >= lazy_release_threshold(self.capacity)
            || wake::has_waiter(&self.control.tail)
        {
            self.flush();
        }
    }

    /// Makes every release so far visible to the producer now (and wakes it if it waits).
    /// Releases are otherwise published lazily; see the type's documentation.
    #[inline]
    ///
    /// ```
    /// use ipc_core::{spsc::{ReserveError, Spsc}, Region};
    /// let mut memory = vec![0u64; Spsc::required_len(256) / 8];
    /// let ring = Spsc::init(Region::from_slice(&mut memory), 256).unwrap();
    /// let (mut producer, mut consumer) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// while producer.push(&[1; 8]).is_ok() {}
    /// consumer.read().unwrap().unwrap().release(); // released, not yet published
    /// assert!(matches!(producer.push(&[2; 8]), Err(ReserveError::Full)));
    /// consumer.flush();
    /// producer.push(&[2; 8]).unwrap();
    /// ```
    pub fn flush(&mut self) {
        if self.published != self.tail {
            self.published = self.tail;
            publish(&self.control.tail, self.tail, self.peer);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
