//! The ipc-core structures behind the ring-based mechanisms (`shm-spin`, `shm-futex`, `mmap`):
//! two SPSC rings, one per direction, for a pair; a fan-in region for many writers; a broadcast
//! region for a publisher and its subscribers. Each endpoint maps the memory at its own
//! addresses, as separate programs would.

use std::io;

use ipc_core::broadcast::{Broadcast, BroadcastProducer, Mode, Subscriber};
use ipc_core::fan_in::{FanIn, FanInConsumer, FanInProducer};
use ipc_core::shm::SharedMemory;
use ipc_core::spsc::{Consumer, Producer, Spsc, Wakeups};
use ipc_core::wait::{Strategy, Wait};
use ipc_core::Region;

use super::{check_len, none_lost, wrong_way};
use crate::mechanism::{BroadcastChannel, Channel, Endpoint, FanInChannel};

/// What backs the rings' memory.
#[derive(Clone, Copy)]
pub enum Backing {
    /// Anonymous memfds, sealed.
    Memfd,
    /// Regular files without a name (`O_TMPFILE`) in the temporary directory, mapped
    /// `MAP_SHARED`.
    TempFile,
}

/// The data-area capacity for messages of `size` bytes: room for at least four, and 64 KiB at
/// least so that small messages never wait for space in a round trip.
pub fn capacity_for(size: usize) -> usize {
    (4 * (size + 16)).next_power_of_two().max(64 << 10)
}

/// Why a ring cannot carry `size`-byte messages, if it cannot.
pub fn unsupported_size(size: usize) -> Option<String> {
    (capacity_for(size) > ipc_core::spsc::MAX_CAPACITY).then(|| {
        format!(
            "an ipc-core ring holds at most {} bytes",
            ipc_core::spsc::MAX_CAPACITY
        )
    })
}

/// Creates both rings and a connected pair of endpoints that wait as `strategy` says.
pub fn connect(size: usize, backing: Backing, strategy: Strategy) -> io::Result<Channel> {
    // A busy-polling pair never sleeps, so its rings skip the locked swap a sleeper needs.
    let wakeups = match strategy {
        Strategy::BusyPoll => Wakeups::SpinOnly,
        _ => Wakeups::Futex,
    };
    let wait = Wait {
        strategy,
        ..Wait::futex()
    };
    let [client, server] = pair(size, backing, wakeups)?;
    Ok(Channel::new(
        Box::new(RingEnd {
            rings: client,
            wait,
        }),
        Box::new(RingEnd {
            rings: server,
            wait,
        }),
    ))
}

/// Both rings of a pair for `size`-byte messages, laid out for `wakeups`: the client's sides
/// (sending to the server, receiving from it), then the server's, each mapped on its own.
pub fn pair(size: usize, backing: Backing, wakeups: Wakeups) -> io::Result<[Rings; 2]> {
    let capacity = capacity_for(size);
    let len = Spsc::required_len(capacity);
    let to_server = create(&backing, "to-server", len)?;
    let to_client = create(&backing, "to-client", len)?;
    Spsc::init_with(to_server.region(), capacity, wakeups).map_err(io::Error::other)?;
    Spsc::init_with(to_client.region(), capacity, wakeups).map_err(io::Error::other)?;
    Ok([
        Rings::new(to_server.map_again()?, to_client.map_again()?)?,
        Rings::new(to_client.map_again()?, to_server.map_again()?)?,
    ])
}

fn create(backing: &Backing, name: &str, len: usize) -> io::Result<SharedMemory> {
    match backing {
        Backing::Memfd => SharedMemory::memfd(name, len),
        // A file without a name (O_TMPFILE): no run, however it ends, leaves one behind, and
        // there is no predictable name in a shared directory for anyone to plant a link at.
        Backing::TempFile => {
            let dir = std::env::temp_dir();
            SharedMemory::unnamed_file_in(&dir, len).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("{name}: an unnamed file in {}: {e}", dir.display()),
                )
            })
        }
    }
}

/// One side's rings: it produces into one and consumes from the other, each mapped at its own
/// address.
pub struct Rings {
    // Declared before the memory so they are dropped first: they borrow it.
    /// The ring it sends on.
    pub tx: Producer<'static>,
    /// The ring it receives on.
    pub rx: Consumer<'static>,
    _memory: [SharedMemory; 2],
}

impl Rings {
    fn new(tx_memory: SharedMemory, rx_memory: SharedMemory) -> io::Result<Self> {
        // SAFETY: the regions are the mappings owned by `_memory`, which live as long as this
        // value and do not move when it moves (they are mmap'ed pages); the producer and
        // consumer that borrow them are dropped first (field order).
        let (tx_region, rx_region) = unsafe {
            (
                Region::from_raw(tx_memory.region().base(), tx_memory.len()),
                Region::from_raw(rx_memory.region().base(), rx_memory.len()),
            )
        };
        let tx = Spsc::attach(tx_region)
            .map_err(io::Error::other)?
            .producer()
            .map_err(io::Error::other)?;
        let rx = Spsc::attach(rx_region)
            .map_err(io::Error::other)?
            .consumer()
            .map_err(io::Error::other)?;
        Ok(Self {
            tx,
            rx,
            _memory: [tx_memory, rx_memory],
        })
    }
}

/// One side of a pair, waiting as ipc-core's own waits do.
struct RingEnd {
    rings: Rings,
    wait: Wait<'static>,
}

impl Endpoint for RingEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let mut grant = self
            .rings
            .tx
            .reserve_blocking(message.len(), &self.wait)
            .map_err(io::Error::other)?;
        grant.copy_from_slice(message);
        grant.commit();
        Ok(())
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let grant = self
            .rings
            .rx
            .read_blocking(&self.wait)
            .map_err(io::Error::other)?;
        check_len(grant.len(), buffer.len())?;
        buffer.copy_from_slice(&grant);
        grant.release();
        Ok(())
    }
}

/// An ipc-core fan-in region: one lane per writer, one reader; every process maps it at its
/// own address.
pub fn connect_fan_in(
    size: usize,
    writers: usize,
    backing: Backing,
    strategy: Strategy,
) -> io::Result<FanInChannel> {
    let capacity = capacity_for(size);
    let memory = create(&backing, "fan-in", FanIn::required_len(writers, capacity))?;
    FanIn::init(memory.region(), writers, capacity).map_err(io::Error::other)?;
    let wait = Wait {
        strategy,
        ..Wait::futex()
    };
    let mut ends: Vec<Box<dyn Endpoint>> = Vec::new();
    for lane in 0..writers {
        let mine = memory.map_again()?;
        let fan_in = attach_static(&mine, FanIn::attach)?;
        ends.push(Box::new(LaneWriter {
            producer: fan_in.producer(lane).map_err(io::Error::other)?,
            wait,
            _memory: mine,
        }));
    }
    let mine = memory.map_again()?;
    let fan_in = attach_static(&mine, FanIn::attach)?;
    let reader = LaneReader {
        consumer: fan_in.consumer().map_err(io::Error::other)?,
        wait,
        _memory: mine,
    };
    Ok(FanInChannel::new(ends, Box::new(reader)))
}

/// Attaches `attach`'s structure (a fan-in or broadcast region) to `memory` for as long as
/// the mapping lives: the endpoint built from it owns `memory`.
pub fn attach_static<T>(
    memory: &SharedMemory,
    attach: fn(Region<'static>) -> Result<T, ipc_core::LayoutError>,
) -> io::Result<T> {
    // SAFETY: the region is `memory`'s mapping; every endpoint built from it owns that mapping
    // and drops the borrowing producer or consumer first (field order), and mmap'ed pages do
    // not move.
    let region = unsafe { Region::from_raw(memory.region().base(), memory.len()) };
    attach(region).map_err(io::Error::other)
}

/// One fan-in writer: a lane's producer.
struct LaneWriter {
    producer: FanInProducer<'static>,
    wait: Wait<'static>,
    _memory: SharedMemory,
}

impl Endpoint for LaneWriter {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.producer
            .push_blocking(message, &self.wait)
            .map_err(io::Error::other)
    }

    fn recv(&mut self, _buffer: &mut [u8]) -> io::Result<()> {
        Err(wrong_way("a fan-in writer does not receive"))
    }
}

/// The fan-in reader: serves every lane.
struct LaneReader {
    consumer: FanInConsumer<'static>,
    wait: Wait<'static>,
    _memory: SharedMemory,
}

impl Endpoint for LaneReader {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(wrong_way("a fan-in reader does not send"))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let (_, len) = self
            .consumer
            .pop_blocking(buffer, &self.wait)
            .map_err(io::Error::other)?;
        check_len(len, buffer.len())
    }
}

/// The broadcast region's mode a pub-sub run asks for: lossy (`--lossy`), or backpressure.
pub fn broadcast_mode(lossy: bool) -> Mode {
    if lossy {
        Mode::Lossy
    } else {
        Mode::Backpressure
    }
}

/// An ipc-core broadcast region in `mode` (backpressure: the publisher waits for the slowest
/// subscriber; lossy: it never waits) with one subscriber slot per subscriber; every process
/// maps it at its own address.
pub fn connect_broadcast(
    size: usize,
    subscribers: usize,
    mode: Mode,
    backing: Backing,
    strategy: Strategy,
) -> io::Result<BroadcastChannel> {
    let capacity = capacity_for(size);
    let memory = create(&backing, "broadcast", Broadcast::required_len(capacity))?;
    Broadcast::init(memory.region(), capacity, subscribers, mode).map_err(io::Error::other)?;
    let wait = Wait {
        strategy,
        ..Wait::futex()
    };
    let mine = memory.map_again()?;
    let publisher = Publisher {
        producer: attach_static(&mine, Broadcast::attach)?
            .producer()
            .map_err(io::Error::other)?,
        wait,
        _memory: mine,
    };
    let mut ends: Vec<Box<dyn Endpoint>> = Vec::new();
    for index in 0..subscribers {
        let mine = memory.map_again()?;
        let subscriber = attach_static(&mine, Broadcast::attach)?
            .subscriber(index)
            .map_err(io::Error::other)?;
        ends.push(Box::new(SubscriberEnd {
            subscriber,
            wait,
            _memory: mine,
        }));
    }
    Ok(BroadcastChannel {
        publisher: Box::new(publisher),
        subscribers: ends,
        cleanup: Default::default(),
    })
}

/// The broadcast publisher.
struct Publisher {
    producer: BroadcastProducer<'static>,
    wait: Wait<'static>,
    _memory: SharedMemory,
}

impl Endpoint for Publisher {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.producer
            .push_blocking(message, &self.wait)
            .map_err(io::Error::other)
    }

    fn recv(&mut self, _buffer: &mut [u8]) -> io::Result<()> {
        Err(wrong_way("a publisher does not receive"))
    }
}

/// One broadcast subscriber.
struct SubscriberEnd {
    subscriber: Subscriber<'static>,
    wait: Wait<'static>,
    _memory: SharedMemory,
}

impl Endpoint for SubscriberEnd {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(wrong_way("a subscriber does not send"))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        none_lost(self.recv_counting_losses(buffer)?)
    }

    fn recv_counting_losses(&mut self, buffer: &mut [u8]) -> io::Result<u32> {
        let received = self
            .subscriber
            .pop_blocking(buffer, &self.wait)
            .map_err(io::Error::other)?;
        check_len(received.len, buffer.len())?;
        Ok(received.lost)
    }
}
