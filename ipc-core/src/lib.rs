//! `ipc-core`: the shared-memory path of ipc-profiler, for programs that move messages between
//! processes on Linux with no syscall on the fast path.
//!
//! Everything lives in a [`Region`]: memory the caller maps (a memfd, `shm_open`, a regular file
//! with `MAP_SHARED`), possibly at a different address in each process. Structures inside it hold
//! offsets, never pointers, and start with a [`header::Header`] that [`header::init`] writes and
//! [`header::attach`] validates. The peer is untrusted: every header field, index, length and
//! tag it can write is read through atomics and checked before use, and a bad value is an error
//! (a [`LayoutError`] or a `Corruption`), never an access outside the region, a panic or an
//! endless loop.
//!
//! # The contract on payload bytes
//! Message payloads are plain bytes, handed out in place: a [`spsc::ReadGrant`] derefs to
//! `&[u8]` over the ring, a [`spsc::WriteGrant`] to `&mut [u8]`. The protocol gives each record
//! to one side at a time, so an honest peer never writes a payload this side is reading, and
//! there is no data race. A consumer hands out exactly the messages sent, whatever their bytes:
//! before a producer publishes a record it clears the tag word where the next one will start
//! if that word holds the tag a reader would look for there, so no payload byte or tag of an
//! earlier lap is ever taken for a record. A lossy [`broadcast`] producer does overwrite what a
//! slow subscriber may be copying: there every access to the data area is atomic, and the
//! subscriber discards what it read if the producer has lapped it (see that module). A
//! *hostile* peer can write those bytes anyway, while they are read: that is a data race, which Rust's memory model calls undefined behaviour. What this crate
//! does about it: it never reads a payload byte to compute an offset, a length or a branch, so
//! on the targets it supports such a race can only give the reader a mix of old and new bytes
//! (check them if it matters: the profiler hashes every byte). That is a property of the code
//! as compiled, not a promise of the language; a caller that cannot accept it must not share a
//! ring with a peer it does not trust to follow the protocol. Everything else (the indices,
//! lengths and tags, the header, the seals of the memory object, see `shm`) holds against any
//! peer.
//!
//! The crate is `#![no_std]` and allocates nothing on its paths; with the `std` feature on
//! Linux, the first sleep that watches a peer starts one thread per process (the ticker, see
//! [`wait`]), which is the only allocation and the only thread it makes.
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

#[cfg(feature = "std")]
extern crate std;

pub mod broadcast;
#[cfg(all(feature = "std", target_os = "linux", not(loom)))]
pub mod channel;
mod copy;
pub mod doorbell;
mod error;
pub mod fan_in;
pub mod header;
mod region;
pub mod role;
#[cfg(all(feature = "std", target_os = "linux", not(loom)))]
pub mod shm;
pub mod spsc;
mod sync;
#[cfg(all(feature = "std", target_os = "linux", not(loom), not(miri)))]
mod ticker;
pub mod typed;
pub mod wait;
pub mod wake;

#[cfg(all(test, not(loom)))]
mod contract_tests;
#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod test_payloads;

pub use error::{Corruption, LayoutError, ReadError, ReserveError};
pub use region::Region;

/// The README's examples, compiled as doc tests so that they stay true to the API.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
