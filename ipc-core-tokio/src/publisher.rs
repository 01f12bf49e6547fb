//! Awaiting room in a broadcast region: its producer.

use std::os::fd::OwnedFd;
use std::time::Duration;

use ipc_core::broadcast::BroadcastProducer;
use ipc_core::channel::{Mapping, Publisher};
use ipc_core::doorbell::ProducerSleeps;
use ipc_core::typed::bytemuck::{self, NoUninit};
use ipc_core::wait::Liveness;

use crate::sleep::Waiting;
use crate::Error;

/// How often a sleeping publisher asks whether the subscriber it waits for still lives.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// A broadcast region's producer that awaits room (backpressure mode), sleeping on the eventfd
/// that every subscriber was given as a doorbell (a region laid out with
/// [`ProducerSleeps::OnEventfd`], whose subscribers were claimed with
/// `Broadcast::subscriber_with_doorbell`). Only the subscriber holding the space back rings it,
/// and only while the publisher sleeps. In lossy mode it never waits.
///
/// ```
/// use ipc_core::broadcast::{Broadcast, Mode};
/// use ipc_core::doorbell::{Doorbell, ProducerSleeps, ReaderSleeps};
/// use ipc_core::wait::Wait;
/// use ipc_core::Region;
/// use ipc_core_tokio::{eventfd, AsyncPublisher};
/// use std::os::fd::AsFd;
///
/// let mut memory = vec![0u64; Broadcast::required_len(256) / 8];
/// let region = Broadcast::init_with_sleepers(
///     Region::from_slice(&mut memory), 256, 1, Mode::Backpressure,
///     ReaderSleeps::OnFutex, ProducerSleeps::OnEventfd)?;
/// let publisher_sleeps_on = eventfd()?;
/// let bell = Doorbell::eventfd(publisher_sleeps_on.as_fd());
/// let mut subscriber = region.subscriber_with_doorbell(0, bell)?;
/// std::thread::scope(|s| {
///     // A plain subscriber (here a thread; usually another process) frees the room.
///     s.spawn(move || {
///         let mut buffer = [0u8; 8];
///         for n in 0..100u64 {
///             subscriber.pop_blocking(&mut buffer, &Wait::futex()).unwrap();
///             assert_eq!(u64::from_ne_bytes(buffer), n);
///         }
///     });
///     let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
///     runtime.block_on(async {
///         let sleeps_on = publisher_sleeps_on.try_clone()?;
///         let mut publisher = AsyncPublisher::new(region.producer()?, sleeps_on)?;
///         for n in 0..100u64 {
///             publisher.send_value(&n).await?; // a 256-byte ring: it waits for room
///         }
///         Ok::<_, Box<dyn std::error::Error>>(())
///     })
/// })?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncPublisher<'a> {
    producer: BroadcastProducer<'a>,
    waiting: Waiting<'a>,
    /// A channel's memory, for a publisher made from a channel's (dropped last).
    _mapping: Option<Mapping>,
}

impl AsyncPublisher<'static> {
    /// The publisher of a one-call channel made with
    /// [`BroadcastChannel::memfd_async`](ipc_core::channel::BroadcastChannel::memfd_async) and
    /// [`AsyncSides::Publisher`](ipc_core::channel::AsyncSides) (or `Both`), awaiting room: it
    /// owns its share of the mapping, so it moves into `tokio::spawn`. Call it inside a tokio
    /// runtime.
    ///
    /// ```
    /// use ipc_core::broadcast::Mode;
    /// use ipc_core::channel::{AsyncSides, BroadcastChannel};
    /// use ipc_core::wait::Wait;
    /// use ipc_core_tokio::AsyncPublisher;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let channel = BroadcastChannel::memfd_async(1, 256, Mode::Backpressure, AsyncSides::Publisher)?;
    /// let mut subscriber = channel.subscriber(0)?; // a plain one: here a thread
    /// let reader = std::thread::spawn(move || {
    ///     (0..100u64)
    ///         .map(|_| subscriber.recv_value::<u64>(&Wait::futex()).map(|(n, _)| n))
    ///         .collect::<Result<Vec<_>, _>>()
    /// });
    /// let mut publisher = AsyncPublisher::from_publisher(channel.publisher()?)?;
    /// for n in 0..100u64 {
    ///     publisher.send_value(&n).await?; // a 256-byte ring: it waits for room
    /// }
    /// assert_eq!(reader.join().unwrap()?, (0..100).collect::<Vec<_>>());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] for a channel whose publisher sleeps on the futex; then as
    /// [`new`](Self::new).
    pub fn from_publisher(publisher: Publisher) -> Result<Self, Error> {
        let (producer, eventfd, mapping) = publisher.into_parts()?;
        let eventfd = eventfd.ok_or(Error::NotAnEventfdSide("publisher"))?;
        let mut this = Self::new(producer, eventfd)?;
        this._mapping = Some(mapping);
        Ok(this)
    }
}

impl<'a> AsyncPublisher<'a> {
    /// Wraps `producer`, which sleeps on `eventfd` (the one every subscriber was given as a
    /// doorbell). Call it inside a tokio runtime. While asleep it asks the region's record of
    /// the subscriber it waits for every 100 ms, and ends the wait with [`Error::PeerGone`]
    /// once that process has exited.
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] when the region's producer sleeps on the futex;
    /// [`Error::NoRuntime`] outside a tokio runtime; [`Error::Io`] for a descriptor tokio cannot
    /// register.
    pub fn new(producer: BroadcastProducer<'a>, eventfd: OwnedFd) -> Result<Self, Error> {
        if producer.producer_sleeps() != ProducerSleeps::OnEventfd {
            return Err(Error::NotAnEventfdSide("publisher"));
        }
        Ok(Self {
            producer,
            waiting: Waiting::new(eventfd, None)?,
            _mapping: None,
        })
    }

    /// Checks exactly `spins` times before sleeping (0: sleep at once), instead of spinning
    /// adaptively.
    pub fn with_spins(mut self, spins: u32) -> Self {
        self.waiting.spinning = ipc_core::wait::Strategy::SpinThenFutex { spins };
        self
    }

    /// Copies `message` to every subscriber once the slowest has left room for it (at once in
    /// lossy mode), waking the subscribers that sleep.
    ///
    /// # Errors
    /// [`Error::Reserve`] for a message the region can never take or a corrupt region;
    /// [`Error::PeerGone`] once the subscriber it waits for has exited; [`Error::Io`] if the
    /// eventfd fails.
    pub async fn send(&mut self, message: &[u8]) -> Result<(), Error> {
        if !self.spin_for_room(message.len())? {
            self.sleep_until_room(message.len()).await?;
        }
        Ok(self.producer.push(message)?)
    }

    /// Sends one `T` (see [`ipc_core::typed`]) as a message of its size.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_value<T: NoUninit>(&mut self, value: &T) -> Result<(), Error> {
        self.send(bytemuck::bytes_of(value)).await
    }

    /// The spinning phase of [`send`](Self::send) alone, for a caller outside the runtime:
    /// true when a `len`-byte message fits, and `get_mut().push` succeeds.
    ///
    /// # Errors
    /// [`Error::Reserve`] for a message the region can never take or a corrupt region.
    pub fn spin_for_room(&mut self, len: usize) -> Result<bool, Error> {
        let producer = &mut self.producer;
        self.waiting
            .spin(1, || producer.has_room_for(len).map_err(Error::from))
    }

    /// [`send`](Self::send) without its spinning phase (after
    /// [`spin_for_room`](Self::spin_for_room) found no room).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_sleeping(&mut self, message: &[u8]) -> Result<(), Error> {
        self.sleep_until_room(message.len()).await?;
        Ok(self.producer.push(message)?)
    }

    /// The wrapped producer.
    pub fn get_mut(&mut self) -> &mut BroadcastProducer<'a> {
        &mut self.producer
    }

    /// Sleeps until there is room for a `len`-byte message. An announcement a cancelled
    /// future leaves costs one ring for nobody later (see `BroadcastProducer::announce_sleep`).
    async fn sleep_until_room(&mut self, len: usize) -> Result<(), Error> {
        while let Some(index) = self.producer.announce_sleep(len)? {
            let Some(holder) = self.producer.subscriber_record(index) else {
                unreachable!("announce_sleep names a subscriber of the region");
            };
            let check = || match holder.peer_alive() {
                true => Ok(()),
                false => Err(Error::PeerGone),
            };
            self.waiting.sleep_checking(CHECK_EVERY, check).await?;
        }
        Ok(())
    }
}
