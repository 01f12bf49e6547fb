//! A broadcast channel: one publisher, every message to every subscriber, in one mapping
//! (backpressure, or lossy with a count of what each subscriber lost).

use super::memory::ChannelMemory;
use super::memory::{Mapping, Sleepers};
use super::ChannelError;
use crate::broadcast::{Broadcast, BroadcastProducer, Mode, Received, Subscriber};
use crate::doorbell::{ProducerSleeps, ReaderSleeps};
use crate::error::LayoutError;
use crate::typed::RecvError;
use crate::wait::Wait;
use crate::{ReadError, Region, ReserveError};
use bytemuck::{NoUninit, Pod};

/// The memory of a broadcast channel.
#[derive(Debug, Clone)]
pub struct BroadcastChannel {
    memory: ChannelMemory,
}

impl BroadcastChannel {
    /// A channel of `capacity` bytes for `subscribers` subscribers in `mode` (see
    /// [`Broadcast::init`]) in a new sealed memfd: share it by fork or with
    /// [`send_over`](Self::send_over).
    ///
    /// # Errors
    /// [`ChannelError::Layout`] for a count or capacity the structure refuses; the operating
    /// system's error.
    pub fn memfd(subscribers: usize, capacity: usize, mode: Mode) -> Result<Self, ChannelError> {
        Self::memfd_with(subscribers, capacity, mode, ReaderSleeps::OnFutex)
    }

    /// Like [`memfd`](Self::memfd), with the subscribers sleeping as `sleeps` says: with
    /// [`ReaderSleeps::OnEventfd`] the channel also makes the one eventfd every subscriber
    /// sleeps on (async subscribers: `ipc-core-tokio`'s `AsyncSubscriber::from_subscriber`),
    /// which the publisher rings, and which `send_over` passes with the memory.
    ///
    /// # Errors
    /// As [`memfd`](Self::memfd).
    pub fn memfd_with(
        subscribers: usize,
        capacity: usize,
        mode: Mode,
        sleeps: ReaderSleeps,
    ) -> Result<Self, ChannelError> {
        Self::memfd_sleeping(subscribers, capacity, mode, sleeps, ProducerSleeps::OnFutex)
    }

    /// Like [`memfd`](Self::memfd), with the `sides` an async runtime runs sleeping on an
    /// eventfd the channel makes: every subscriber on one the publisher rings, the publisher
    /// (waiting for room) on one the subscriber holding the room back rings; `send_over`
    /// passes them with the memory. Take an async publisher with `ipc-core-tokio`'s
    /// `AsyncPublisher::from_publisher`, async subscribers with
    /// `AsyncSubscriber::from_subscriber`; a side that sleeps on an eventfd refuses the
    /// blocking calls' futex sleeps.
    ///
    /// # Errors
    /// As [`memfd`](Self::memfd).
    pub fn memfd_async(
        subscribers: usize,
        capacity: usize,
        mode: Mode,
        sides: AsyncSides,
    ) -> Result<Self, ChannelError> {
        let (readers, producer) = sides.sleeps();
        Self::memfd_sleeping(subscribers, capacity, mode, readers, producer)
    }

    fn memfd_sleeping(
        subscribers: usize,
        capacity: usize,
        mode: Mode,
        readers: ReaderSleeps,
        producer: ProducerSleeps,
    ) -> Result<Self, ChannelError> {
        let sleepers = sleepers(readers, producer);
        let memory = ChannelMemory::memfd(Broadcast::required_len(capacity), sleepers, |region| {
            Broadcast::init_with_sleepers(region, capacity, subscribers, mode, readers, producer)
                .map(drop)
        })?;
        Ok(Self { memory })
    }

    /// The broadcast channel called `name` under `/dev/shm`, created or opened as
    /// [`Duplex::open_or_create`](super::Duplex::open_or_create) does (count, capacity and
    /// mode are the creator's).
    ///
    /// # Errors
    /// As [`Duplex::open_or_create`](super::Duplex::open_or_create).
    pub fn open_or_create(
        name: &str,
        subscribers: usize,
        capacity: usize,
        mode: Mode,
    ) -> Result<Self, ChannelError> {
        let memory = ChannelMemory::open_or_create(
            name,
            Broadcast::required_len(capacity),
            |region| Broadcast::init(region, capacity, subscribers, mode).map(drop),
            check,
        )?;
        Ok(Self { memory })
    }

    /// The publisher.
    ///
    /// # Errors
    /// [`ChannelError::Claim`] while another publisher holds the role.
    pub fn publisher(&self) -> Result<Publisher, ChannelError> {
        let broadcast = self.broadcast()?;
        let producer = match self.memory.doorbell(SUBSCRIBERS_SLOT) {
            None => broadcast.producer()?,
            Some(doorbell) => broadcast.producer_with_doorbell(doorbell)?,
        };
        Ok(Publisher {
            producer,
            memory: self.memory.clone(),
        })
    }

    /// Subscriber `index`.
    ///
    /// # Errors
    /// [`ChannelError::Claim`] for an index past the count or held by another subscriber.
    pub fn subscriber(&self, index: usize) -> Result<BroadcastSubscriber, ChannelError> {
        let broadcast = self.broadcast()?;
        let subscriber = match self.memory.doorbell(PUBLISHER_SLOT) {
            None => broadcast.subscriber(index)?,
            Some(doorbell) => broadcast.subscriber_with_doorbell(index, doorbell)?,
        };
        Ok(BroadcastSubscriber {
            subscriber,
            memory: self.memory.clone(),
        })
    }

    fn broadcast(&self) -> Result<Broadcast<'static>, LayoutError> {
        Broadcast::attach(self.memory.region())
    }
}

super::memory::shared_channel_methods!(BroadcastChannel, check);

fn check(region: Region<'static>) -> Result<Sleepers, LayoutError> {
    let broadcast = Broadcast::attach(region)?;
    Ok(sleepers(
        broadcast.reader_sleeps(),
        broadcast.producer_sleeps(),
    ))
}

/// The channel memory's eventfd slot of the one eventfd every subscriber sleeps on.
const SUBSCRIBERS_SLOT: usize = 0;
/// The slot of the eventfd the publisher sleeps on.
const PUBLISHER_SLOT: usize = 1;

/// Which sides of a broadcast channel an async runtime runs (sleeping on an eventfd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsyncSides {
    /// Every subscriber; the publisher is a plain one.
    Subscribers,
    /// The publisher; the subscribers are plain ones.
    Publisher,
    /// The publisher and every subscriber.
    Both,
}

impl AsyncSides {
    /// What the subscribers and the publisher sleep on.
    fn sleeps(self) -> (ReaderSleeps, ProducerSleeps) {
        match self {
            Self::Subscribers => (ReaderSleeps::OnEventfd, ProducerSleeps::OnFutex),
            Self::Publisher => (ReaderSleeps::OnFutex, ProducerSleeps::OnEventfd),
            Self::Both => (ReaderSleeps::OnEventfd, ProducerSleeps::OnEventfd),
        }
    }
}

/// The eventfd slots of a channel whose subscribers and publisher sleep as said.
fn sleepers(readers: ReaderSleeps, producer: ProducerSleeps) -> Sleepers {
    let mut sleepers = [false; 2];
    sleepers[SUBSCRIBERS_SLOT] = readers == ReaderSleeps::OnEventfd;
    sleepers[PUBLISHER_SLOT] = producer == ProducerSleeps::OnEventfd;
    sleepers
}

/// The publisher of a broadcast channel, holding the mapping. `Send`, `'static`.
#[derive(Debug)]
pub struct Publisher {
    // Dropped before the mapping it points into (fields drop in order).
    producer: BroadcastProducer<'static>,
    memory: ChannelMemory,
}

impl Publisher {
    /// The producer, the eventfd it sleeps on for room (a new descriptor; when the channel
    /// was made with [`AsyncSides::Publisher`] or [`AsyncSides::Both`]), and what keeps the
    /// memory mapped: for an async adapter, which must drop the producer before the
    /// [`Mapping`].
    ///
    /// # Errors
    /// The operating system's error from duplicating the eventfd.
    pub fn into_parts(
        self,
    ) -> std::io::Result<(
        BroadcastProducer<'static>,
        Option<std::os::fd::OwnedFd>,
        Mapping,
    )> {
        let eventfd = self.memory.eventfd(PUBLISHER_SLOT)?;
        Ok((self.producer, eventfd, Mapping::of(self.memory)))
    }

    /// Copies `message` to every subscriber, waiting for the slowest as `how` says (never, in
    /// lossy mode).
    ///
    /// # Errors
    /// As [`BroadcastProducer::push_blocking`].
    pub fn send(&mut self, message: &[u8], how: &Wait<'_>) -> Result<(), ReserveError> {
        self.producer.push_blocking(message, how)
    }

    /// Sends `value`, a plain-old-data `T` (see [`crate::typed`]), to every subscriber as one
    /// message of its size, waiting as [`send`](Self::send) does.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_value<T: NoUninit>(
        &mut self,
        value: &T,
        how: &Wait<'_>,
    ) -> Result<(), ReserveError> {
        self.send(bytemuck::bytes_of(value), how)
    }

    /// Copies `message` to every subscriber if there is room now (always, in lossy mode).
    ///
    /// # Errors
    /// As [`BroadcastProducer::push`].
    pub fn try_send(&mut self, message: &[u8]) -> Result<(), ReserveError> {
        self.producer.push(message)
    }
}

/// A subscriber of a broadcast channel, holding the mapping. `Send`, `'static`.
#[derive(Debug)]
pub struct BroadcastSubscriber {
    // Dropped before the mapping it points into (fields drop in order).
    subscriber: Subscriber<'static>,
    memory: ChannelMemory,
}

impl BroadcastSubscriber {
    /// The subscriber, the eventfd it sleeps on (a new descriptor; when the channel was made
    /// with [`ReaderSleeps::OnEventfd`]), and what keeps the memory mapped: for an async
    /// adapter, which must drop the subscriber before the [`Mapping`].
    ///
    /// # Errors
    /// The operating system's error from duplicating the eventfd.
    pub fn into_parts(
        self,
    ) -> std::io::Result<(Subscriber<'static>, Option<std::os::fd::OwnedFd>, Mapping)> {
        let eventfd = self.memory.eventfd(SUBSCRIBERS_SLOT)?;
        Ok((self.subscriber, eventfd, Mapping::of(self.memory)))
    }

    /// Copies the next message into `buffer`, waiting as `how` says; says its length and how
    /// many were lost before it (lossy mode).
    ///
    /// # Errors
    /// As [`Subscriber::pop_blocking`].
    pub fn recv(&mut self, buffer: &mut [u8], how: &Wait<'_>) -> Result<Received, ReadError> {
        self.subscriber.pop_blocking(buffer, how)
    }

    /// Receives one `T` (see [`crate::typed`]), waiting as `how` says; also says how many
    /// messages were lost before it (lossy mode).
    ///
    /// # Errors
    /// [`RecvError::WrongLength`] for a shorter message (consumed) or, as
    /// [`ReadError::BufferTooSmall`] in [`RecvError::Read`], a longer one (left where it is);
    /// otherwise as [`recv`](Self::recv).
    pub fn recv_value<T: Pod>(&mut self, how: &Wait<'_>) -> Result<(T, u32), RecvError> {
        let mut value = T::zeroed();
        let received = self.recv(bytemuck::bytes_of_mut(&mut value), how)?;
        let expected = core::mem::size_of::<T>();
        if received.len != expected {
            return Err(RecvError::WrongLength {
                expected,
                found: received.len,
            });
        }
        Ok((value, received.lost))
    }

    /// Copies the next message into `buffer` if one is there.
    ///
    /// # Errors
    /// As [`Subscriber::pop`].
    pub fn try_recv(&mut self, buffer: &mut [u8]) -> Result<Option<Received>, ReadError> {
        self.subscriber.pop(buffer)
    }
}

#[cfg(all(test, not(miri), not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_gets_every_message_and_a_lossy_one_counts_what_it_lost() {
        let channel = BroadcastChannel::memfd(2, 4096, Mode::Backpressure).unwrap();
        let mut publisher = channel.publisher().unwrap();
        let subscribers = [
            channel.subscriber(0).unwrap(),
            channel.subscriber(1).unwrap(),
        ];
        assert!(matches!(channel.subscriber(2), Err(ChannelError::Claim(_))));
        let readers = subscribers.map(|mut subscriber| {
            std::thread::spawn(move || {
                let mut buffer = [0u8; 8];
                (0..10u8)
                    .map(|_| {
                        subscriber
                            .recv(&mut buffer, &Wait::futex())
                            .map(|r| buffer[..r.len].to_vec())
                    })
                    .collect::<Result<std::vec::Vec<_>, _>>()
                    .unwrap()
            })
        });
        for n in 0..10u8 {
            publisher.send(&[n; 4], &Wait::futex()).unwrap();
        }
        for reader in readers {
            let got = reader.join().unwrap();
            assert_eq!(
                got,
                (0..10u8)
                    .map(|n| std::vec![n; 4])
                    .collect::<std::vec::Vec<_>>()
            );
        }
        let typed = BroadcastChannel::memfd(1, 4096, Mode::Backpressure).unwrap();
        let (mut publisher, mut subscriber) =
            (typed.publisher().unwrap(), typed.subscriber(0).unwrap());
        publisher
            .send_value(&[1.5f64, -2.0], &Wait::busy_poll())
            .unwrap();
        assert_eq!(
            subscriber
                .recv_value::<[f64; 2]>(&Wait::busy_poll())
                .unwrap(),
            ([1.5, -2.0], 0)
        );
        publisher.send(b"odd", &Wait::busy_poll()).unwrap();
        assert_eq!(
            subscriber.recv_value::<u64>(&Wait::busy_poll()),
            Err(RecvError::WrongLength {
                expected: 8,
                found: 3
            })
        );
        let lossy = BroadcastChannel::memfd(1, 256, Mode::Lossy).unwrap();
        let (mut publisher, mut subscriber) =
            (lossy.publisher().unwrap(), lossy.subscriber(0).unwrap());
        for n in 0..64u8 {
            publisher.try_send(&[n; 8]).unwrap();
        }
        let mut buffer = [0u8; 8];
        let first = subscriber
            .try_recv(&mut buffer)
            .unwrap()
            .expect("the newest survive");
        assert!(first.lost > 0, "{first:?}");
        assert_eq!(
            buffer[0] as u32, first.lost,
            "it lost exactly the ones before"
        );
    }

    #[test]
    fn a_channel_whose_publisher_sleeps_on_an_eventfd_passes_both_eventfds_in_slot_order() {
        use crate::doorbell::test_eventfd::rung;
        let (left, right) = std::os::unix::net::UnixStream::pair().unwrap();
        let channel =
            BroadcastChannel::memfd_async(2, 256, Mode::Backpressure, AsyncSides::Both).unwrap();
        channel.send_over(&left).unwrap();
        let received = BroadcastChannel::receive_over(&right).unwrap();
        // Neither side's blocking call may sleep on the futex.
        let mut publisher = channel.publisher().unwrap();
        while publisher.try_send(&[7; 8]).is_ok() {}
        assert!(matches!(
            publisher.send(&[7; 8], &Wait::futex()),
            Err(ReserveError::Wait(crate::wait::WaitError::SleepsOnEventfd))
        ));
        let (mut producer, publisher_sleeps_on, _mapping) = publisher.into_parts().unwrap();
        let publisher_sleeps_on = publisher_sleeps_on.expect("the publisher sleeps on an eventfd");
        // Subscribers taken from the received channel: each holds the publisher's doorbell,
        // and comes with the eventfd it sleeps on itself (the other slot).
        let mut subscribers = [0, 1].map(|index| {
            let (subscriber, sleeps_on, mapping) =
                received.subscriber(index).unwrap().into_parts().unwrap();
            assert!(
                sleeps_on.is_some(),
                "subscriber {index}'s eventfd did not come"
            );
            (subscriber, mapping)
        });
        let index = producer
            .announce_sleep(8)
            .unwrap()
            .expect("the ring is full: the publisher sleeps");
        let mut buffer = [0u8; 8];
        // The subscriber that is not holding the room back rings nobody...
        subscribers[1 - index].0.pop(&mut buffer).unwrap().unwrap();
        assert_eq!(rung(&publisher_sleeps_on), 0, "rung by a subscriber ahead");
        // ...the slowest one rings the sleeping publisher.
        subscribers[index].0.pop(&mut buffer).unwrap().unwrap();
        assert_eq!(
            rung(&publisher_sleeps_on),
            1,
            "the sleeping publisher was not rung"
        );
        assert!(producer.has_room_for(8).unwrap());
        // Both eventfds must come with such a channel's memory: the memory alone is refused.
        crate::shm::send_fd(&left, std::os::fd::AsFd::as_fd(&channel)).unwrap();
        let refused = std::format!("{}", BroadcastChannel::receive_over(&right).unwrap_err());
        assert!(
            refused.contains("sleep on 2 eventfd(s) and 0 came"),
            "{refused}"
        );
        // A publisher sleeping on the futex comes with no eventfd.
        let futex = BroadcastChannel::memfd(1, 256, Mode::Backpressure).unwrap();
        assert!(futex.publisher().unwrap().into_parts().unwrap().1.is_none());
        let subscribers_only =
            BroadcastChannel::memfd_async(1, 256, Mode::Lossy, AsyncSides::Subscribers).unwrap();
        let (_, none, _) = subscribers_only.publisher().unwrap().into_parts().unwrap();
        assert!(none.is_none());
    }
}
