//! Awaiting messages.

use std::os::fd::OwnedFd;
use std::time::Duration;

use ipc_core::spsc::{Consumer, ReadError, ReadGrant};
use ipc_core::typed::bytemuck::AnyBitPattern;
use ipc_core::wait::Liveness;
use ipc_core::Corruption;

use crate::sleep::{Waiting, Watch, Watched};
use crate::Error;
use ipc_core::channel::Mapping;

/// A ring's consumer that awaits messages, sleeping on an eventfd its producer rings.
pub struct AsyncConsumer<'a> {
    consumer: Consumer<'a>,
    waiting: Waiting<'a>,
    /// A channel's memory, for a side taken from a channel's end (dropped last).
    _mapping: Option<Mapping>,
}

impl<'a> AsyncConsumer<'a> {
    /// Wraps `consumer`, which sleeps on `eventfd` (the one its producer was given as a
    /// doorbell). Call it inside a tokio runtime. While asleep it asks the ring's record of the
    /// producer's process every 100 ms and ends the wait with [`Error::PeerGone`] once that
    /// process has exited (see `ipc_core::wait::RecordedPeer`; `with_liveness` replaces it).
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] when the ring's consumer does not sleep on an eventfd;
    /// [`Error::NoRuntime`] outside a tokio runtime; [`Error::Io`] for a descriptor tokio cannot
    /// register.
    pub fn new(consumer: Consumer<'a>, eventfd: OwnedFd) -> Result<Self, Error> {
        if !consumer.wakeups().consumer_sleeps_on_eventfd() {
            return Err(Error::NotAnEventfdSide("consumer"));
        }
        let producer = consumer.producer_record();
        Ok(Self {
            consumer,
            waiting: Waiting::new(eventfd, Some(Watch::recorded(producer)))?,
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

    /// While asleep, asks `liveness` (instead of the ring's record) every `every` whether the producer lives, and ends the
    /// wait with [`Error::PeerGone`] once it does not (a dead producer never rings).
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

    /// The next message, read in place; release the grant to return its room.
    ///
    /// # Errors
    /// [`Error::Read`] for a corrupt ring; [`Error::PeerGone`] from the liveness hook;
    /// [`Error::Io`] if the eventfd fails.
    pub async fn read(&mut self) -> Result<ReadGrant<'_, 'a>, Error> {
        if !self.spin_for_message()? {
            self.sleep_until_message().await?;
        }
        self.take()
    }

    /// Copies the next message into `buffer` and releases it; returns its length.
    ///
    /// # Errors
    /// As [`read`](Self::read), and [`Error::Read`] with
    /// [`ReadError::BufferTooSmall`](ipc_core::spsc::ReadError::BufferTooSmall) for a message
    /// longer than `buffer`, which stays in the ring.
    pub async fn recv(&mut self, buffer: &mut [u8]) -> Result<usize, Error> {
        Ok(self.read().await?.copy_into(buffer)?)
    }

    /// Receives one `T` (see [`ipc_core::typed`]).
    ///
    /// # Errors
    /// As [`read`](Self::read); [`Error::WrongLength`] for a message of another size (left in
    /// the ring).
    pub async fn recv_value<T: AnyBitPattern>(&mut self) -> Result<T, Error> {
        let grant = self.read().await?;
        ipc_core::typed::take_value(grant).map_err(|e| Error::typed(e, None))
    }

    /// The spinning phase of [`read`](Self::read) alone, for a caller outside the runtime
    /// (a synchronous loop that enters the runtime only to sleep): true when a message is
    /// ready, and `get_mut().read()` returns it.
    ///
    /// # Errors
    /// [`Error::Read`] for a corrupt ring.
    pub fn spin_for_message(&mut self) -> Result<bool, Error> {
        // Spinning polls the record's tag alone (no index word, no shared-line write).
        let consumer = &mut self.consumer;
        let seen = self
            .waiting
            .spin(0, || Ok::<_, Error>(consumer.has_message()))?;
        Ok(seen && self.consumer.has_message_ready()?)
    }

    /// [`read`](Self::read) without its spinning phase (after
    /// [`spin_for_message`](Self::spin_for_message) found nothing).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub async fn read_sleeping(&mut self) -> Result<ReadGrant<'_, 'a>, Error> {
        self.sleep_until_message().await?;
        self.take()
    }

    /// The wrapped consumer.
    pub fn get_mut(&mut self) -> &mut Consumer<'a> {
        &mut self.consumer
    }

    /// Reads the message a check just found ready.
    fn take(&mut self) -> Result<ReadGrant<'_, 'a>, Error> {
        let position = self.consumer.position();
        match self.consumer.read()? {
            Some(grant) => Ok(grant),
            // Nothing else reads this ring and a published record stays published until it is
            // released: only a producer rewriting what it published takes it away.
            None => Err(Error::Read(ReadError::Corrupt(Corruption::Vanished {
                position,
            }))),
        }
    }

    async fn sleep_until_message(&mut self) -> Result<(), Error> {
        loop {
            if !self.consumer.announce_sleep()? {
                return Ok(());
            }
            let announced = Announced(&mut self.consumer);
            self.waiting.sleep().await?;
            drop(announced);
        }
    }
}

/// An announced sleep, withdrawn when the wait ends or its future is dropped.
struct Announced<'c, 'a>(&'c mut Consumer<'a>);

impl Drop for Announced<'_, '_> {
    fn drop(&mut self) {
        self.0.withdraw_sleep();
    }
}
