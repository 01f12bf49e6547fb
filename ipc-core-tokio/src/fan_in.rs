//! Awaiting messages from many producers: a fan-in region's consumer.

use std::os::fd::OwnedFd;
use std::time::Duration;

use ipc_core::channel::{FanInReader, Mapping};
use ipc_core::doorbell::ReaderSleeps;
use ipc_core::fan_in::FanInConsumer;
use ipc_core::spsc::ReadGrant;
use ipc_core::typed::bytemuck::AnyBitPattern;

use crate::sleep::Waiting;
use crate::Error;

/// A fan-in region's consumer that awaits messages from any lane, sleeping on an eventfd its
/// producers ring (a region laid out with [`ReaderSleeps::OnEventfd`], whose producers were
/// claimed with `FanIn::producer_with_doorbell`).
///
/// ```
/// use ipc_core::doorbell::{Doorbell, ReaderSleeps};
/// use ipc_core::fan_in::FanIn;
/// use ipc_core::Region;
/// use ipc_core_tokio::{eventfd, AsyncFanInConsumer};
/// use std::os::fd::AsFd;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut memory = vec![0u64; FanIn::required_len(2, 1024) / 8];
/// let region = FanIn::init_with(Region::from_slice(&mut memory), 2, 1024, ReaderSleeps::OnEventfd)?;
/// let wake_me = eventfd()?;
/// let mut consumer = AsyncFanInConsumer::new(region.consumer()?, wake_me.try_clone()?)?;
/// std::thread::scope(|s| {
///     for lane in 0..2 {
///         let mut producer = region.producer_with_doorbell(lane, Doorbell::eventfd(wake_me.as_fd())).unwrap();
///         s.spawn(move || producer.push(&[lane as u8; 4]).unwrap());
///     }
/// });
/// let mut buffer = [0u8; 16];
/// let mut lanes = Vec::new();
/// for _ in 0..2 {
///     let (lane, len) = consumer.recv(&mut buffer).await?;
///     assert_eq!(&buffer[..len], &[lane as u8; 4]);
///     lanes.push(lane);
/// }
/// lanes.sort();
/// assert_eq!(lanes, [0, 1]);
/// # Ok(())
/// # }
/// ```
pub struct AsyncFanInConsumer<'a> {
    consumer: FanInConsumer<'a>,
    waiting: Waiting<'a>,
    /// How often a sleeping consumer asks whether any producer may still send.
    check_every: Duration,
    /// A channel's memory, for a consumer made from a channel's reader (dropped last).
    _mapping: Option<Mapping>,
}

impl AsyncFanInConsumer<'static> {
    /// The reader of a one-call channel made with
    /// [`FanInChannel::memfd_with`](ipc_core::channel::FanInChannel::memfd_with) and
    /// [`ReaderSleeps::OnEventfd`], awaiting its messages: it owns its share of the mapping, so
    /// it moves into `tokio::spawn`. Call it inside a tokio runtime.
    ///
    /// ```
    /// use ipc_core::channel::FanInChannel;
    /// use ipc_core::doorbell::ReaderSleeps;
    /// use ipc_core::wait::Wait;
    /// use ipc_core_tokio::AsyncFanInConsumer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let channel = FanInChannel::memfd_with(2, 4096, ReaderSleeps::OnEventfd)?;
    /// let mut writer = channel.writer(1)?; // rings the reader's eventfd when it sleeps
    /// let mut reader = AsyncFanInConsumer::from_reader(channel.reader()?)?;
    /// let served = tokio::spawn(async move { reader.recv_value::<u64>().await });
    /// std::thread::spawn(move || writer.send_value(&42u64, &Wait::futex())).join().unwrap()?;
    /// assert_eq!(served.await??, (1, 42));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] for a channel whose reader sleeps on the futex; then as
    /// [`new`](Self::new).
    pub fn from_reader(reader: FanInReader) -> Result<Self, Error> {
        let (consumer, eventfd, mapping) = reader.into_parts()?;
        let eventfd = eventfd.ok_or(Error::NotAnEventfdSide("fan-in consumer"))?;
        let mut this = Self::new(consumer, eventfd)?;
        this._mapping = Some(mapping);
        Ok(this)
    }
}

impl<'a> AsyncFanInConsumer<'a> {
    /// Wraps `consumer`, which sleeps on `eventfd` (the one its producers were given as a
    /// doorbell). Call it inside a tokio runtime. While asleep it asks, every 100 ms, whether a
    /// producer of a lane not quarantined may still send, and ends the wait with
    /// [`FanInError::ProducerGone`](ipc_core::fan_in::FanInError::ProducerGone) for one that
    /// died holding its lane, or `PeerGone` once every one has exited (as the blocking read
    /// does).
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] when the region's consumer sleeps on the futex;
    /// [`Error::NoRuntime`] outside a tokio runtime; [`Error::Io`] for a descriptor tokio cannot
    /// register.
    pub fn new(consumer: FanInConsumer<'a>, eventfd: OwnedFd) -> Result<Self, Error> {
        if consumer.reader_sleeps() != ReaderSleeps::OnEventfd {
            return Err(Error::NotAnEventfdSide("fan-in consumer"));
        }
        Ok(Self {
            consumer,
            waiting: Waiting::new(eventfd, None)?,
            check_every: Duration::from_millis(100),
            _mapping: None,
        })
    }

    /// Checks exactly `spins` times before sleeping (0: sleep at once), instead of spinning
    /// adaptively.
    pub fn with_spins(mut self, spins: u32) -> Self {
        self.waiting.spinning = ipc_core::wait::Strategy::SpinThenFutex { spins };
        self
    }

    /// Asks whether the producers live every `every` while asleep, instead of every 100 ms.
    pub fn with_check_every(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// The next message from any lane not quarantined (round-robin), read in place, and its
    /// lane; release the grant to return its room.
    ///
    /// # Errors
    /// [`Error::FanIn`] naming a corrupt lane (quarantine it through
    /// [`get_mut`](Self::get_mut) to go on), a producer that died holding its lane, or every
    /// producer gone; [`Error::Io`] if the eventfd fails.
    pub async fn read(&mut self) -> Result<(usize, ReadGrant<'_, 'a>), Error> {
        let lane = self.ready_lane().await?;
        Ok(self.consumer.read_lane(lane)?)
    }

    /// Copies the next message into `buffer` and releases it; returns its lane and length.
    ///
    /// # Errors
    /// As [`read`](Self::read), and [`Error::FanIn`] with
    /// [`BufferTooSmall`](ipc_core::fan_in::FanInError::BufferTooSmall) for a message longer
    /// than `buffer`, which stays in its lane.
    pub async fn recv(&mut self, buffer: &mut [u8]) -> Result<(usize, usize), Error> {
        let lane = self.ready_lane().await?;
        let (lane, grant) = self.consumer.read_lane(lane)?;
        let len = grant.copy_into(buffer).map_err(|error| match error {
            ipc_core::ReadError::BufferTooSmall { len, buffer } => {
                ipc_core::fan_in::FanInError::BufferTooSmall { lane, len, buffer }.into()
            }
            other => Error::from(other),
        })?;
        Ok((lane, len))
    }

    /// Receives one `T` (see [`ipc_core::typed`]) from any lane; returns its lane and the value.
    ///
    /// # Errors
    /// As [`read`](Self::read); [`Error::WrongLength`] (naming the lane) for a message of
    /// another size, which stays in its lane.
    pub async fn recv_value<T: AnyBitPattern>(&mut self) -> Result<(usize, T), Error> {
        let lane = self.ready_lane().await?;
        let (lane, grant) = self.consumer.read_lane(lane)?;
        let value = ipc_core::typed::take_value(grant).map_err(|e| Error::typed(e, Some(lane)))?;
        Ok((lane, value))
    }

    /// The wrapped consumer (to quarantine a lane, or read without waiting).
    pub fn get_mut(&mut self) -> &mut FanInConsumer<'a> {
        &mut self.consumer
    }

    /// Spins, then sleeps, until a lane holds a whole message; returns that lane.
    async fn ready_lane(&mut self) -> Result<usize, Error> {
        let consumer = &mut self.consumer;
        self.waiting
            .spin(0, || Ok::<_, Error>(consumer.has_message()))?;
        loop {
            if let Some(lane) = self.consumer.poll_ready()? {
                return Ok(lane);
            }
            if !self.consumer.announce_sleep()? {
                continue;
            }
            // What to watch is taken before the sleep: the future then holds no shared borrow
            // of the consumer (which is Send, not Sync).
            let watch = self.consumer.producer_watch();
            let announced = Announced(&mut self.consumer);
            let check = move || Ok(watch.check()?);
            self.waiting.sleep_checking(self.check_every, check).await?;
            drop(announced);
        }
    }
}

/// An announced sleep, withdrawn when the wait ends or its future is dropped.
struct Announced<'c, 'a>(&'c mut FanInConsumer<'a>);

impl Drop for Announced<'_, '_> {
    fn drop(&mut self) {
        self.0.withdraw_sleep();
    }
}
