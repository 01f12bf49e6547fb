//! A duplex channel: two SPSC rings, one each way, in one mapping; each end sends on one and
//! receives on the other.

use super::memory::{ChannelMemory, Mapping, Sleepers, NO_SLEEPERS};
use super::ChannelError;
use crate::doorbell::Doorbell;
use crate::error::LayoutError;
use crate::role::ClaimError;
use crate::spsc::{Consumer, EventfdSides, Producer, ReadGrant, Spsc, Wakeups, WriteGrant};
use crate::typed::RecvError;
use crate::wait::{RecordedPeer, Wait};
use crate::{ReadError, Region, ReserveError};
use bytemuck::{AnyBitPattern, NoUninit};

/// The memory of a duplex channel: two rings, one each way, in one mapping the library made.
#[derive(Debug, Clone)]
pub struct Duplex {
    memory: ChannelMemory,
}

impl Duplex {
    /// A channel for messages of up to half of `capacity` bytes (a power of two, see
    /// [`Spsc::init`]) in a new memfd, sealed against resizing: share it by fork (it is inherited
    /// as [`as_fd`](std::os::fd::AsFd::as_fd)) or with [`send_over`](Self::send_over).
    ///
    /// # Errors
    /// [`ChannelError::Layout`] for a capacity the ring refuses; the operating system's error
    /// from making or mapping the memfd.
    pub fn memfd(capacity: usize) -> Result<Self, ChannelError> {
        Self::memfd_with(capacity, NO_SLEEPERS)
    }

    /// Like [`memfd`](Self::memfd), with the `ends` that an async runtime runs sleeping on an
    /// eventfd the channel makes (one per such end, for both its sending and its receiving
    /// waits): the other end rings it, and `send_over` passes it with the memory. Take an async
    /// end with `ipc-core-tokio`'s `async_end`; an end that sleeps on an eventfd refuses the
    /// blocking calls' futex sleeps.
    ///
    /// # Errors
    /// As [`memfd`](Self::memfd).
    pub fn memfd_async(capacity: usize, ends: AsyncEnds) -> Result<Self, ChannelError> {
        Self::memfd_with(capacity, ends.sleepers())
    }

    fn memfd_with(capacity: usize, sleepers: Sleepers) -> Result<Self, ChannelError> {
        let memory = ChannelMemory::memfd(2 * Spsc::required_len(capacity), sleepers, |whole| {
            lay_out(whole, capacity, sleepers)
        })?;
        Ok(Self { memory })
    }

    /// The channel called `name` under `/dev/shm`, created (owner-only, `0600`) with rings of
    /// `capacity` bytes if it does not exist, else opened as its creator laid it out (the
    /// capacity is the creator's). Whoever comes first creates it; the other waits up to 2 s
    /// for its rings. A name held by a symbolic link, or by another user's object, is refused.
    /// The name stays until [`unlink`](Self::unlink); ends keep working after it.
    ///
    /// A named file cannot be sealed: a peer allowed to open it could shrink it and make this
    /// process's next access fault (`SIGBUS`). Only processes of the same user can open it.
    ///
    /// # Errors
    /// [`ChannelError::BadName`], [`ChannelError::NotOwned`], [`ChannelError::NotLaidOut`],
    /// [`ChannelError::Layout`] for memory that does not hold two rings, or the operating
    /// system's error.
    pub fn open_or_create(name: &str, capacity: usize) -> Result<Self, ChannelError> {
        let memory = ChannelMemory::open_or_create(
            name,
            2 * Spsc::required_len(capacity),
            |whole| lay_out(whole, capacity, NO_SLEEPERS),
            check,
        )?;
        Ok(Self { memory })
    }

    /// Removes the name of a channel made by [`open_or_create`](Self::open_or_create); the
    /// channel lives on while anything maps it.
    ///
    /// # Errors
    /// [`ChannelError::BadName`], or the operating system's error from `unlink`.
    pub fn unlink(name: &str) -> Result<(), ChannelError> {
        super::unlink(name)
    }

    /// The first end: it sends on the first ring and receives on the second.
    ///
    /// # Errors
    /// [`ChannelError::Claim`] while another end holds either role; [`ChannelError::Layout`]
    /// if the memory no longer holds the rings.
    pub fn first_end(&self) -> Result<DuplexEnd, ChannelError> {
        self.end(0)
    }

    /// The second end: it sends on the second ring and receives on the first.
    ///
    /// # Errors
    /// As for [`first_end`](Self::first_end).
    pub fn second_end(&self) -> Result<DuplexEnd, ChannelError> {
        self.end(1)
    }

    /// The first end, for a process restarted after a crash: each of its roles that another
    /// holds is taken over if the ring's record of that holder says it has died
    /// ([`RecordedPeer`]), a process that never knew the dead one included.
    ///
    /// # Errors
    /// [`ChannelError::Claim`] with [`ClaimError::HolderAlive`] while the holder lives (or
    /// cannot be seen: another pid namespace); otherwise as [`first_end`](Self::first_end).
    pub fn reclaim_first_end(&self) -> Result<DuplexEnd, ChannelError> {
        self.reclaimed_end(0)
    }

    /// The second end, taken over as [`reclaim_first_end`](Self::reclaim_first_end) takes the
    /// first.
    ///
    /// # Errors
    /// As [`reclaim_first_end`](Self::reclaim_first_end).
    pub fn reclaim_second_end(&self) -> Result<DuplexEnd, ChannelError> {
        self.reclaimed_end(1)
    }

    /// The largest message either way.
    ///
    /// # Errors
    /// [`ChannelError::Layout`] if the memory does not hold the rings.
    pub fn max_message_len(&self) -> Result<usize, ChannelError> {
        Ok(Spsc::attach(self.rings()[0])?.max_message_len())
    }

    fn rings(&self) -> [Region<'static>; 2] {
        halves(self.memory.region())
    }

    /// End `slot` (0: the first), claiming its roles, or taking over those whose recorded
    /// holder died when `reclaim` says so. Its sides ring the other end's eventfd when that end
    /// sleeps on one.
    fn claimed_end(&self, slot: usize, reclaim: bool) -> Result<DuplexEnd, ChannelError> {
        let rings = self.rings();
        let (sending, receiving) = (Spsc::attach(rings[slot])?, Spsc::attach(rings[1 - slot])?);
        let peer: Option<Doorbell<'static>> = self.memory.doorbell(1 - slot);
        let sender = match (sending.claim_producer(peer), reclaim) {
            (Err(ClaimError::Taken(_)), true) => {
                sending.take_over_producer_ringing(&RecordedPeer, peer)
            }
            (claimed, _) => claimed,
        }?;
        let receiver = match (receiving.claim_consumer(peer), reclaim) {
            (Err(ClaimError::Taken(_)), true) => {
                receiving.take_over_consumer_ringing(&RecordedPeer, peer)
            }
            (claimed, _) => claimed,
        }?;
        Ok(DuplexEnd {
            sender,
            receiver,
            slot,
            memory: self.memory.clone(),
        })
    }

    fn end(&self, slot: usize) -> Result<DuplexEnd, ChannelError> {
        self.claimed_end(slot, false)
    }

    fn reclaimed_end(&self, slot: usize) -> Result<DuplexEnd, ChannelError> {
        self.claimed_end(slot, true)
    }
}

super::memory::shared_channel_methods!(Duplex, check);

/// Which ends of a duplex channel an async runtime runs (sleeping on an eventfd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsyncEnds {
    /// The first end; the second is a plain one.
    First,
    /// The second end; the first is a plain one.
    Second,
    /// Both.
    Both,
}

impl AsyncEnds {
    fn sleepers(self) -> Sleepers {
        match self {
            Self::First => [true, false],
            Self::Second => [false, true],
            Self::Both => [true, true],
        }
    }
}

/// How the ring end `sender` sends on wakes its sides, given which ends sleep on an eventfd:
/// its producer is that end, its consumer the other.
fn ring_wakeups(sleepers: Sleepers, sender: usize) -> Wakeups {
    match (sleepers[sender], sleepers[1 - sender]) {
        (false, false) => Wakeups::Futex,
        (true, false) => Wakeups::Eventfd(EventfdSides::Producer),
        (false, true) => Wakeups::Eventfd(EventfdSides::Consumer),
        (true, true) => Wakeups::Eventfd(EventfdSides::Both),
    }
}

/// Lays out both rings of `capacity` bytes, the sides of the `sleepers` ends on an eventfd.
fn lay_out(whole: Region<'static>, capacity: usize, sleepers: Sleepers) -> Result<(), LayoutError> {
    for (sender, ring) in halves(whole).into_iter().enumerate() {
        Spsc::init_with(ring, capacity, ring_wakeups(sleepers, sender))?;
    }
    Ok(())
}

/// Checks that both rings are laid out, and says which ends sleep on an eventfd: an end's
/// sending and receiving sides alike, in both rings (any other mix is refused).
fn check(whole: Region<'static>) -> Result<Sleepers, LayoutError> {
    let [first, second] = halves(whole);
    let (first, second) = (
        Spsc::attach(first)?.wakeups(),
        Spsc::attach(second)?.wakeups(),
    );
    let sleepers = [
        first.producer_sleeps_on_eventfd(),
        second.producer_sleeps_on_eventfd(),
    ];
    if first != ring_wakeups(sleepers, 0) || second != ring_wakeups(sleepers, 1) {
        return Err(LayoutError::UnknownValue {
            field: "duplex wake-ups",
            value: u64::from(first.to_word()) << 8 | u64::from(second.to_word()),
        });
    }
    Ok(sleepers)
}

/// The two rings' regions: the first and second half of the mapping.
fn halves(whole: Region<'static>) -> [Region<'static>; 2] {
    let half = whole.len() / 2;
    // SAFETY: both halves lie inside `whole`, and live as long as it (the mapping, held by
    // every user of these regions through its `ChannelMemory`).
    unsafe {
        [
            Region::from_raw(whole.base(), half),
            Region::from_raw(whole.base().add(half), half),
        ]
    }
}

/// One end of a duplex channel: it sends on one ring and receives on the other, and holds the
/// mapping they live in. `Send`, and `'static`: move it into a thread or a task.
#[derive(Debug)]
pub struct DuplexEnd {
    // Dropped before the mapping they point into (fields drop in order).
    sender: Producer<'static>,
    receiver: Consumer<'static>,
    /// Which end: 0, the first.
    slot: usize,
    memory: ChannelMemory,
}

impl DuplexEnd {
    /// Its producer and consumer, the eventfd this end sleeps on (a new descriptor; when the
    /// channel was made with [`Duplex::memfd_async`] naming this end), and what keeps the
    /// memory mapped: for an async adapter, which must drop both sides before the [`Mapping`].
    ///
    /// # Errors
    /// The operating system's error from duplicating the eventfd.
    pub fn into_parts(
        self,
    ) -> std::io::Result<(
        Producer<'static>,
        Consumer<'static>,
        Option<std::os::fd::OwnedFd>,
        Mapping,
    )> {
        let eventfd = self.memory.eventfd(self.slot)?;
        Ok((
            self.sender,
            self.receiver,
            eventfd,
            Mapping::of(self.memory),
        ))
    }

    /// Sends `message` whole, waiting for room as `how` says.
    ///
    /// # Errors
    /// As [`Producer::push_blocking`].
    pub fn send(&mut self, message: &[u8], how: &Wait<'_>) -> Result<(), ReserveError> {
        self.sender.push_blocking(message, how)
    }

    /// Sends `message` if there is room now.
    ///
    /// # Errors
    /// As [`Producer::push`] ([`ReserveError::Full`] when there is no room).
    pub fn try_send(&mut self, message: &[u8]) -> Result<(), ReserveError> {
        self.sender.push(message)
    }

    /// Room for a `len`-byte message, written in place and sent by the grant's `commit`,
    /// waiting for room as `how` says.
    ///
    /// # Errors
    /// As [`Producer::reserve_blocking`].
    pub fn reserve(
        &mut self,
        len: usize,
        how: &Wait<'_>,
    ) -> Result<WriteGrant<'_, 'static>, ReserveError> {
        self.sender.reserve_blocking(len, how)
    }

    /// Copies the next message into `buffer`, waiting for it as `how` says; returns its
    /// length.
    ///
    /// # Errors
    /// As [`Consumer::pop_blocking`].
    pub fn recv(&mut self, buffer: &mut [u8], how: &Wait<'_>) -> Result<usize, ReadError> {
        self.receiver.pop_blocking(buffer, how)
    }

    /// Copies the next message into `buffer` if one is there; returns its length.
    ///
    /// # Errors
    /// As [`Consumer::pop`].
    pub fn try_recv(&mut self, buffer: &mut [u8]) -> Result<Option<usize>, ReadError> {
        self.receiver.pop(buffer)
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

    /// Receives one `T` (see [`crate::typed`]), waiting as `how` says.
    ///
    /// # Errors
    /// [`RecvError::WrongLength`] for a message of another size (left unread);
    /// [`RecvError::Read`] as [`recv`](Self::recv).
    pub fn recv_value<T: AnyBitPattern>(&mut self, how: &Wait<'_>) -> Result<T, RecvError> {
        crate::typed::take_value(self.receiver.read_blocking(how)?)
    }

    /// The next message, read in place, waiting for it as `how` says; its room comes back
    /// when the grant is released.
    ///
    /// # Errors
    /// As [`Consumer::read_blocking`].
    pub fn read(&mut self, how: &Wait<'_>) -> Result<ReadGrant<'_, 'static>, ReadError> {
        self.receiver.read_blocking(how)
    }
}

#[cfg(all(test, not(miri), not(loom)))]
mod tests {
    use super::*;
    use crate::shm::SharedMemory;
    use std::io;
    use std::os::fd::AsFd;
    use std::path::PathBuf;
    use std::string::String;
    use std::time::Instant;

    /// A name no other test or run uses.
    fn fresh_name(what: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        std::format!(
            "ipc-core-test-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn exchange(a: &mut DuplexEnd, b: &mut DuplexEnd) {
        let how = Wait::busy_poll();
        let mut buffer = [0u8; 32];
        a.send(b"there", &how).unwrap();
        let n = b.recv(&mut buffer, &how).unwrap();
        assert_eq!(&buffer[..n], b"there");
        b.try_send(b"and back").unwrap();
        let n = a.try_recv(&mut buffer).unwrap().expect("a reply");
        assert_eq!(&buffer[..n], b"and back");
    }

    #[test]
    fn a_named_channel_is_created_once_and_opened_by_whoever_comes_second() {
        let name = fresh_name("named");
        let creator = Duplex::open_or_create(&name, 4096).unwrap();
        // The second comes with another capacity and gets the creator's rings.
        let opener = Duplex::open_or_create(&name, 65536).unwrap();
        assert_eq!(
            opener.max_message_len().unwrap(),
            creator.max_message_len().unwrap()
        );
        assert_ne!(
            opener.memory.region().base(),
            creator.memory.region().base(),
            "two mappings, as two processes have"
        );
        let (mut a, mut b) = (creator.first_end().unwrap(), opener.second_end().unwrap());
        Duplex::unlink(&name).unwrap();
        // The name is gone; the channel is not.
        exchange(&mut a, &mut b);
        assert!(
            matches!(Duplex::unlink(&name), Err(ChannelError::Io(e)) if e.kind() == io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn an_end_is_held_once_until_it_is_dropped_and_outlives_its_channel() {
        let channel = Duplex::memfd(4096).unwrap();
        let first = channel.first_end().unwrap();
        assert!(matches!(channel.first_end(), Err(ChannelError::Claim(_))));
        drop(first);
        let mut first = channel.first_end().unwrap();
        let mut second = channel.second_end().unwrap();
        // The ends keep the mapping: the channel value may go.
        drop(channel);
        exchange(&mut first, &mut second);
        let mut grant = first.reserve(4, &Wait::busy_poll()).unwrap();
        grant.copy_from_slice(b"zero");
        grant.commit();
        let read = second.read(&Wait::busy_poll()).unwrap();
        assert_eq!(&*read, b"zero");
        read.release();
    }

    #[test]
    fn typed_values_cross_whole_and_a_wrong_size_is_refused_unread() {
        let channel = Duplex::memfd(4096).unwrap();
        let (mut a, mut b) = (channel.first_end().unwrap(), channel.second_end().unwrap());
        let how = Wait::busy_poll();
        a.send_value(&[7u32, 8, 9], &how).unwrap();
        assert_eq!(b.recv_value::<[u32; 3]>(&how).unwrap(), [7, 8, 9]);
        a.send(b"odd", &how).unwrap();
        assert_eq!(
            b.recv_value::<u64>(&how),
            Err(RecvError::WrongLength {
                expected: 8,
                found: 3
            })
        );
        let mut buffer = [0u8; 8];
        assert_eq!(
            b.try_recv(&mut buffer).unwrap(),
            Some(3),
            "left in the ring"
        );
    }

    #[test]
    fn bad_names_and_a_planted_link_are_refused() {
        for name in ["", "a/b", ".", "..", "nul\0"] {
            assert!(
                matches!(
                    Duplex::open_or_create(name, 4096),
                    Err(ChannelError::BadName { .. })
                ),
                "{name:?}"
            );
        }
        let name = fresh_name("link");
        let target = std::env::temp_dir().join(fresh_name("target"));
        std::fs::write(&target, b"someone's file").unwrap();
        std::os::unix::fs::symlink(&target, PathBuf::from("/dev/shm").join(&name)).unwrap();
        let refused = Duplex::open_or_create(&name, 4096);
        let kept = std::fs::read(&target).unwrap();
        std::fs::remove_file(PathBuf::from("/dev/shm").join(&name)).unwrap();
        std::fs::remove_file(&target).unwrap();
        assert!(matches!(refused, Err(ChannelError::Io(_))), "{refused:?}");
        assert_eq!(kept, b"someone's file", "the link's target is untouched");
    }

    #[test]
    fn a_name_another_user_owns_is_refused() {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test makes a file owned by another user (nobody): run it as root, as CI does"
        );
        let name = fresh_name("theirs");
        let path = PathBuf::from("/dev/shm").join(&name);
        std::fs::write(&path, std::vec![0u8; 2 * Spsc::required_len(4096)]).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let refused = Duplex::open_or_create(&name, 4096);
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(refused, Err(ChannelError::NotOwned { owner: 65534, .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn a_name_whose_creator_never_lays_it_out_is_reported_in_time() {
        let name = fresh_name("empty");
        let path = PathBuf::from("/dev/shm").join(&name);
        std::fs::write(&path, std::vec![0u8; 2 * Spsc::required_len(4096)]).unwrap();
        let started = Instant::now();
        let result = Duplex::open_or_create(&name, 4096);
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(result, Err(ChannelError::NotLaidOut { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() >= super::super::memory::CREATOR_WAIT);
    }

    #[test]
    fn a_channel_passed_over_a_socket_arrives_checked() {
        let (left, right) = std::os::unix::net::UnixStream::pair().unwrap();
        let channel = Duplex::memfd(4096).unwrap();
        channel.send_over(&left).unwrap();
        let received = Duplex::receive_over(&right).unwrap();
        assert_ne!(
            received.memory.region().base(),
            channel.memory.region().base()
        );
        exchange(
            &mut channel.first_end().unwrap(),
            &mut received.second_end().unwrap(),
        );
        // Memory its sender could still shrink is refused.
        let unsealed = SharedMemory::unnamed_file_in(&std::env::temp_dir(), 8192).unwrap();
        crate::shm::send_fd(&left, unsealed.as_fd()).unwrap();
        let refused = Duplex::receive_over(&right);
        assert!(
            matches!(&refused, Err(ChannelError::Io(e)) if e.kind() == io::ErrorKind::PermissionDenied),
            "{refused:?}"
        );
        // A message with no descriptor is said to be one.
        std::io::Write::write_all(&mut &left, b"x").unwrap();
        let refused = Duplex::receive_over(&right);
        assert!(
            matches!(&refused, Err(ChannelError::Io(e)) if e.kind() == io::ErrorKind::InvalidData),
            "{refused:?}"
        );
    }

    #[test]
    fn memory_that_holds_no_rings_is_refused() {
        let memory = SharedMemory::memfd("not-rings", 8192).unwrap();
        let fd = rustix::io::dup(memory.as_fd()).unwrap();
        assert!(matches!(
            Duplex::from_received(fd),
            Err(ChannelError::Layout(LayoutError::BadMagic { .. }))
        ));
    }

    #[test]
    fn an_async_duplex_passes_an_eventfd_per_async_end_and_checks_its_layout() {
        use crate::doorbell::test_eventfd::rung;
        let (left, right) = std::os::unix::net::UnixStream::pair().unwrap();
        let channel = Duplex::memfd_async(4096, AsyncEnds::Both).unwrap();
        channel.send_over(&left).unwrap();
        let received = Duplex::receive_over(&right).unwrap();
        // The first end sleeps on its eventfd; the second, taken from the received channel,
        // rings it through the eventfd that came over the socket.
        let (_, mut consumer, eventfd, _mapping) =
            channel.first_end().unwrap().into_parts().unwrap();
        let eventfd = eventfd.expect("the first end sleeps on an eventfd");
        assert!(consumer.announce_sleep().unwrap());
        received.second_end().unwrap().try_send(b"ring").unwrap();
        assert_eq!(rung(&eventfd), 1, "the sleeping first end was not rung");
        // The memory alone is refused: two async ends need their two eventfds.
        crate::shm::send_fd(&left, channel.as_fd()).unwrap();
        let refused = Duplex::receive_over(&right).unwrap_err();
        assert!(
            std::format!("{refused}").contains("sleep on 2 eventfd(s) and 0 came"),
            "{refused}"
        );
        // An end of a plain duplex has no eventfd.
        let plain = Duplex::memfd(4096).unwrap();
        assert!(plain.first_end().unwrap().into_parts().unwrap().2.is_none());
    }

    #[test]
    fn rings_whose_ends_sleep_unlike_each_other_are_refused() {
        let memory =
            std::boxed::Box::leak(std::vec![0u64; Spsc::required_len(1024) / 4].into_boxed_slice());
        let whole = Region::from_slice(memory);
        let [first, second] = halves(whole);
        // The first end's sending side sleeps on an eventfd, its receiving side on the futex.
        Spsc::init_with(first, 1024, Wakeups::Eventfd(EventfdSides::Producer)).unwrap();
        Spsc::init_with(second, 1024, Wakeups::Futex).unwrap();
        assert!(matches!(
            check(whole),
            Err(LayoutError::UnknownValue {
                field: "duplex wake-ups",
                ..
            })
        ));
        Spsc::init_with(second, 1024, Wakeups::Eventfd(EventfdSides::Consumer)).unwrap();
        assert_eq!(check(whole).unwrap(), [true, false]);
    }
}
