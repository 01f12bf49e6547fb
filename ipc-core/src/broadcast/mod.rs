//! Broadcast: one producer, up to [`MAX_SUBSCRIBERS`] subscribers, each with its own cursor.
//!
//! Every subscriber sees every message, in order, unless it falls a whole ring behind. What
//! happens then is the region's [`Mode`]: with [`Mode::Backpressure`] the producer waits for the
//! slowest subscriber; with [`Mode::Lossy`] the producer overwrites the oldest messages and a
//! lagging subscriber skips to the oldest one still there and is told how many it lost.
//!
//! Records are `[len: u32][tag: u32][sequence: u32][reserved: u32][payload][padding to 8]`; the
//! tag (`position + 1`) publishes a record as in the SPSC ring. In lossy mode the producer first
//! invalidates the tags of the records it is about to overwrite and publishes the new `oldest`
//! position (release), and only then writes; a subscriber copies a record out and checks its tag
//! again afterwards (a seqlock), so it never returns a torn message. Hence subscribers copy:
//! there are no zero-copy read grants here.

use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32 as RegionU32, Ordering as RegionOrdering};

use crate::header::{self, Geometry, LayoutRequest};
use crate::role::{Claim, ClaimError, Role};
use crate::spsc::{Corruption, ReadError, ReserveError};
use crate::sync::{AtomicU32, Ordering, PaddedWord};
use crate::wait::{self, Liveness, Wait};
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
    oldest: PaddedWord,
    /// Mode in bits 0..8, subscriber count in bits 8..16.
    meta: PaddedWord,
    cursors: [PaddedWord; MAX_SUBSCRIBERS],
    /// The sequence number of the next message, for a producer that takes over.
    next_sequence: PaddedWord,
    /// [Role claims](crate::role): the producer's, then one per subscriber slot.
    producer_claim: AtomicU32,
    subscriber_claims: [AtomicU32; MAX_SUBSCRIBERS],
}

impl Default for Control {
    fn default() -> Self {
        Self {
            head: PaddedWord::default(),
            oldest: PaddedWord::default(),
            meta: PaddedWord::default(),
            cursors: core::array::from_fn(|_| PaddedWord::default()),
            next_sequence: PaddedWord::default(),
            producer_claim: AtomicU32::new(0),
            subscriber_claims: core::array::from_fn(|_| AtomicU32::new(0)),
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
}

/// What [`Subscriber::pop`] received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// The message's length (it was copied only as far as the buffer reached).
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
        if subscribers == 0 || subscribers > MAX_SUBSCRIBERS {
            return Err(LayoutError::OutOfRange {
                field: "subscribers",
                value: subscribers as u64,
            });
        }
        if !(4 * RECORD_HEADER..=crate::spsc::MAX_CAPACITY).contains(&capacity) {
            return Err(LayoutError::CapacityNotPowerOfTwo {
                capacity: capacity as u64,
            });
        }
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
        };
        let meta = mode as u32 | (subscribers as u32) << 8;
        broadcast.control().meta.store(meta, Ordering::Release);
        Ok(broadcast)
    }

    /// Validates a broadcast region another process laid out.
    ///
    /// # Errors
    /// A [`LayoutError`] naming the first field that is wrong for this region: a header field
    /// (see [`header::attach`]), the mode or the subscriber count.
    pub fn attach(region: Region<'a>) -> Result<Self, LayoutError> {
        let geometry = header::attach(region, KIND, core::mem::size_of::<Control>())?;
        if !(4 * RECORD_HEADER..=crate::spsc::MAX_CAPACITY).contains(&geometry.capacity) {
            return Err(LayoutError::CapacityNotPowerOfTwo {
                capacity: geometry.capacity as u64,
            });
        }
        let mut broadcast = Self {
            region,
            geometry,
            mode: Mode::Backpressure,
            subscribers: 0,
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
        if broadcast.subscribers == 0 || broadcast.subscribers > MAX_SUBSCRIBERS {
            return Err(LayoutError::OutOfRange {
                field: "subscribers",
                value: broadcast.subscribers as u64,
            });
        }
        Ok(broadcast)
    }

    /// The region's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The longest message it takes.
    pub fn max_message_len(&self) -> usize {
        self.geometry.capacity / 2 - RECORD_HEADER
    }

    /// Claims the producer: an error if it is held already, here or in another process (see
    /// [`crate::role`]).
    ///
    /// # Errors
    /// [`ClaimError::Taken`] while another producer holds the role.
    pub fn producer(&self) -> Result<BroadcastProducer<'a>, ClaimError> {
        let claim = Claim::take(&self.control().producer_claim, Role::Producer)?;
        Ok(self.producer_with(claim))
    }

    /// Claims the producer from a holder that `holder` proves dead. It goes on after the last
    /// record the dead one published, with the sequence numbers it would have used.
    ///
    /// # Errors
    /// [`ClaimError::HolderAlive`] when `holder` says the holder lives; [`ClaimError::Taken`]
    /// when another claim got there first.
    pub fn take_over_producer(
        &self,
        holder: &dyn Liveness,
    ) -> Result<BroadcastProducer<'a>, ClaimError> {
        let claim = Claim::take_over(&self.control().producer_claim, Role::Producer, holder)?;
        Ok(self.producer_with(claim))
    }

    fn producer_with(&self, claim: Claim<'a>) -> BroadcastProducer<'a> {
        let control = self.control();
        let head = self.last_published_end(wake::position(&control.head));
        BroadcastProducer {
            control,
            data: self.data(),
            capacity: self.geometry.capacity as u32,
            mode: self.mode,
            subscribers: self.subscribers,
            head,
            cached_slowest: head,
            sequence: control.next_sequence.load(Ordering::Relaxed),
            _claim: claim,
        }
    }

    /// The end of the records published from `head` on (a producer that died between a tag
    /// and its head leaves one): a bounded walk over validated lengths, as in the SPSC ring.
    fn last_published_end(&self, mut head: u32) -> u32 {
        let (data, capacity) = (self.data(), self.geometry.capacity as u32);
        let max_len = capacity / 2 - RECORD_HEADER as u32;
        let mut walked = 0u32;
        loop {
            let offset = wake::offset_in(head, capacity);
            // SAFETY: offset < capacity and 8-aligned: the length and tag words fit.
            let tag = unsafe { header_word(data, offset, 1) }.load(RegionOrdering::Acquire);
            if tag != tag_for(head) {
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
            head = head.wrapping_add(advance) & wake::POSITION;
        }
    }

    /// Claims subscriber slot `index`: an error if there is no such slot or it is held.
    ///
    /// # Errors
    /// [`ClaimError::NoSuchRole`] for an index past the subscriber count; [`ClaimError::Taken`]
    /// while another holds the slot.
    pub fn subscriber(&self, index: usize) -> Result<Subscriber<'a>, ClaimError> {
        let word = self.subscriber_claim(index)?;
        let claim = Claim::take(word, Role::Subscriber(index))?;
        Ok(self.subscriber_with(index, claim))
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
        let word = self.subscriber_claim(index)?;
        let claim = Claim::take_over(word, Role::Subscriber(index), holder)?;
        Ok(self.subscriber_with(index, claim))
    }

    fn subscriber_claim(&self, index: usize) -> Result<&'a AtomicU32, ClaimError> {
        if index >= self.subscribers {
            return Err(ClaimError::NoSuchRole(Role::Subscriber(index)));
        }
        Ok(&self.control().subscriber_claims[index])
    }

    fn subscriber_with(&self, index: usize, claim: Claim<'a>) -> Subscriber<'a> {
        let control = self.control();
        let tail = wake::position(&control.cursors[index]);
        // The stream starts at sequence 0 at position 0: a slot's first holder knows what to
        // expect there; a later one learns it from its first message.
        let expected = (claim.is_first() && tail == 0).then_some(0);
        Subscriber {
            control,
            cursor: &control.cursors[index],
            data: self.data(),
            capacity: self.geometry.capacity as u32,
            mode: self.mode,
            tail,
            expected,
            _claim: claim,
        }
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

/// Word `index` (0: length, 1: tag, 2: sequence) of the record header at `offset`.
///
/// # Safety
/// `offset + 16 <= capacity`, 8-aligned, inside a mapped data area.
unsafe fn header_word<'a>(data: NonNull<u8>, offset: u32, index: usize) -> &'a RegionU32 {
    // SAFETY: in bounds and aligned (caller); atomics tolerate concurrent peers.
    unsafe { data.add(offset as usize + 4 * index).cast().as_ref() }
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
    head: u32,
    /// Backpressure: the slowest cursor last seen. Lossy: the oldest record kept.
    cached_slowest: u32,
    sequence: u32,
    /// Held until this producer is dropped.
    _claim: Claim<'a>,
}

// SAFETY: touches shared memory only through atomics and the space the protocol gives it.
unsafe impl Send for BroadcastProducer<'_> {}

impl BroadcastProducer<'_> {
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
    /// (timeout, or the liveness hook says the peer is gone).
    pub fn push_blocking(&mut self, message: &[u8], how: &Wait<'_>) -> Result<(), ReserveError> {
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
            if self.capacity - wake::distance(seen, self.head) >= needed {
                continue;
            }
            wait::until_moved(&self.control.cursors[index], seen, how)
                .map_err(ReserveError::Wait)?;
        }
    }

    /// Wrap padding and total bytes a `len`-byte record needs at the head.
    fn record_space(&self, len: usize) -> (u32, u32) {
        let offset = wake::offset_in(self.head, self.capacity);
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
        let max = self.capacity as usize / 2 - RECORD_HEADER;
        if len > max {
            return Err(ReserveError::TooLarge { len, max });
        }
        let (padding, needed) = self.record_space(len);
        match self.mode {
            Mode::Backpressure => {
                if self.capacity - wake::distance(self.cached_slowest, self.head) < needed {
                    self.cached_slowest = self.slowest_cursor()?.1;
                    if self.capacity - wake::distance(self.cached_slowest, self.head) < needed {
                        return Err(ReserveError::Full);
                    }
                }
            }
            Mode::Lossy => self.drop_oldest_until(needed)?,
        }
        Ok(padding)
    }

    /// The slowest subscriber's cursor (index, position), validating every cursor.
    fn slowest_cursor(&self) -> Result<(usize, u32), ReserveError> {
        let mut slowest = (0, self.head);
        let mut lag = 0;
        for (index, cursor) in self.control.cursors[..self.subscribers].iter().enumerate() {
            let position = wake::position(cursor);
            let behind = wake::distance(position, self.head);
            if behind > self.capacity {
                return Err(ReserveError::Corrupt(Corruption::TailIndex {
                    tail: position,
                    head: self.head,
                }));
            }
            if behind >= lag {
                lag = behind;
                slowest = (index, position);
            }
        }
        Ok(slowest)
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
            let held = wake::distance(self.cached_slowest, self.head);
            if self.capacity.saturating_sub(held) >= needed {
                break;
            }
            let offset = wake::offset_in(self.cached_slowest, self.capacity);
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
                    position: self.cached_slowest,
                    len,
                }));
                break;
            }
            // SAFETY: the same record header, inside the area; its tag word is cleared.
            unsafe { header_word(self.data, offset, 1) }.store(0, RegionOrdering::Relaxed);
            self.cached_slowest = self.cached_slowest.wrapping_add(advance) & wake::POSITION;
            dropped = true;
        }
        if dropped {
            self.control
                .oldest
                .store(self.cached_slowest, Ordering::Release);
            // The invalidated tags and the new oldest must be visible before any byte of the
            // space is rewritten (the writer half of a seqlock).
            fence(RegionOrdering::Release);
        }
        result
    }

    fn write(&mut self, message: &[u8], padding: u32) {
        if padding != 0 {
            let at = wake::offset_in(self.head, self.capacity);
            // SAFETY: at < capacity, 8-aligned, space granted to the producer.
            unsafe {
                header_word(self.data, at, 0).store(WRAP_MARKER, RegionOrdering::Relaxed);
                header_word(self.data, at, 1).store(tag_for(self.head), RegionOrdering::Release);
            }
            self.head = self.head.wrapping_add(padding) & wake::POSITION;
        }
        let offset = wake::offset_in(self.head, self.capacity);
        // SAFETY: make_room checked the record fits at offset; the producer owns these bytes
        // until it publishes the tag.
        unsafe {
            core::ptr::copy_nonoverlapping(
                message.as_ptr(),
                self.data.as_ptr().add(offset as usize + RECORD_HEADER),
                message.len(),
            );
            header_word(self.data, offset, 0).store(message.len() as u32, RegionOrdering::Relaxed);
            header_word(self.data, offset, 2).store(self.sequence, RegionOrdering::Relaxed);
        }
        self.sequence = self.sequence.wrapping_add(1);
        // Before the tag: a producer that takes over after a death right after the tag goes on
        // with the next number (a line only this side writes: no transfer between CPUs).
        self.control
            .next_sequence
            .store(self.sequence, Ordering::Relaxed);
        // SAFETY: the header written above.
        unsafe { header_word(self.data, offset, 1) }
            .store(tag_for(self.head), RegionOrdering::Release);
        self.head = self.head.wrapping_add(record_len(message.len())) & wake::POSITION;
        if wake::publish(&self.control.head, self.head) {
            wait::wake_all(&self.control.head);
        }
    }
}

/// One subscriber of a broadcast region.
#[derive(Debug)]
pub struct Subscriber<'a> {
    control: &'a Control,
    cursor: &'a AtomicU32,
    data: NonNull<u8>,
    capacity: u32,
    mode: Mode,
    tail: u32,
    /// The sequence number the next message should carry, once known.
    expected: Option<u32>,
    /// Held until this subscriber is dropped.
    _claim: Claim<'a>,
}

// SAFETY: a subscriber holds only its own cursor and the region's address; every access to the
// shared bytes goes through atomics or copies that the tag check validates, from any thread.
unsafe impl Send for Subscriber<'_> {}

impl Subscriber<'_> {
    /// Copies the next message into `buffer` (as much as fits), if one is there.
    ///
    /// In lossy mode a record overwritten while it is read is skipped for the next one, a
    /// bounded number of times: a producer that keeps lapping this subscriber (or a hostile one
    /// that keeps moving the oldest position) gets `Ok(None)`, never an endless loop.
    ///
    /// # Errors
    /// [`ReadError::Corrupt`] for a record the producer could not have written (a length past
    /// the data area, a wrap marker at offset 0).
    pub fn pop(&mut self, buffer: &mut [u8]) -> Result<Option<Received>, ReadError> {
        for _ in 0..MAX_SKIPS {
            let offset = wake::offset_in(self.tail, self.capacity);
            // SAFETY: offset < capacity and 8-aligned, so the first 8 bytes of a header (length
            // and tag) fit. Only those: a wrap marker may stand in the last 8 bytes of the area.
            let tag = unsafe { header_word(self.data, offset, 1) }.load(RegionOrdering::Acquire);
            if tag != tag_for(self.tail) {
                if self.lapped() {
                    continue;
                }
                return Ok(None);
            }
            // SAFETY: the length word of the same header, inside the area (see above).
            let len = unsafe { header_word(self.data, offset, 0) }.load(RegionOrdering::Relaxed);
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
            // The length is checked before anything is computed from it.
            if len as usize > self.capacity as usize / 2 - RECORD_HEADER
                || offset + record_len(len as usize) > self.capacity
            {
                if self.mode == Mode::Lossy && self.lapped() {
                    continue;
                }
                return Err(corrupt);
            }
            let record = record_len(len as usize);
            // SAFETY: offset + record <= capacity (checked above), and a record is at least
            // its 16-byte header: the sequence word fits.
            let sequence =
                unsafe { header_word(self.data, offset, 2) }.load(RegionOrdering::Relaxed);
            let n = (len as usize).min(buffer.len());
            // SAFETY: offset + 16 + len <= capacity (checked). The bytes may be rewritten by the
            // producer meanwhile (lossy mode); they are plain bytes, and the tag check below
            // discards a torn copy.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    self.data.as_ptr().add(offset as usize + RECORD_HEADER),
                    buffer.as_mut_ptr(),
                    n,
                )
            };
            fence(RegionOrdering::Acquire);
            // SAFETY: the tag word of the header read above, 8-aligned and inside the area.
            let still = unsafe { header_word(self.data, offset, 1) }.load(RegionOrdering::Relaxed);
            if still != tag {
                continue; // Overwritten while copying: skip ahead (lapped) and try again.
            }
            let lost = self
                .expected
                .map_or(0, |expected| sequence.wrapping_sub(expected));
            self.expected = Some(sequence.wrapping_add(1));
            self.tail = self.tail.wrapping_add(record) & wake::POSITION;
            if wake::publish(self.cursor, self.tail) {
                wait::wake_one(self.cursor);
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
    /// As [`pop`](Self::pop), and [`ReadError::Wait`] when the wait gives up.
    pub fn pop_blocking(
        &mut self,
        buffer: &mut [u8],
        how: &Wait<'_>,
    ) -> Result<Received, ReadError> {
        loop {
            if let Some(received) = self.pop(buffer)? {
                return Ok(received);
            }
            let head = wake::position(&self.control.head);
            let (data, capacity, tail) = (self.data, self.capacity, self.tail);
            let ready = || {
                // SAFETY: as in pop.
                let tag = unsafe { header_word(data, wake::offset_in(tail, capacity), 1) };
                tag.load(RegionOrdering::Acquire) == tag_for(tail)
            };
            if ready() {
                continue;
            }
            if self.mode == Mode::Backpressure {
                let ahead = wake::distance(tail, head);
                if ahead != 0 && ahead <= self.capacity {
                    return Err(ReadError::Corrupt(Corruption::Unpublished { head, tail }));
                }
            } else if wake::distance(tail, head) > self.capacity / 2 && self.lapped() {
                continue;
            }
            wait::until(&self.control.head, head, &ready, how).map_err(ReadError::Wait)?;
        }
    }

    /// Lossy mode: if the producer has overwritten this subscriber's position, moves to the
    /// oldest record still there and says so.
    fn lapped(&mut self) -> bool {
        if self.mode != Mode::Lossy {
            return false;
        }
        let oldest = self.control.oldest.load(Ordering::Acquire) & wake::POSITION;
        let ahead = wake::distance(self.tail, oldest);
        // The oldest record is ahead of us (within half the position space): we were lapped.
        if ahead != 0 && ahead < wake::POSITION / 2 {
            self.tail = oldest;
            return true;
        }
        false
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
