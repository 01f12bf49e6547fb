//! One call to a channel (feature `std`, Linux): a duplex pair of SPSC rings (one each way) in
//! memory the library maps and owns, for related processes (a memfd, inherited or passed over a
//! Unix socket with [`Duplex::send_over`]) or unrelated ones (a name under `/dev/shm`, opened
//! or created with [`Duplex::open_or_create`]). Each process takes one end; an end owns its
//! share of the mapping, so it moves into a thread or a task with no lifetime to manage and no
//! `unsafe`.
//!
//! ```
//! use ipc_core::channel::Duplex;
//! use ipc_core::wait::Wait;
//!
//! let channel = Duplex::memfd(4096)?;
//! let (mut here, mut there) = (channel.first_end()?, channel.second_end()?);
//! // An end is Send and 'static: it owns its share of the mapping.
//! let echo = std::thread::spawn(move || {
//!     let mut buffer = [0u8; 64];
//!     let n = there.recv(&mut buffer, &Wait::futex()).unwrap();
//!     there.send(&buffer[..n], &Wait::futex()).unwrap();
//! });
//! here.send(b"ping", &Wait::futex())?;
//! let mut reply = [0u8; 64];
//! let n = here.recv(&mut reply, &Wait::futex())?;
//! assert_eq!(&reply[..n], b"ping");
//! echo.join().unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::string::{String, ToString};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::os::unix::fs::OpenOptionsExt;

use crate::error::LayoutError;
use crate::role::ClaimError;
use crate::shm::SharedMemory;
use crate::spsc::{Consumer, Producer, ReadGrant, Spsc, WriteGrant};
use crate::wait::Wait;
use crate::{ReadError, Region, ReserveError};

/// How long [`Duplex::open_or_create`] waits for the creator of a name to lay out its rings.
const CREATOR_WAIT: Duration = Duration::from_secs(2);

/// The memory of a duplex channel: two rings, one each way, in one mapping the library made.
#[derive(Debug, Clone)]
pub struct Duplex {
    memory: Arc<SharedMemory>,
}

/// Why a channel could not be made, opened or taken.
#[derive(Debug)]
pub enum ChannelError {
    /// The operating system refused (creating, opening, mapping, passing the memory).
    Io(io::Error),
    /// The memory does not hold two valid rings.
    Layout(LayoutError),
    /// The end is taken.
    Claim(ClaimError),
    /// A named channel whose creator did not lay out its rings in time.
    NotLaidOut {
        /// The name.
        name: String,
    },
    /// A name that is not one file name under `/dev/shm`.
    BadName {
        /// The name.
        name: String,
    },
    /// A named channel owned by another user: refused, so that no one can plant a channel
    /// for a program (root, say) to open.
    NotOwned {
        /// The name.
        name: String,
        /// Its owner's uid.
        owner: u32,
    },
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Layout(e) => write!(f, "not a duplex channel: {e}"),
            Self::Claim(e) => write!(f, "{e}"),
            Self::NotLaidOut { name } => write!(
                f,
                "the channel {name} was created but its rings were not laid out within {CREATOR_WAIT:?}"
            ),
            Self::BadName { name } => write!(
                f,
                "{name:?} is not a channel name (one file name under /dev/shm: no '/', not empty)"
            ),
            Self::NotOwned { name, owner } => write!(
                f,
                "the channel {name} belongs to uid {owner}, not to this process's user: refused"
            ),
        }
    }
}

impl std::error::Error for ChannelError {}

impl From<io::Error> for ChannelError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<LayoutError> for ChannelError {
    fn from(e: LayoutError) -> Self {
        Self::Layout(e)
    }
}

impl From<ClaimError> for ChannelError {
    fn from(e: ClaimError) -> Self {
        Self::Claim(e)
    }
}

impl Duplex {
    /// A channel for messages of up to half of `capacity` bytes (a power of two, see
    /// [`Spsc::init`]) in a new memfd, sealed against resizing: share it by fork (it is inherited
    /// as [`as_fd`](AsFd::as_fd)) or with [`send_over`](Self::send_over).
    ///
    /// # Errors
    /// [`ChannelError::Layout`] for a capacity the ring refuses; the operating system's error
    /// from making or mapping the memfd.
    pub fn memfd(capacity: usize) -> Result<Self, ChannelError> {
        let memory = SharedMemory::memfd("ipc-core-duplex", 2 * Spsc::required_len(capacity))?;
        let channel = Self {
            memory: Arc::new(memory),
        };
        channel.lay_out(capacity)?;
        Ok(channel)
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
        let path = path_of(name)?;
        let len = 2 * Spsc::required_len(capacity);
        match SharedMemory::create_file(&path, len) {
            Ok(memory) => {
                let channel = Self {
                    memory: Arc::new(memory),
                };
                channel.lay_out(capacity)?;
                Ok(channel)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::open_laid_out(name, &path),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the name of a channel made by [`open_or_create`](Self::open_or_create); the
    /// channel lives on while anything maps it.
    ///
    /// # Errors
    /// [`ChannelError::BadName`], or the operating system's error from `unlink`.
    pub fn unlink(name: &str) -> Result<(), ChannelError> {
        std::fs::remove_file(path_of(name)?)?;
        Ok(())
    }

    /// The channel whose memfd a peer passed or left open for this process, after checking
    /// that the peer cannot resize it ([`SharedMemory::map_received`]) and that it holds two
    /// rings.
    ///
    /// # Errors
    /// The operating system's error, [`io::ErrorKind::PermissionDenied`] for memory not sealed
    /// against resizing, [`ChannelError::Layout`] for memory that does not hold two rings.
    pub fn from_received(fd: OwnedFd) -> Result<Self, ChannelError> {
        let channel = Self {
            memory: Arc::new(SharedMemory::map_received(fd)?),
        };
        channel.attach_both()?;
        Ok(channel)
    }

    /// Sends the channel's memory to the peer at the other end of the Unix socket `socket`
    /// (`SCM_RIGHTS`), which takes it with [`receive_over`](Self::receive_over).
    ///
    /// # Errors
    /// The operating system's error from `sendmsg`.
    pub fn send_over(&self, socket: impl AsFd) -> io::Result<()> {
        crate::shm::send_fd(socket, self.memory.as_fd())
    }

    /// The channel a peer sent over the Unix socket `socket` with [`send_over`](Self::send_over),
    /// checked as [`from_received`](Self::from_received) checks it.
    ///
    /// # Errors
    /// The operating system's error from `recvmsg`; [`io::ErrorKind::InvalidData`] when no
    /// descriptor came; then as [`from_received`](Self::from_received).
    pub fn receive_over(socket: impl AsFd) -> Result<Self, ChannelError> {
        Self::from_received(crate::shm::receive_fd(socket)?)
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

    /// The largest message either way.
    ///
    /// # Errors
    /// [`ChannelError::Layout`] if the memory does not hold the rings.
    pub fn max_message_len(&self) -> Result<usize, ChannelError> {
        Ok(Spsc::attach(self.rings()[0])?.max_message_len())
    }

    /// The two rings' regions, valid as long as the mapping, which every value holding them
    /// keeps alive through its `Arc`.
    fn rings(&self) -> [Region<'static>; 2] {
        let whole = self.memory.region();
        let half = whole.len() / 2;
        let base = whole.base();
        // SAFETY: both halves lie inside the mapping (`half` is at most half its length). The
        // mapping is unmapped only when the last `Arc<SharedMemory>` is dropped, and every
        // holder of these regions holds one: this channel while it uses them, and each end,
        // whose producer and consumer are dropped before its `Arc` (field order).
        unsafe {
            [
                Region::from_raw(base, half),
                Region::from_raw(base.add(half), half),
            ]
        }
    }

    fn lay_out(&self, capacity: usize) -> Result<(), ChannelError> {
        for ring in self.rings() {
            Spsc::init(ring, capacity)?;
        }
        Ok(())
    }

    fn attach_both(&self) -> Result<(), ChannelError> {
        for ring in self.rings() {
            Spsc::attach(ring)?;
        }
        Ok(())
    }

    /// Opens a named channel someone else created, waiting for its rings to be laid out.
    fn open_laid_out(name: &str, path: &std::path::Path) -> Result<Self, ChannelError> {
        let deadline = Instant::now() + CREATOR_WAIT;
        loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(path)?;
            let meta = file.metadata()?;
            let me = rustix::process::geteuid().as_raw();
            if std::os::unix::fs::MetadataExt::uid(&meta) != me {
                return Err(ChannelError::NotOwned {
                    name: name.to_string(),
                    owner: std::os::unix::fs::MetadataExt::uid(&meta),
                });
            }
            // Sized (by its creator's ftruncate) and laid out (both magics): ready.
            if meta.len() > 0 {
                let channel = Self {
                    memory: Arc::new(SharedMemory::map(OwnedFd::from(file), meta.len() as usize)?),
                };
                match channel.attach_both() {
                    Ok(()) => return Ok(channel),
                    Err(ChannelError::Layout(LayoutError::BadMagic { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
            if Instant::now() > deadline {
                return Err(ChannelError::NotLaidOut {
                    name: name.to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn end(&self, first: usize) -> Result<DuplexEnd, ChannelError> {
        let rings = self.rings();
        let sender = Spsc::attach(rings[first])?.producer()?;
        let receiver = Spsc::attach(rings[1 - first])?.consumer()?;
        Ok(DuplexEnd {
            sender,
            receiver,
            _memory: Arc::clone(&self.memory),
        })
    }
}

impl AsFd for Duplex {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.memory.as_fd()
    }
}

/// `/dev/shm/NAME`, for a name that is one file name.
fn path_of(name: &str) -> Result<PathBuf, ChannelError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(ChannelError::BadName {
            name: name.to_string(),
        });
    }
    Ok(PathBuf::from("/dev/shm").join(name))
}

/// One end of a duplex channel: it sends on one ring and receives on the other, and holds the
/// mapping they live in. `Send`, and `'static`: move it into a thread or a task.
#[derive(Debug)]
pub struct DuplexEnd {
    // Dropped before the mapping they point into (fields drop in order).
    sender: Producer<'static>,
    receiver: Consumer<'static>,
    _memory: Arc<SharedMemory>,
}

impl DuplexEnd {
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
        assert!(started.elapsed() >= CREATOR_WAIT);
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
}
