//! Awaiting room.

use std::os::fd::OwnedFd;
use std::time::Duration;

use ipc_core::spsc::{Producer, WriteGrant};
use ipc_core::typed::bytemuck::{self, NoUninit};
use ipc_core::wait::Liveness;

use crate::sleep::{Waiting, Watch, Watched};
use crate::Error;
use ipc_core::channel::Mapping;

/// A ring's producer that awaits room, sleeping on an eventfd its consumer rings.
pub struct AsyncProducer<'a> {
    producer: Producer<'a>,
    waiting: Waiting<'a>,
    /// A channel's memory, for a side taken from a channel's end (dropped last).
    _mapping: Option<Mapping>,
}

impl<'a> AsyncProducer<'a> {
    /// Wraps `producer`, which sleeps on `eventfd` (the one its consumer was given as a
    /// doorbell). Call it inside a tokio runtime. While asleep it asks the ring's record of the
    /// consumer's process every 100 ms and ends the wait with [`Error::PeerGone`] once that
    /// process has exited (see `ipc_core::wait::RecordedPeer`; `with_liveness` replaces it).
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] when the ring's producer does not sleep on an eventfd;
    /// [`Error::NoRuntime`] outside a tokio runtime; [`Error::Io`] for a descriptor tokio cannot
    /// register.
    pub fn new(producer: Producer<'a>, eventfd: OwnedFd) -> Result<Self, Error> {
        if !producer.wakeups().producer_sleeps_on_eventfd() {
            return Err(Error::NotAnEventfdSide("producer"));
        }
        let consumer = producer.consumer_record();
        Ok(Self {
            producer,
            waiting: Waiting::new(eventfd, Some(Watch::recorded(consumer)))?,
            _mapping: None,
        })
    }

    /// Keeps `mapping` (the memory this side lives in) until the side is dropped.
    pub(crate) fn holding(mut self, mapping: Mapping) -> Self {
        self._mapping = Some(mapping);
        self
    }

    /// Checks exactly `spins` times before sleeping (0: sleep at once), instead of spinning
    /// adaptively.
    pub fn with_spins(mut self, spins: u32) -> Self {
        self.waiting.spinning = ipc_core::wait::Strategy::SpinThenFutex { spins };
        self
    }

    /// While asleep, asks `liveness` (instead of the ring's record) every `every` whether the consumer lives, and ends the
    /// wait with [`Error::PeerGone`] once it does not.
    pub fn with_liveness(
        mut self,
        liveness: &'a (dyn Liveness + Send + Sync),
        every: Duration,
    ) -> Self {
        self.waiting.watch = Some(Watch {
            watched: Watched::Hook(liveness),
            every,
        });
        self
    }

    /// Room for a `len`-byte message, as a grant to write in place and commit.
    ///
    /// # Errors
    /// [`Error::Reserve`] for a message the ring can never take or a corrupt ring;
    /// [`Error::PeerGone`] from the liveness hook; [`Error::Io`] if the eventfd fails.
    pub async fn reserve(&mut self, len: usize) -> Result<WriteGrant<'_, 'a>, Error> {
        if !self.spin_for_room(len)? {
            self.sleep_until_room(len).await?;
        }
        Ok(self.producer.reserve(len)?)
    }

    /// Copies `message` into the ring and publishes it (waking a sleeping consumer).
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    pub async fn send(&mut self, message: &[u8]) -> Result<(), Error> {
        let mut grant = self.reserve(message.len()).await?;
        grant.copy_from_slice(message);
        grant.commit();
        Ok(())
    }

    /// Sends one `T` (see [`ipc_core::typed`]) as a message of its size.
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    pub async fn send_value<T: NoUninit>(&mut self, value: &T) -> Result<(), Error> {
        self.send(bytemuck::bytes_of(value)).await
    }

    /// The spinning phase of [`reserve`](Self::reserve) alone, for a caller outside the
    /// runtime: true when a `len`-byte message fits, and `get_mut().reserve(len)` succeeds.
    ///
    /// # Errors
    /// [`Error::Reserve`] for a message the ring can never take or a corrupt ring.
    pub fn spin_for_room(&mut self, len: usize) -> Result<bool, Error> {
        let producer = &mut self.producer;
        self.waiting
            .spin(1, || producer.has_room_for(len).map_err(Error::from))
    }

    /// [`send`](Self::send) without its spinning phase (after
    /// [`spin_for_room`](Self::spin_for_room) found no room).
    ///
    /// # Errors
    /// As [`reserve`](Self::reserve).
    pub async fn send_sleeping(&mut self, message: &[u8]) -> Result<(), Error> {
        self.sleep_until_room(message.len()).await?;
        let mut grant = self.producer.reserve(message.len())?;
        grant.copy_from_slice(message);
        grant.commit();
        Ok(())
    }

    /// The wrapped producer.
    pub fn get_mut(&mut self) -> &mut Producer<'a> {
        &mut self.producer
    }

    async fn sleep_until_room(&mut self, len: usize) -> Result<(), Error> {
        loop {
            if !self.producer.announce_sleep(len)? {
                return Ok(());
            }
            let announced = Announced(&mut self.producer);
            self.waiting.sleep().await?;
            drop(announced);
        }
    }
}

/// An announced sleep, withdrawn when the wait ends or its future is dropped.
struct Announced<'p, 'a>(&'p mut Producer<'a>);

impl Drop for Announced<'_, '_> {
    fn drop(&mut self) {
        self.0.withdraw_sleep();
    }
}
