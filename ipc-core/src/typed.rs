//! Fixed-size messages of one plain-old-data type over an SPSC ring: a [`Sender<T>`] writes a
//! `T`'s bytes, a [`Receiver<T>`] copies them out into a `T`.
//!
//! `T` must be valid for every bit pattern ([`bytemuck::AnyBitPattern`], and
//! [`bytemuck::NoUninit`] to send it): a peer can write anything, so a received value is read
//! only as bytes a `T` can hold whatever they are. Values are copied out of the ring, so the
//! ring's 8-byte record alignment and a peer writing concurrently do no harm to the `T` handed
//! over (see the crate's contract on payload bytes: such a peer can make the value any mix of
//! old and new bytes, never an invalid `T`). A record of another length is an error, never a
//! truncated or padded value.
//!
//! With the `derive` feature (on by default) a message type derives what it needs, through
//! the re-exported [`Pod`] and [`Zeroable`]: the derive refuses a type with padding or a field
//! that is not itself plain old data, so no `unsafe` is written.
//!
//! ```
//! use ipc_core::{spsc::Spsc, typed::{Pod, Receiver, Sender, Zeroable}, Region};
//! #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
//! #[bytemuck(crate = "ipc_core::typed::bytemuck")]
//! #[repr(C)]
//! struct Tick { price: u64, size: u32, side: u32 }
//!
//! let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
//! let ring = Spsc::init(Region::from_slice(&mut memory), 1024)?;
//! let mut sender = Sender::<Tick>::new(ring.producer()?);
//! let mut receiver = Receiver::<Tick>::new(ring.consumer()?);
//! let tick = Tick { price: 101_25, size: 300, side: 1 };
//! sender.send(&tick)?;
//! assert_eq!(receiver.recv()?, Some(tick));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without it, the three marker traits are implemented by hand, each an `unsafe impl` whose
//! safety comment says why every bit pattern is a value (see [`bytemuck`]).

use core::fmt;
use core::marker::PhantomData;

use bytemuck::{AnyBitPattern, NoUninit};

/// The crate that states what the typed layer needs of a message type, re-exported so a user
/// names the version ipc-core uses (`#[bytemuck(crate = "ipc_core::typed::bytemuck")]` with the
/// derives).
pub use bytemuck;
/// Derive (with the `derive` feature) or implement: a type valid for every bit pattern, with
/// no padding, which the typed layer sends and receives.
pub use bytemuck::{Pod, Zeroable};

use crate::error::{ReadError, ReserveError};
use crate::spsc::{Consumer, Producer};
use crate::wait::Wait;

/// Sends `T` values, each one record of `size_of::<T>()` bytes.
#[derive(Debug)]
pub struct Sender<'a, T> {
    producer: Producer<'a>,
    _type: PhantomData<fn(T)>,
}

impl<'a, T: NoUninit> Sender<'a, T> {
    /// Sends over `producer`'s ring.
    pub fn new(producer: Producer<'a>) -> Self {
        Self {
            producer,
            _type: PhantomData,
        }
    }

    /// Copies `value` into the ring and publishes it, if there is room now.
    ///
    /// # Errors
    /// As [`Producer::push`]: `Full`, `TooLarge` for a `T` over the ring's longest message,
    /// `Corrupt`.
    pub fn send(&mut self, value: &T) -> Result<(), ReserveError> {
        self.producer.push(bytemuck::bytes_of(value))
    }

    /// Like [`send`](Self::send), waiting for room as `how` says.
    ///
    /// # Errors
    /// As [`Producer::push_blocking`].
    pub fn send_blocking(&mut self, value: &T, how: &Wait<'_>) -> Result<(), ReserveError> {
        self.producer.push_blocking(bytemuck::bytes_of(value), how)
    }

    /// The producer underneath.
    pub fn into_inner(self) -> Producer<'a> {
        self.producer
    }
}

/// Receives `T` values, copied out of the ring.
#[derive(Debug)]
pub struct Receiver<'a, T> {
    consumer: Consumer<'a>,
    _type: PhantomData<fn() -> T>,
}

/// Why a [`Receiver`] gave no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The ring failed as [`Consumer::read`] says.
    Read(ReadError),
    /// A record of another length than a `T`: the peer sends something else. It is left in
    /// the ring.
    WrongLength {
        /// Bytes of a `T`.
        expected: usize,
        /// Bytes of the record.
        found: usize,
    },
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => e.fmt(f),
            Self::WrongLength { expected, found } => write!(
                f,
                "a {found}-byte message arrived where a {expected}-byte value was expected"
            ),
        }
    }
}

impl core::error::Error for RecvError {}

impl From<ReadError> for RecvError {
    fn from(error: ReadError) -> Self {
        Self::Read(error)
    }
}

impl<'a, T: AnyBitPattern> Receiver<'a, T> {
    /// Receives over `consumer`'s ring.
    pub fn new(consumer: Consumer<'a>) -> Self {
        Self {
            consumer,
            _type: PhantomData,
        }
    }

    /// The next value, if one is published.
    ///
    /// # Errors
    /// [`RecvError::Read`] as [`Consumer::read`]; [`RecvError::WrongLength`] for a record that
    /// is not a `T`'s size (left in the ring).
    pub fn recv(&mut self) -> Result<Option<T>, RecvError> {
        match self.consumer.read()? {
            Some(grant) => take_value(grant).map(Some),
            None => Ok(None),
        }
    }

    /// Like [`recv`](Self::recv), waiting as `how` says.
    ///
    /// # Errors
    /// As [`recv`](Self::recv), and [`RecvError::Read`] with a wait error when the wait gives
    /// up.
    pub fn recv_blocking(&mut self, how: &Wait<'_>) -> Result<T, RecvError> {
        take_value(self.consumer.read_blocking(how)?)
    }

    /// The consumer underneath.
    pub fn into_inner(self) -> Consumer<'a> {
        self.consumer
    }
}

/// Copies a `T` out of `grant` and releases it, or leaves it (and says so) if it is not a
/// `T`'s size: the typed read of any handle that reads in place.
///
/// # Errors
/// [`RecvError::WrongLength`] for a record of another size.
pub fn take_value<T: AnyBitPattern>(grant: crate::spsc::ReadGrant<'_, '_>) -> Result<T, RecvError> {
    let expected = core::mem::size_of::<T>();
    if grant.len() != expected {
        return Err(RecvError::WrongLength {
            expected,
            found: grant.len(),
        });
    }
    // Copied out byte for byte: the record is 8-aligned, which a T may need more than.
    let value = bytemuck::pod_read_unaligned::<T>(&grant);
    grant.release();
    Ok(value)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::spsc::Spsc;
    use crate::Region;
    extern crate std;
    use std::vec;

    #[test]
    fn values_go_through_whole_and_in_order() {
        let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
        let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
        let mut sender = Sender::<[u32; 3]>::new(ring.producer().unwrap());
        let mut receiver = Receiver::<[u32; 3]>::new(ring.consumer().unwrap());
        for n in 0..100u32 {
            sender.send(&[n, n * 2, !n]).unwrap();
            assert_eq!(receiver.recv().unwrap(), Some([n, n * 2, !n]));
        }
        assert_eq!(receiver.recv().unwrap(), None);
    }

    #[test]
    fn a_type_aligned_past_the_records_is_copied_out_whole() {
        // u128 wants 16-byte alignment on x86-64; records start 8 bytes after an 8-aligned
        // header, so the value must be copied, not referenced.
        let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
        let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
        let mut sender = Sender::<u128>::new(ring.producer().unwrap());
        let mut receiver = Receiver::<u128>::new(ring.consumer().unwrap());
        let value = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        for _ in 0..5 {
            sender.send(&value).unwrap();
            assert_eq!(receiver.recv().unwrap(), Some(value));
        }
    }

    #[test]
    fn a_message_of_another_size_is_refused_and_left_in_the_ring() {
        let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
        let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
        let mut producer = ring.producer().unwrap();
        producer.push(&[1, 2, 3]).unwrap();
        let mut receiver = Receiver::<u64>::new(ring.consumer().unwrap());
        let wrong = RecvError::WrongLength {
            expected: 8,
            found: 3,
        };
        assert_eq!(receiver.recv(), Err(wrong));
        assert_eq!(receiver.recv(), Err(wrong), "still there");
        let mut consumer = receiver.into_inner();
        assert_eq!(&*consumer.read().unwrap().unwrap(), &[1, 2, 3]);
    }

    #[test]
    fn a_value_too_large_for_the_ring_is_refused() {
        let mut memory = vec![0u64; Spsc::required_len(64) / 8];
        let ring = Spsc::init(Region::from_slice(&mut memory), 64).unwrap();
        let mut sender = Sender::<[u8; 40]>::new(ring.producer().unwrap());
        assert_eq!(
            sender.send(&[7; 40]),
            Err(ReserveError::TooLarge { len: 40, max: 24 })
        );
    }
}
