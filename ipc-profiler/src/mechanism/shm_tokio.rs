//! `shm-tokio`: ipc-core rings, one per direction, with both sides in tokio runtimes through
//! the `ipc-core-tokio` adapter: a side spins briefly, then awaits an eventfd its peer rings
//! only when it sleeps. Publish-subscribe goes through one broadcast region, as `shm-futex`'s
//! does: the subscribers share one eventfd, which one write wakes them all through, and the
//! publisher awaits room on another, which the subscriber holding the space rings.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use ipc_core::broadcast::{Broadcast, BroadcastProducer, Subscriber};
use ipc_core::doorbell::{Doorbell, ProducerSleeps, ReaderSleeps};
use ipc_core::role::ClaimError;
use ipc_core::shm::SharedMemory;
use ipc_core::spsc::{Consumer, EventfdSides, Producer, Spsc, Wakeups};
use ipc_core_tokio::{AsyncConsumer, AsyncProducer, AsyncPublisher, AsyncSubscriber};

use super::endpoints::ring_pair;
use super::endpoints::runtime::Lazy;
use super::endpoints::{check_len, none_lost, wrong_way};
use super::{BroadcastChannel, Channel, Endpoint, Mechanism};
use crate::config::BenchConfig;
use crate::result::{Pattern, Wake};

/// ipc-core rings awaited from tokio.
pub struct ShmTokio;

impl Mechanism for ShmTokio {
    fn name(&self) -> &'static str {
        "shm-tokio"
    }

    fn summary(&self) -> &'static str {
        "ipc-core ring (memfd) in tokio runtimes; spin, then await an eventfd the peer rings"
    }

    fn wake(&self) -> Wake {
        Wake::SpinThenSleep
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        ring_pair::unsupported_size(config.message_size)
            .or_else(|| one_connection_per_pair("shm-tokio", config))
    }

    fn connect_broadcast(
        &self,
        size: usize,
        subscribers: usize,
        lossy: bool,
    ) -> io::Result<Option<BroadcastChannel>> {
        let mode = ring_pair::broadcast_mode(lossy);
        let capacity = ring_pair::capacity_for(size);
        let memory = SharedMemory::memfd("broadcast", Broadcast::required_len(capacity))?;
        Broadcast::init_with_sleepers(
            memory.region(),
            capacity,
            subscribers,
            mode,
            ReaderSleeps::OnEventfd,
            ProducerSleeps::OnEventfd,
        )
        .map_err(io::Error::other)?;
        let subscribers_sleep_on = ipc_core_tokio::eventfd()?;
        let publisher_sleeps_on = ipc_core_tokio::eventfd()?;
        let publisher = TokioPublisher::claim(
            &memory,
            &subscribers_sleep_on,
            &publisher_sleeps_on,
            |region, ring| region.producer_with_doorbell(ring),
        )?;
        let mut ends: Vec<Box<dyn Endpoint>> = Vec::with_capacity(subscribers);
        for index in 0..subscribers {
            ends.push(Box::new(TokioSubscriber::claim(
                &memory,
                &publisher_sleeps_on,
                &subscribers_sleep_on,
                |region, ring| region.subscriber_with_doorbell(index, ring),
            )?));
        }
        Ok(Some(BroadcastChannel {
            publisher: Box::new(publisher),
            subscribers: ends,
            cleanup: Default::default(),
        }))
    }

    fn broadcasts(&self) -> bool {
        true
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let capacity = ring_pair::capacity_for(size);
        let len = Spsc::required_len(capacity);
        let to_server = Ring::new("to-server", len, capacity)?;
        let to_client = Ring::new("to-client", len, capacity)?;
        let client = TokioRingEnd::new(&to_server, &to_client)?;
        let server = TokioRingEnd::new(&to_client, &to_server)?;
        Ok(Channel::new(Box::new(client), Box::new(server)))
    }
}

/// Why a tokio mechanism cannot run `config`'s pattern: they have one connection per pair of
/// processes, and no async many-writer channel (fan-in, a server's request channel).
pub fn one_connection_per_pair(name: &str, config: &BenchConfig) -> Option<String> {
    matches!(config.pattern, Pattern::FanIn | Pattern::RequestResponse).then(|| {
        format!(
            "{name} has no many-writer channel: it measures what a tokio runtime adds to one \
             connection (latency, throughput, pipeline, pub-sub)"
        )
    })
}

/// One ring whose sides both sleep on eventfds: its memory and the two eventfds.
struct Ring {
    memory: SharedMemory,
    consumer_sleeps_on: OwnedFd,
    producer_sleeps_on: OwnedFd,
}

impl Ring {
    fn new(name: &str, len: usize, capacity: usize) -> io::Result<Self> {
        let memory = SharedMemory::memfd(name, len)?;
        Spsc::init_with(
            memory.region(),
            capacity,
            Wakeups::Eventfd(EventfdSides::Both),
        )
        .map_err(io::Error::other)?;
        Ok(Self {
            memory,
            consumer_sleeps_on: ipc_core_tokio::eventfd()?,
            producer_sleeps_on: ipc_core_tokio::eventfd()?,
        })
    }
}

/// The plain sides, as made in the controller, and the eventfds each sleeps on.
struct PlainSides {
    tx: Producer<'static>,
    tx_sleeps_on: OwnedFd,
    rx: Consumer<'static>,
    rx_sleeps_on: OwnedFd,
}

/// One side: produces into one ring, consumes from the other, both awaited in tokio.
struct TokioRingEnd {
    // Declared first so they are dropped first: they borrow the memory and the doorbells.
    sides: Lazy<PlainSides, (AsyncProducer<'static>, AsyncConsumer<'static>)>,
    /// The peer's eventfds this side rings (its doorbells borrow them).
    _doorbells: [OwnedFd; 2],
    _memory: [SharedMemory; 2],
}

/// A doorbell on `fd` for as long as the endpoint that owns `fd` lives.
///
/// # Safety
/// `fd` must outlive every use of the doorbell: the endpoint keeps it in `_doorbells`, which
/// is dropped after the sides that ring it.
unsafe fn doorbell(fd: &OwnedFd) -> Doorbell<'static> {
    // SAFETY: the caller keeps `fd` open for as long as the doorbell is used.
    Doorbell::eventfd(unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) })
}

impl TokioRingEnd {
    fn new(out: &Ring, inbound: &Ring) -> io::Result<Self> {
        // The sides borrow the mappings kept in `_memory`, and are dropped first (field order).
        let memory = [out.memory.map_again()?, inbound.memory.map_again()?];
        let doorbells = [
            out.consumer_sleeps_on.try_clone()?,
            inbound.producer_sleeps_on.try_clone()?,
        ];
        // SAFETY: both descriptors are kept in `_doorbells`, dropped after `sides`.
        let (ring_consumer, ring_producer) =
            unsafe { (doorbell(&doorbells[0]), doorbell(&doorbells[1])) };
        let tx = ring_pair::attach_static(&memory[0], Spsc::attach)?
            .producer_with_doorbell(ring_consumer)
            .map_err(io::Error::other)?;
        let rx = ring_pair::attach_static(&memory[1], Spsc::attach)?
            .consumer_with_doorbell(ring_producer)
            .map_err(io::Error::other)?;
        Ok(Self {
            sides: Lazy::Plain(PlainSides {
                tx,
                tx_sleeps_on: out.producer_sleeps_on.try_clone()?,
                rx,
                rx_sleeps_on: inbound.consumer_sleeps_on.try_clone()?,
            }),
            _doorbells: doorbells,
            _memory: memory,
        })
    }

    fn started(
        &mut self,
    ) -> io::Result<(
        &tokio::runtime::Runtime,
        &mut (AsyncProducer<'static>, AsyncConsumer<'static>),
    )> {
        self.sides.get(|plain| {
            let tx = AsyncProducer::new(plain.tx, plain.tx_sleeps_on).map_err(io::Error::other)?;
            let rx = AsyncConsumer::new(plain.rx, plain.rx_sleeps_on).map_err(io::Error::other)?;
            Ok((tx, rx))
        })
    }
}

/// Each call runs the future's spinning phase itself and enters the runtime (`block_on`) only
/// to sleep, as a task already running inside a runtime would: entering a runtime costs
/// 130-140 ns per call here (a `block_on` of a ready future, AMD EPYC VM), a cost of this
/// synchronous harness, not of tokio.
impl Endpoint for TokioRingEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let (runtime, (tx, _)) = self.started()?;
        if tx.spin_for_room(message.len()).map_err(io::Error::other)? {
            let mut grant = tx
                .get_mut()
                .reserve(message.len())
                .map_err(io::Error::other)?;
            grant.copy_from_slice(message);
            grant.commit();
            return Ok(());
        }
        runtime
            .block_on(tx.send_sleeping(message))
            .map_err(io::Error::other)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let (runtime, (_, rx)) = self.started()?;
        let copy = |grant: ipc_core::spsc::ReadGrant<'_, '_>, buffer: &mut [u8]| {
            check_len(grant.len(), buffer.len())?;
            buffer.copy_from_slice(&grant);
            grant.release();
            Ok(())
        };
        if rx.spin_for_message().map_err(io::Error::other)? {
            let grant = rx.get_mut().read().map_err(io::Error::other)?;
            return copy(grant.expect("a message was seen ready"), buffer);
        }
        runtime.block_on(async {
            let grant = rx.read_sleeping().await.map_err(io::Error::other)?;
            copy(grant, buffer)
        })
    }
}

/// One side of the broadcast region, as it waits in the controller for its worker: its claim
/// (made with the doorbell of the eventfd it rings), the eventfd it sleeps on, and what they
/// borrow; started as `Started` in a runtime at its first use.
struct BroadcastSide<Plain, Started> {
    // Declared first so that it is dropped first: it borrows the memory and the doorbell.
    side: Lazy<(Plain, OwnedFd), Started>,
    /// The eventfd the other kind of side sleeps on, which this side rings.
    _doorbell: OwnedFd,
    _memory: SharedMemory,
}

impl<Plain, Started> BroadcastSide<Plain, Started> {
    /// Claims a side of the region in `memory` with `claim`, given the doorbell of `rings`;
    /// it will sleep on `sleeps_on`.
    fn claim(
        memory: &SharedMemory,
        rings: &OwnedFd,
        sleeps_on: &OwnedFd,
        claim: impl FnOnce(Broadcast<'static>, Doorbell<'static>) -> Result<Plain, ClaimError>,
    ) -> io::Result<Self> {
        let mine = memory.map_again()?;
        let bell = rings.try_clone()?;
        // SAFETY: the descriptor is kept in `_doorbell`, dropped after `side`.
        let ring = unsafe { doorbell(&bell) };
        let region = ring_pair::attach_static(&mine, Broadcast::attach)?;
        let plain = claim(region, ring).map_err(io::Error::other)?;
        Ok(Self {
            side: Lazy::Plain((plain, sleeps_on.try_clone()?)),
            _doorbell: bell,
            _memory: mine,
        })
    }
}

/// The broadcast publisher: a tokio side that awaits room.
type TokioPublisher = BroadcastSide<BroadcastProducer<'static>, AsyncPublisher<'static>>;

impl Endpoint for TokioPublisher {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let (runtime, publisher) = self.side.get(|(producer, sleeps_on)| {
            AsyncPublisher::new(producer, sleeps_on).map_err(io::Error::other)
        })?;
        if publisher
            .spin_for_room(message.len())
            .map_err(io::Error::other)?
        {
            return publisher.get_mut().push(message).map_err(io::Error::other);
        }
        runtime
            .block_on(publisher.send_sleeping(message))
            .map_err(io::Error::other)
    }

    fn recv(&mut self, _buffer: &mut [u8]) -> io::Result<()> {
        Err(wrong_way("a publisher does not receive"))
    }
}

/// One broadcast subscriber: a tokio side that awaits messages.
type TokioSubscriber = BroadcastSide<Subscriber<'static>, AsyncSubscriber<'static>>;

impl Endpoint for TokioSubscriber {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(wrong_way("a subscriber does not send"))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        none_lost(self.recv_counting_losses(buffer)?)
    }

    fn recv_counting_losses(&mut self, buffer: &mut [u8]) -> io::Result<u32> {
        let (runtime, subscriber) = self.side.get(|(subscriber, sleeps_on)| {
            AsyncSubscriber::new(subscriber, sleeps_on).map_err(io::Error::other)
        })?;
        let received = match subscriber.get_mut().pop(buffer).map_err(io::Error::other)? {
            Some(received) => received,
            None => runtime
                .block_on(subscriber.recv(buffer))
                .map_err(io::Error::other)?,
        };
        check_len(received.len, buffer.len())?;
        Ok(received.lost)
    }
}
