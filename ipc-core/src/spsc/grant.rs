//! Zero-copy grants: a producer writes a message in place, a consumer reads it in place.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::Ordering;

use super::{record_len, Consumer, Producer, ReadError, RECORD_HEADER, WRAP_MARKER};
use crate::wake;

/// Room for one message in the ring, written in place; nothing is visible to the consumer
/// until [`commit`](Self::commit). Dropping a grant without committing abandons it.
#[derive(Debug)]
pub struct WriteGrant<'p, 'a> {
    producer: &'p mut Producer<'a>,
    padding: u32,
    len: u32,
}

impl<'p, 'a> WriteGrant<'p, 'a> {
    #[inline]
    pub(super) fn new(producer: &'p mut Producer<'a>, padding: u32, len: u32) -> Self {
        Self {
            producer,
            padding,
            len,
        }
    }

    /// Offset of the record (after any wrap padding) in the data area.
    #[inline]
    fn record_offset(&self) -> u32 {
        wake::offset_in(
            self.producer.head.wrapping_add(self.padding),
            self.producer.capacity,
        )
    }

    /// Publishes the message at once (and wakes a sleeping consumer, if any), with any
    /// deferred ones before it. A corruption found on the way is returned by the next reserve.
    #[inline]
    pub fn commit(self) {
        let producer = self.write_record();
        let _ = producer.flush();
    }

    /// Makes the message part of the next [`Producer::flush`]: nothing is visible before it, and
    /// a batch costs at most one wake-up.
    #[inline]
    pub fn commit_deferred(self) {
        self.write_record();
    }

    /// Writes the record header (and wrap marker), clears the tag word where the next record
    /// will start, and advances the producer's local head.
    ///
    /// Clearing that word is what makes a tag mean "published": the consumer moves on to it as
    /// soon as it sees this record's tag, and whatever an earlier lap left there (a payload
    /// word, an old tag) must not look like the next record. Both clears are sequenced before
    /// the release store of the tag that leads the consumer there (see [`Producer::flush`]).
    #[inline]
    fn write_record(self) -> &'p mut Producer<'a> {
        let offset = self.record_offset();
        let p = self.producer;
        if self.padding != 0 {
            let wrap_at = wake::offset_in(p.head, p.capacity);
            // SAFETY: wrap_at < capacity and 8-aligned; this space was granted to the producer.
            unsafe { p.data.length(wrap_at) }.store(WRAP_MARKER, Ordering::Relaxed);
            // The consumer reads the record's tag right after the marker's: clear it first.
            // SAFETY: the record's own header, granted to the producer (offset 0 after a wrap).
            unsafe { p.data.tag(offset) }.store(0, Ordering::Relaxed);
        }
        // SAFETY: the record's offset is below capacity and 8-aligned, and its space was
        // granted to this producer.
        unsafe { p.data.length(offset) }.store(self.len, Ordering::Relaxed);
        // The payload was written through the grant: before the tag that publishes it.
        let position = p.head.wrapping_add(self.padding);
        p.data.wrote(
            position,
            offset + RECORD_HEADER as u32,
            self.len,
            p.capacity,
        );
        let advance = self.padding + record_len(self.len as usize) as u32;
        p.head = p.head.wrapping_add(advance) & wake::POSITION;
        p.clear_next_tag();
        p
    }
}

impl Deref for WriteGrant<'_, '_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        let start = self.record_offset() as usize + RECORD_HEADER;
        // SAFETY: space_for checked start + len fits in the data area, and the protocol gives
        // these bytes to the producer until it publishes them.
        unsafe {
            core::slice::from_raw_parts(self.producer.data.as_ptr().add(start), self.len as usize)
        }
    }
}

impl DerefMut for WriteGrant<'_, '_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        let start = self.record_offset() as usize + RECORD_HEADER;
        // SAFETY: as in deref; the grant borrows the producer mutably, so this slice is unique
        // in this process, and the consumer does not read these bytes before they are published.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.producer.data.as_ptr().add(start),
                self.len as usize,
            )
        }
    }
}

/// One message in the ring, read in place; its space returns to the producer on
/// [`release`](Self::release). Dropping a grant without releasing leaves the message in the ring.
///
/// Its bytes are the producer's until published and this consumer's until released: an honest
/// producer does not touch them meanwhile. A hostile one can, and that is a data race on plain
/// bytes (see the crate's documentation, "The contract on payload bytes"): the bytes read may
/// then be any mix of old and new, and nothing else is derived from them.
#[derive(Debug)]
pub struct ReadGrant<'c, 'a> {
    consumer: &'c mut Consumer<'a>,
    offset: u32,
    len: u32,
}

impl<'c, 'a> ReadGrant<'c, 'a> {
    #[inline]
    pub(super) fn new(consumer: &'c mut Consumer<'a>, offset: u32, len: u32) -> Self {
        // Read from here to the release: after the tag that published it.
        consumer.data.read(offset, len);
        Self {
            consumer,
            offset,
            len,
        }
    }

    /// Returns the message's space to the producer (and wakes it if it sleeps for room).
    #[inline]
    pub fn release(self) {
        let end = self
            .consumer
            .tail
            .wrapping_add(record_len(self.len as usize) as u32);
        self.consumer.release_to(end);
    }

    /// Copies the whole message into `buffer` and releases it; returns its length.
    ///
    /// # Errors
    /// [`ReadError::BufferTooSmall`] for a message longer than `buffer`: nothing is copied and
    /// the message stays in the ring.
    #[inline]
    pub fn copy_into(self, buffer: &mut [u8]) -> Result<usize, ReadError> {
        let len = self.len();
        let Some(whole) = buffer.get_mut(..len) else {
            return Err(ReadError::BufferTooSmall {
                len,
                buffer: buffer.len(),
            });
        };
        crate::copy::copy_bytes(whole, &self);
        self.release();
        Ok(len)
    }
}

impl Deref for ReadGrant<'_, '_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: next_record validated offset + len lies inside the data area and inside the
        // published part of the ring, which the producer does not touch until it is released.
        unsafe {
            core::slice::from_raw_parts(
                self.consumer.data.as_ptr().add(self.offset as usize),
                self.len as usize,
            )
        }
    }
}
