//! Awaiting a publisher's messages: a broadcast region's subscriber.

use std::os::fd::OwnedFd;

use ipc_core::broadcast::{Received, Subscriber};
use ipc_core::channel::{BroadcastSubscriber, Mapping};
use ipc_core::doorbell::ReaderSleeps;
use ipc_core::typed::bytemuck::{self, Pod};

use crate::sleep::{Waiting, Watch};
use crate::Error;

/// A broadcast region's subscriber that awaits messages, sleeping on the eventfd that every
/// subscriber of the region shares and its producer rings (a region laid out with
/// [`ReaderSleeps::OnEventfd`], whose producer was claimed with
/// `Broadcast::producer_with_doorbell`). One write of that eventfd wakes every subscriber that
/// sleeps; none reads its count.
///
/// ```
/// use ipc_core::broadcast::{Broadcast, Mode};
/// use ipc_core::doorbell::{Doorbell, ReaderSleeps};
/// use ipc_core::Region;
/// use ipc_core_tokio::{eventfd, AsyncSubscriber};
/// use std::os::fd::AsFd;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut memory = vec![0u64; Broadcast::required_len(4096) / 8];
/// let region = Broadcast::init_with(
///     Region::from_slice(&mut memory), 4096, 2, Mode::Backpressure, ReaderSleeps::OnEventfd)?;
/// let subscribers_sleep_on = eventfd()?;
/// let mut first = AsyncSubscriber::new(region.subscriber(0)?, subscribers_sleep_on.try_clone()?)?;
/// let mut second = AsyncSubscriber::new(region.subscriber(1)?, subscribers_sleep_on.try_clone()?)?;
/// let mut producer = region.producer_with_doorbell(Doorbell::eventfd(subscribers_sleep_on.as_fd()))?;
/// std::thread::scope(|s| {
///     s.spawn(move || producer.push(b"to all").unwrap());
/// });
/// let mut buffer = [0u8; 16];
/// for subscriber in [&mut first, &mut second] {
///     let received = subscriber.recv(&mut buffer).await?;
///     assert_eq!(&buffer[..received.len], b"to all");
/// }
/// # Ok(())
/// # }
/// ```
pub struct AsyncSubscriber<'a> {
    subscriber: Subscriber<'a>,
    waiting: Waiting<'a>,
    /// A channel's memory, for a subscriber made from a channel's (dropped last).
    _mapping: Option<Mapping>,
}

impl AsyncSubscriber<'static> {
    /// A subscriber of a one-call channel made with
    /// [`BroadcastChannel::memfd_with`](ipc_core::channel::BroadcastChannel::memfd_with) and
    /// [`ReaderSleeps::OnEventfd`], awaiting its messages: it owns its share of the mapping, so
    /// it moves into `tokio::spawn`. Call it inside a tokio runtime.
    ///
    /// ```
    /// use ipc_core::broadcast::Mode;
    /// use ipc_core::channel::BroadcastChannel;
    /// use ipc_core::doorbell::ReaderSleeps;
    /// use ipc_core::wait::Wait;
    /// use ipc_core_tokio::AsyncSubscriber;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let channel = BroadcastChannel::memfd_with(2, 4096, Mode::Lossy, ReaderSleeps::OnEventfd)?;
    /// let mut publisher = channel.publisher()?; // one write of the eventfd wakes both
    /// let mut tasks = Vec::new();
    /// for i in 0..2 {
    ///     let mut subscriber = AsyncSubscriber::from_subscriber(channel.subscriber(i)?)?;
    ///     tasks.push(tokio::spawn(async move { subscriber.recv_value::<u32>().await }));
    /// }
    /// std::thread::spawn(move || publisher.send_value(&7u32, &Wait::futex())).join().unwrap()?;
    /// for task in tasks {
    ///     assert_eq!(task.await??, (7, 0));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] for a channel whose subscribers sleep on the futex; then as
    /// [`new`](Self::new).
    pub fn from_subscriber(subscriber: BroadcastSubscriber) -> Result<Self, Error> {
        let (subscriber, eventfd, mapping) = subscriber.into_parts()?;
        let eventfd = eventfd.ok_or(Error::NotAnEventfdSide("subscriber"))?;
        let mut this = Self::new(subscriber, eventfd)?;
        this._mapping = Some(mapping);
        Ok(this)
    }
}

impl<'a> AsyncSubscriber<'a> {
    /// Wraps `subscriber`, which sleeps on `eventfd` (the one the producer was given as a
    /// doorbell, shared by every subscriber). Call it inside a tokio runtime. While asleep it
    /// asks the region's record of the producer's process every 100 ms and ends the wait with
    /// [`Error::PeerGone`] once that process has exited.
    ///
    /// # Errors
    /// [`Error::NotAnEventfdSide`] when the region's subscribers sleep on the futex;
    /// [`Error::NoRuntime`] outside a tokio runtime; [`Error::Io`] for a descriptor tokio cannot
    /// register.
    pub fn new(subscriber: Subscriber<'a>, eventfd: OwnedFd) -> Result<Self, Error> {
        if subscriber.reader_sleeps() != ReaderSleeps::OnEventfd {
            return Err(Error::NotAnEventfdSide("subscriber"));
        }
        let producer = subscriber.producer_record();
        Ok(Self {
            subscriber,
            waiting: Waiting::new(eventfd, Some(Watch::recorded(producer)))?,
            _mapping: None,
        })
    }

    /// Checks exactly `spins` times before sleeping (0: sleep at once), instead of spinning
    /// adaptively.
    pub fn with_spins(mut self, spins: u32) -> Self {
        self.waiting.spinning = ipc_core::wait::Strategy::SpinThenFutex { spins };
        self
    }

    /// Copies the next message into `buffer`; says its length and (lossy mode) how many
    /// messages this subscriber lost just before it.
    ///
    /// # Errors
    /// [`Error::Read`] for a corrupt region or a message longer than `buffer` (it stays where
    /// it is); [`Error::PeerGone`] once the producer's process has exited; [`Error::Io`] if the
    /// eventfd fails.
    pub async fn recv(&mut self, buffer: &mut [u8]) -> Result<Received, Error> {
        let subscriber = &mut self.subscriber;
        self.waiting
            .spin(0, || Ok::<_, Error>(subscriber.has_message()))?;
        loop {
            if let Some(received) = self.subscriber.pop(buffer)? {
                return Ok(received);
            }
            // Subscribers share the announcement: a wait cancelled here leaves it, and the
            // producer's next publish rings once for nobody.
            if self.subscriber.announce_sleep()? {
                self.waiting.sleep().await?;
            }
        }
    }

    /// Receives one `T` (see [`ipc_core::typed`]) and how many messages were lost before it.
    ///
    /// # Errors
    /// As [`recv`](Self::recv); [`Error::WrongLength`] for a message of another size (a shorter
    /// one is taken, a longer one stays where it is).
    pub async fn recv_value<T: Pod>(&mut self) -> Result<(T, u32), Error> {
        let mut value = T::zeroed();
        let received = self.recv(bytemuck::bytes_of_mut(&mut value)).await;
        let received = match received {
            Err(Error::Read(ipc_core::ReadError::BufferTooSmall { len, .. })) => {
                return Err(Error::WrongLength {
                    lane: None,
                    expected: size_of::<T>(),
                    found: len,
                })
            }
            other => other?,
        };
        if received.len != size_of::<T>() {
            return Err(Error::WrongLength {
                lane: None,
                expected: size_of::<T>(),
                found: received.len,
            });
        }
        Ok((value, received.lost))
    }

    /// The wrapped subscriber.
    pub fn get_mut(&mut self) -> &mut Subscriber<'a> {
        &mut self.subscriber
    }
}
