//! A fan-in channel: one lane per writer and a doorbell, in one mapping; writers send, one
//! reader takes from every lane.

use super::memory::ChannelMemory;
use super::memory::{readers, Mapping, Sleepers};
use super::ChannelError;
use crate::doorbell::ReaderSleeps;
use crate::error::LayoutError;
use crate::fan_in::{FanIn, FanInConsumer, FanInError, FanInProducer, FanInWriteGrant};
use crate::typed::RecvError;
use crate::wait::Wait;
use crate::{ReadError, Region, ReserveError};
use bytemuck::{AnyBitPattern, NoUninit};

/// The memory of a fan-in channel.
#[derive(Debug, Clone)]
pub struct FanInChannel {
    memory: ChannelMemory,
}

impl FanInChannel {
    /// A channel of `writers` lanes of `capacity` bytes each (see [`FanIn::init`]) in a new
    /// sealed memfd: share it by fork or with [`send_over`](Self::send_over).
    ///
    /// # Errors
    /// [`ChannelError::Layout`] for a lane count or capacity the structure refuses; the
    /// operating system's error.
    pub fn memfd(writers: usize, capacity: usize) -> Result<Self, ChannelError> {
        Self::memfd_with(writers, capacity, ReaderSleeps::OnFutex)
    }

    /// Like [`memfd`](Self::memfd), with the reader sleeping as `sleeps` says: with
    /// [`ReaderSleeps::OnEventfd`] the channel also makes the eventfd the reader sleeps on (an
    /// async reader: `ipc-core-tokio`'s `AsyncFanInConsumer::from_reader`), which every writer
    /// taken from it rings, and which `send_over` passes with the memory.
    ///
    /// # Errors
    /// As [`memfd`](Self::memfd).
    pub fn memfd_with(
        writers: usize,
        capacity: usize,
        sleeps: ReaderSleeps,
    ) -> Result<Self, ChannelError> {
        let memory = ChannelMemory::memfd(
            FanIn::required_len(writers, capacity),
            readers(sleeps),
            |region| FanIn::init_with(region, writers, capacity, sleeps).map(drop),
        )?;
        Ok(Self { memory })
    }

    /// The fan-in channel called `name` under `/dev/shm`, created or opened as
    /// [`Duplex::open_or_create`](super::Duplex::open_or_create) does (the lane count and
    /// capacity are the creator's).
    ///
    /// # Errors
    /// As [`Duplex::open_or_create`](super::Duplex::open_or_create).
    pub fn open_or_create(
        name: &str,
        writers: usize,
        capacity: usize,
    ) -> Result<Self, ChannelError> {
        let memory = ChannelMemory::open_or_create(
            name,
            FanIn::required_len(writers, capacity),
            |region| FanIn::init(region, writers, capacity).map(drop),
            check,
        )?;
        Ok(Self { memory })
    }

    /// The writer of lane `lane`.
    ///
    /// # Errors
    /// [`ChannelError::Claim`] for a lane past the count or held by another writer.
    pub fn writer(&self, lane: usize) -> Result<FanInWriter, ChannelError> {
        let fan_in = self.fan_in()?;
        let producer = match self.memory.doorbell(0) {
            None => fan_in.producer(lane)?,
            Some(doorbell) => fan_in.producer_with_doorbell(lane, doorbell)?,
        };
        Ok(FanInWriter {
            producer,
            _memory: self.memory.clone(),
        })
    }

    /// The reader.
    ///
    /// # Errors
    /// [`ChannelError::Claim`] while another reader holds the role.
    pub fn reader(&self) -> Result<FanInReader, ChannelError> {
        Ok(FanInReader {
            consumer: self.fan_in()?.consumer()?,
            memory: self.memory.clone(),
        })
    }

    fn fan_in(&self) -> Result<FanIn<'static>, LayoutError> {
        FanIn::attach(self.memory.region())
    }
}

super::memory::shared_channel_methods!(FanInChannel, check);

fn check(region: Region<'static>) -> Result<Sleepers, LayoutError> {
    Ok(readers(FanIn::attach(region)?.reader_sleeps()))
}

/// Why a typed fan-in read gave no value.
#[derive(Debug)]
pub enum FanInRecvError {
    /// The read failed as [`FanInReader::recv`] says.
    FanIn(FanInError),
    /// Lane `lane` held a message of another size than a `T` (left there).
    WrongLength {
        /// The lane.
        lane: usize,
        /// Bytes of a `T`.
        expected: usize,
        /// Bytes of the message.
        found: usize,
    },
    /// Copying the value out of lane `lane` failed.
    Read {
        /// The lane.
        lane: usize,
        /// What failed.
        error: ReadError,
    },
}

impl From<FanInError> for FanInRecvError {
    fn from(e: FanInError) -> Self {
        Self::FanIn(e)
    }
}

impl core::fmt::Display for FanInRecvError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::FanIn(e) => write!(f, "{e}"),
            Self::WrongLength {
                lane,
                expected,
                found,
            } => write!(
                f,
                "lane {lane}: a {found}-byte message where a {expected}-byte value was expected"
            ),
            Self::Read { lane, error } => write!(f, "lane {lane}: {error}"),
        }
    }
}

impl std::error::Error for FanInRecvError {}

/// One writer of a fan-in channel (its lane), holding the mapping. `Send`, `'static`.
#[derive(Debug)]
pub struct FanInWriter {
    // Dropped before the mapping it points into (fields drop in order).
    producer: FanInProducer<'static>,
    _memory: ChannelMemory,
}

impl FanInWriter {
    /// Sends `message` whole, waiting for room as `how` says.
    ///
    /// # Errors
    /// As [`FanInProducer::push_blocking`].
    pub fn send(&mut self, message: &[u8], how: &Wait<'_>) -> Result<(), ReserveError> {
        self.producer.push_blocking(message, how)
    }

    /// Sends `message` if there is room now.
    ///
    /// # Errors
    /// As [`FanInProducer::push`].
    pub fn try_send(&mut self, message: &[u8]) -> Result<(), ReserveError> {
        self.producer.push(message)
    }

    /// Sends `value`, a plain-old-data `T` (see [`crate::typed`]), as one message of its
    /// size, waiting for room as `how` says.
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

    /// Room for a `len`-byte message, written in place and sent by the grant's `commit`.
    ///
    /// # Errors
    /// As [`FanInProducer::reserve_blocking`].
    pub fn reserve(
        &mut self,
        len: usize,
        how: &Wait<'_>,
    ) -> Result<FanInWriteGrant<'_, 'static>, ReserveError> {
        self.producer.reserve_blocking(len, how)
    }
}

/// The reader of a fan-in channel, holding the mapping. `Send`, `'static`.
#[derive(Debug)]
pub struct FanInReader {
    // Dropped before the mapping it points into (fields drop in order).
    consumer: FanInConsumer<'static>,
    memory: ChannelMemory,
}

impl FanInReader {
    /// The reader's consumer, the eventfd it sleeps on (a new descriptor; when the channel was
    /// made with [`ReaderSleeps::OnEventfd`]), and what keeps the memory mapped: for an async
    /// adapter, which must drop the consumer before the [`Mapping`].
    ///
    /// # Errors
    /// The operating system's error from duplicating the eventfd.
    pub fn into_parts(
        self,
    ) -> std::io::Result<(
        FanInConsumer<'static>,
        Option<std::os::fd::OwnedFd>,
        Mapping,
    )> {
        let eventfd = self.memory.eventfd(0)?;
        Ok((self.consumer, eventfd, Mapping::of(self.memory)))
    }

    /// Copies the next message from any lane into `buffer`, waiting as `how` says; returns
    /// its lane and length.
    ///
    /// # Errors
    /// As [`FanInConsumer::pop_blocking`]: a corrupt lane is named, and can be quarantined.
    pub fn recv(
        &mut self,
        buffer: &mut [u8],
        how: &Wait<'_>,
    ) -> Result<(usize, usize), FanInError> {
        self.consumer.pop_blocking(buffer, how)
    }

    /// Receives one `T` (see [`crate::typed`]) from any lane, waiting as `how` says; returns
    /// its lane and the value.
    ///
    /// # Errors
    /// [`FanInRecvError::WrongLength`] for a message of another size (left unread: quarantine
    /// the lane to go on); [`FanInRecvError::FanIn`] as [`recv`](Self::recv).
    pub fn recv_value<T: AnyBitPattern>(
        &mut self,
        how: &Wait<'_>,
    ) -> Result<(usize, T), FanInRecvError> {
        let (lane, grant) = self.consumer.read_blocking(how)?;
        match crate::typed::take_value(grant) {
            Ok(value) => Ok((lane, value)),
            Err(RecvError::WrongLength { expected, found }) => Err(FanInRecvError::WrongLength {
                lane,
                expected,
                found,
            }),
            Err(RecvError::Read(e)) => Err(FanInRecvError::FanIn(FanInError::Lane {
                lane,
                corruption: match e {
                    ReadError::Corrupt(c) => c,
                    other => return Err(FanInRecvError::Read { lane, error: other }),
                },
            })),
        }
    }

    /// Stops reading lane `lane` (its writer is broken or hostile).
    pub fn quarantine(&mut self, lane: usize) {
        self.consumer.quarantine(lane);
    }
}

#[cfg(all(test, not(miri), not(loom)))]
mod tests {
    use super::*;
    use std::format;
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn writers_in_threads_and_a_second_mapping_reach_the_one_reader() {
        let name = format!("ipc-core-test-fan-in-{}", std::process::id());
        let creator = FanInChannel::open_or_create(&name, 3, 4096).unwrap();
        // Another process would come with its own idea of the shape: the creator's holds.
        let opener = FanInChannel::open_or_create(&name, 8, 65536).unwrap();
        super::super::unlink(&name).unwrap();
        let mut reader = opener.reader().unwrap();
        assert!(matches!(creator.reader(), Err(ChannelError::Claim(_))));
        assert!(
            matches!(creator.writer(3), Err(ChannelError::Claim(_))),
            "3 lanes"
        );
        let writers: Vec<_> = (0..3)
            .map(|lane| {
                let mut writer = creator.writer(lane).unwrap();
                std::thread::spawn(move || {
                    writer.send(&[lane as u8; 8], &Wait::futex()).unwrap();
                })
            })
            .collect();
        let mut seen = [false; 3];
        let mut buffer = [0u8; 16];
        for _ in 0..3 {
            let (lane, n) = reader.recv(&mut buffer, &Wait::futex()).unwrap();
            assert_eq!(&buffer[..n], &[lane as u8; 8]);
            seen[lane] = true;
        }
        assert_eq!(seen, [true; 3]);
        for writer in writers {
            writer.join().unwrap();
        }
    }

    #[test]
    fn typed_values_arrive_with_their_lane_and_a_wrong_size_names_it() {
        let channel = FanInChannel::memfd(2, 4096).unwrap();
        let mut reader = channel.reader().unwrap();
        let how = Wait::busy_poll();
        channel.writer(1).unwrap().send_value(&42u64, &how).unwrap();
        assert_eq!(reader.recv_value::<u64>(&how).unwrap(), (1, 42));
        channel.writer(0).unwrap().send(b"odd", &how).unwrap();
        let wrong = reader.recv_value::<u64>(&how);
        assert!(
            matches!(
                wrong,
                Err(FanInRecvError::WrongLength {
                    lane: 0,
                    expected: 8,
                    found: 3
                })
            ),
            "{wrong:?}"
        );
    }

    #[test]
    fn a_fan_in_passed_over_a_socket_is_checked_for_its_kind() {
        let (left, right) = std::os::unix::net::UnixStream::pair().unwrap();
        let channel = FanInChannel::memfd(2, 4096).unwrap();
        channel.send_over(&left).unwrap();
        let received = FanInChannel::receive_over(&right).unwrap();
        received.writer(1).unwrap().try_send(b"one").unwrap();
        let mut buffer = [0u8; 8];
        assert_eq!(
            channel
                .reader()
                .unwrap()
                .recv(&mut buffer, &Wait::futex())
                .unwrap(),
            (1, 3)
        );
        // A duplex channel is not a fan-in.
        super::super::Duplex::memfd(4096)
            .unwrap()
            .send_over(&left)
            .unwrap();
        assert!(matches!(
            FanInChannel::receive_over(&right),
            Err(ChannelError::Layout(_))
        ));
    }

    #[test]
    fn a_channel_whose_reader_sleeps_on_an_eventfd_passes_it_with_the_memory() {
        use crate::doorbell::test_eventfd::rung;
        let (left, right) = std::os::unix::net::UnixStream::pair().unwrap();
        let channel = FanInChannel::memfd_with(2, 4096, ReaderSleeps::OnEventfd).unwrap();
        channel.send_over(&left).unwrap();
        let received = FanInChannel::receive_over(&right).unwrap();
        // The reader's blocking read cannot sleep on the futex: its writers ring the eventfd.
        let mut reader = channel.reader().unwrap();
        assert!(matches!(
            reader.recv(&mut [0u8; 8], &Wait::futex()),
            Err(FanInError::Wait(crate::wait::WaitError::SleepsOnEventfd))
        ));
        let (mut consumer, eventfd, _mapping) = reader.into_parts().unwrap();
        let eventfd = eventfd.expect("the reader sleeps on an eventfd");
        assert!(consumer.announce_sleep().unwrap());
        // A writer taken from the received channel rings the same eventfd.
        received.writer(1).unwrap().try_send(b"one").unwrap();
        assert_eq!(rung(&eventfd), 1, "the sleeping reader was not rung");
        let (lane, grant) = consumer.read().unwrap().unwrap();
        assert_eq!((lane, &*grant), (1, &b"one"[..]));
        // A reader sleeping on the futex comes with no eventfd.
        let futex = FanInChannel::memfd(1, 4096).unwrap();
        assert!(futex.reader().unwrap().into_parts().unwrap().1.is_none());
    }

    #[test]
    fn a_second_descriptor_must_be_an_eventfd_and_come_exactly_when_the_reader_sleeps_on_one() {
        use std::os::fd::AsFd;
        let (left, right) = std::os::unix::net::UnixStream::pair().unwrap();
        let refused = |what: &str| {
            let error = FanInChannel::receive_over(&right).unwrap_err();
            assert!(
                matches!(&error, ChannelError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData),
                "{what}: {error:?}"
            );
            error.to_string()
        };
        let sleeps_on_eventfd = FanInChannel::memfd_with(1, 4096, ReaderSleeps::OnEventfd).unwrap();
        // A pipe passed where the eventfd goes: a writer would write 8 bytes into it.
        let (pipe, _other_end) = rustix::pipe::pipe().unwrap();
        crate::shm::send_fds(&left, &[sleeps_on_eventfd.as_fd(), pipe.as_fd()]).unwrap();
        assert!(refused("a pipe").contains("not an eventfd"));
        // The memory alone.
        crate::shm::send_fd(&left, sleeps_on_eventfd.as_fd()).unwrap();
        assert!(refused("no eventfd").contains("sleep on 1 eventfd(s) and 0 came"));
        // An eventfd with a channel whose reader sleeps on the futex.
        let futex = FanInChannel::memfd(1, 4096).unwrap();
        let stray = rustix::event::eventfd(0, rustix::event::EventfdFlags::empty()).unwrap();
        crate::shm::send_fds(&left, &[futex.as_fd(), stray.as_fd()]).unwrap();
        assert!(refused("a stray eventfd").contains("sleep on 0 eventfd(s) and 1 came"));
    }
}
