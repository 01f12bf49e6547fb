//! `ipc-core`: the shared-memory path of ipc-profiler, for programs that move messages between
//! processes on Linux with no syscall on the fast path.
//!
//! Everything lives in a [`Region`]: memory the caller maps (a memfd, `shm_open`, a regular file
//! with `MAP_SHARED`), possibly at a different address in each process. Structures inside it hold
//! offsets, never pointers, and start with a [`header::Header`] that [`header::init`] writes and
//! [`header::attach`] validates. The peer is untrusted: whatever it writes into the region is
//! checked before use and a bad value is a [`LayoutError`], never undefined behaviour.
//!
//! The crate is `#![no_std]` and allocates nothing.
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

pub mod broadcast;
mod copy;
mod error;
pub mod fan_in;
pub mod header;
mod region;
#[cfg(all(feature = "std", target_os = "linux", not(loom)))]
pub mod shm;
pub mod spsc;
mod sync;
pub mod wait;
pub mod wake;

#[cfg(all(test, loom))]
mod loom_tests;

pub use error::LayoutError;
pub use region::Region;
