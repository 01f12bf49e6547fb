//! ipc-core rings in tokio programs.
//!
//! A ring side run by tokio cannot sleep on a futex (Linux cannot poll one), so the ring is laid
//! out with [`Wakeups::Eventfd`](ipc_core::spsc::Wakeups::Eventfd) for that side: it sleeps on
//! an eventfd registered with tokio, and its peer, which may be a plain process using ipc-core's
//! blocking calls, is given that eventfd as a [`Doorbell`](ipc_core::doorbell::Doorbell) and
//! writes it only when this side has announced that it sleeps. The fast path is the ring's own:
//! no syscall while both sides are busy.
//!
//! - [`AsyncConsumer::read`] / [`AsyncConsumer::recv`] / [`AsyncConsumer::recv_value`]: await
//!   a message of an SPSC ring.
//! - [`AsyncProducer::reserve`] / [`AsyncProducer::send`] / [`AsyncProducer::send_value`]:
//!   await room.
//! - [`async_end`]: both sides of a one-call duplex channel's end, owning their share of the
//!   mapping (`Duplex::memfd_async`).
//! - [`AsyncFanInConsumer`]: await a message from any producer of a fan-in region laid out
//!   with [`ReaderSleeps::OnEventfd`](ipc_core::doorbell::ReaderSleeps::OnEventfd).
//! - [`AsyncSubscriber`]: await a broadcast region's messages; every subscriber of the region
//!   shares one eventfd, which one write of the producer wakes them all through.
//! - [`AsyncPublisher`]: await room in a broadcast region (backpressure mode) laid out with
//!   [`ProducerSleeps::OnEventfd`](ipc_core::doorbell::ProducerSleeps::OnEventfd); the
//!   subscriber holding the space back rings it.
//!
//! Each wait spins while spinning pays (ipc-core's adaptive policy,
//! [`Strategy::Adaptive`](ipc_core::wait::Strategy::Adaptive), at most [`DEFAULT_SPINS`]
//! checks), then announces itself on the peer's index word and awaits the eventfd. Futures are
//! cancellation-safe: a dropped future has taken no
//! message and withdraws its announcement. They work on the current-thread and multi-thread
//! runtimes. Create the eventfd with [`eventfd`] before the peer needs it, and the adapters
//! inside the runtime (in a forked worker: after the fork).
//!
//! ```
//! use ipc_core::doorbell::Doorbell;
//! use ipc_core::spsc::{EventfdSides, Spsc, Wakeups};
//! use ipc_core::Region;
//! use ipc_core_tokio::{eventfd, AsyncConsumer};
//! use std::os::fd::AsFd;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut memory = vec![0u64; Spsc::required_len(4096) / 8];
//! let ring = Spsc::init_with(
//!     Region::from_slice(&mut memory),
//!     4096,
//!     Wakeups::Eventfd(EventfdSides::Consumer),
//! )?;
//! let wake_me = eventfd()?;
//! // The plain side (here a thread; usually another process) rings the consumer's eventfd.
//! let mut producer = ring.producer_with_doorbell(Doorbell::eventfd(wake_me.as_fd()))?;
//! let mut consumer = AsyncConsumer::new(ring.consumer()?, wake_me.try_clone()?)?;
//! std::thread::scope(|s| {
//!     s.spawn(move || producer.push(b"hello").unwrap());
//! });
//! let mut buffer = [0u8; 16];
//! let n = consumer.recv(&mut buffer).await?;
//! assert_eq!(&buffer[..n], b"hello");
//! # Ok(())
//! # }
//! ```

mod broadcast;
mod consumer;
mod duplex;
mod error;
mod fan_in;
mod producer;
mod publisher;
mod sleep;
mod ticker;

pub use broadcast::AsyncSubscriber;
pub use consumer::AsyncConsumer;
pub use duplex::async_end;
pub use error::Error;
pub use fan_in::AsyncFanInConsumer;
pub use producer::AsyncProducer;
pub use publisher::AsyncPublisher;

use std::os::fd::OwnedFd;

/// Checks a side makes at most before it announces itself and sleeps, as
/// [`Wait::futex`](ipc_core::wait::Wait::futex) does: fewer once its spins stop catching the
/// peer (see [`Strategy::Adaptive`](ipc_core::wait::Strategy::Adaptive)).
pub const DEFAULT_SPINS: u32 = 2_000;

/// A new eventfd for a side to sleep on: non-blocking (tokio reads it), closed on `exec`.
///
/// # Errors
/// The kernel's, e.g. `EMFILE` when the process is out of descriptors.
pub fn eventfd() -> std::io::Result<OwnedFd> {
    use rustix::event::{eventfd, EventfdFlags};
    Ok(eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC)?)
}

/// The README's example, compiled as a doc test so that it stays true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
