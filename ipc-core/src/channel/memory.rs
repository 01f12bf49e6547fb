//! The memory every channel shape lives in: one mapping the library made, shared by `Arc`
//! with every handle taken from it, so that it is unmapped only after the last handle goes;
//! and, for a channel whose readers sleep on an eventfd, that eventfd, shared the same way.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::string::ToString;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ChannelError;
use crate::doorbell::{Doorbell, ReaderSleeps};
use crate::error::LayoutError;
use crate::shm::SharedMemory;
use crate::Region;

/// How long `open_or_create` waits for the creator of a name to lay it out.
pub(super) const CREATOR_WAIT: Duration = Duration::from_secs(2);

/// A channel's mapping, and the eventfd its readers sleep on if they sleep on one.
#[derive(Debug, Clone)]
pub(super) struct ChannelMemory {
    mapping: Arc<SharedMemory>,
    readers_sleep_on: Option<Arc<OwnedFd>>,
}

impl ChannelMemory {
    /// A new sealed memfd of `len` bytes, laid out by `lay_out`; with a new eventfd for the
    /// readers to sleep on when `sleeps` says they do.
    pub(super) fn memfd(
        len: usize,
        sleeps: ReaderSleeps,
        lay_out: impl FnOnce(Region<'static>) -> Result<(), LayoutError>,
    ) -> Result<Self, ChannelError> {
        let readers_sleep_on = match sleeps {
            ReaderSleeps::OnFutex => None,
            ReaderSleeps::OnEventfd => Some(Arc::new(new_eventfd()?)),
        };
        let memory = Self {
            mapping: Arc::new(SharedMemory::memfd("ipc-core-channel", len)?),
            readers_sleep_on,
        };
        lay_out(memory.region())?;
        Ok(memory)
    }

    /// The object called `name` under `/dev/shm`: created (0600) with `len` bytes and laid out
    /// by `lay_out` if it does not exist, else opened once `check` accepts its layout (its
    /// creator's), waiting up to [`CREATOR_WAIT`] for it. A symbolic link or another user's
    /// object at the name is refused.
    pub(super) fn open_or_create(
        name: &str,
        len: usize,
        lay_out: impl FnOnce(Region<'static>) -> Result<(), LayoutError>,
        check: impl Fn(Region<'static>) -> Result<ReaderSleeps, LayoutError>,
    ) -> Result<Self, ChannelError> {
        let path = path_of(name)?;
        match SharedMemory::create_file(&path, len) {
            Ok(memory) => {
                let memory = Self::unwoken(memory);
                lay_out(memory.region())?;
                Ok(memory)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Self::open_laid_out(name, &path, check)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Memory a peer passed or left open for this process, once sealed against resizing
    /// ([`SharedMemory::map_received`]) and accepted by `check`, which says what its readers
    /// sleep on; with `eventfd`, the one they sleep on, which must then be an eventfd and come
    /// exactly when they sleep on one.
    pub(super) fn from_received(
        fd: OwnedFd,
        eventfd: Option<OwnedFd>,
        check: impl FnOnce(Region<'static>) -> Result<ReaderSleeps, LayoutError>,
    ) -> Result<Self, ChannelError> {
        let mut memory = Self::unwoken(SharedMemory::map_received(fd)?);
        let sleeps = check(memory.region())?;
        match (sleeps, eventfd) {
            (ReaderSleeps::OnFutex, None) => {}
            (ReaderSleeps::OnEventfd, Some(eventfd)) => {
                if !crate::shm::is_eventfd(eventfd.as_fd())? {
                    return Err(invalid(
                        "the descriptor passed with the channel is not an eventfd",
                    ));
                }
                memory.readers_sleep_on = Some(Arc::new(eventfd));
            }
            (ReaderSleeps::OnEventfd, None) => {
                return Err(invalid(
                    "the channel's readers sleep on an eventfd and none came with it (pass it \
                     with send_over / receive_over)",
                ))
            }
            (ReaderSleeps::OnFutex, Some(_)) => {
                return Err(invalid(
                    "a second descriptor came with a channel whose readers sleep on the futex",
                ))
            }
        }
        Ok(memory)
    }

    /// Sends the memory, and the readers' eventfd if they sleep on one, over the Unix socket
    /// `socket` (`SCM_RIGHTS`, one message).
    pub(super) fn send_over(&self, socket: impl AsFd) -> io::Result<()> {
        match &self.readers_sleep_on {
            None => crate::shm::send_fd(socket, self.mapping.as_fd()),
            Some(eventfd) => crate::shm::send_fds(socket, &[self.mapping.as_fd(), eventfd.as_fd()]),
        }
    }

    /// The doorbell that wakes the readers, when they sleep on an eventfd, for as long as this
    /// value or a clone lives.
    pub(super) fn readers_doorbell(&self) -> Option<Doorbell<'static>> {
        self.readers_sleep_on.as_ref().map(|eventfd| {
            // SAFETY: the eventfd is closed only when the last `Arc<OwnedFd>` goes, and every
            // holder of a doorbell made from it holds a clone of this value (each handle, whose
            // side that rings it is dropped before its clone: field order).
            let fd = unsafe { BorrowedFd::borrow_raw(eventfd.as_raw_fd()) };
            Doorbell::eventfd(fd)
        })
    }

    /// A descriptor of the eventfd the readers sleep on (a new one each call, for a runtime to
    /// register), when they sleep on one.
    pub(super) fn readers_eventfd(&self) -> io::Result<Option<OwnedFd>> {
        self.readers_sleep_on
            .as_ref()
            .map(|eventfd| eventfd.try_clone())
            .transpose()
    }

    /// The whole mapping, for as long as this value or a clone lives.
    pub(super) fn region(&self) -> Region<'static> {
        let whole = self.mapping.region();
        // SAFETY: the mapping is unmapped only when the last `Arc<SharedMemory>` goes, and
        // every holder of a region made from it holds a clone: the channel while it lays out
        // or checks the memory, and each handle, whose view of the memory is dropped before
        // its clone (field order).
        unsafe { Region::from_raw(whole.base(), whole.len()) }
    }

    fn open_laid_out(
        name: &str,
        path: &Path,
        check: impl Fn(Region<'static>) -> Result<ReaderSleeps, LayoutError>,
    ) -> Result<Self, ChannelError> {
        let deadline = Instant::now() + CREATOR_WAIT;
        loop {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(path)?;
            let meta = file.metadata()?;
            if meta.uid() != rustix::process::geteuid().as_raw() {
                return Err(ChannelError::NotOwned {
                    name: name.to_string(),
                    owner: meta.uid(),
                });
            }
            // Sized by its creator's ftruncate, then laid out (the magic comes last).
            if meta.len() > 0 {
                let memory =
                    Self::unwoken(SharedMemory::map(OwnedFd::from(file), meta.len() as usize)?);
                match check(memory.region()) {
                    // Readers that sleep on an eventfd cannot be woken through a name: such a
                    // channel's writers are refused when they claim (they have no doorbell).
                    Ok(_) => return Ok(memory),
                    Err(LayoutError::BadMagic { .. }) => {}
                    Err(e) => return Err(e.into()),
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
}

impl ChannelMemory {
    /// `mapping`, whose readers sleep on the futex.
    fn unwoken(mapping: SharedMemory) -> Self {
        Self {
            mapping: Arc::new(mapping),
            readers_sleep_on: None,
        }
    }
}

impl AsFd for ChannelMemory {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.mapping.as_fd()
    }
}

/// What keeps a channel's memory (and its readers' eventfd) alive: held by a side taken apart
/// from its handle (`into_parts`), dropped after that side.
#[derive(Debug, Clone)]
pub struct Mapping {
    _memory: ChannelMemory,
}

impl Mapping {
    pub(super) fn of(memory: ChannelMemory) -> Self {
        Self { _memory: memory }
    }
}

/// A new eventfd for readers to sleep on: non-blocking (a runtime polls it), closed on `exec`.
fn new_eventfd() -> io::Result<OwnedFd> {
    use rustix::event::{eventfd, EventfdFlags};
    Ok(eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC)?)
}

fn invalid(what: &str) -> ChannelError {
    ChannelError::Io(io::Error::new(io::ErrorKind::InvalidData, what.to_string()))
}

/// Removes the name of a channel made with `open_or_create`; the channel lives on while
/// anything maps it.
///
/// # Errors
/// [`ChannelError::BadName`], or the operating system's error from `unlink`.
pub fn unlink(name: &str) -> Result<(), ChannelError> {
    std::fs::remove_file(path_of(name)?)?;
    Ok(())
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

/// The methods every channel shape shares, for a shape `$shape { memory: ChannelMemory }` whose
/// layout `$check` validates: taking memory a peer passed, passing it on, and its descriptor.
macro_rules! shared_channel_methods {
    ($shape:ident, $check:path) => {
        impl $shape {
            /// The channel whose memfd a peer passed or left open for this process, after
            /// checking that the peer cannot resize it
            /// ([`SharedMemory::map_received`](crate::shm::SharedMemory::map_received)) and that
            /// it holds this kind of channel.
            ///
            /// # Errors
            /// The operating system's error, [`std::io::ErrorKind::PermissionDenied`] for memory
            /// not sealed against resizing, [`ChannelError::Layout`] for memory that does not
            /// hold this kind of channel.
            ///
            /// A channel whose readers sleep on an eventfd needs that eventfd too: take it with
            /// [`receive_over`](Self::receive_over).
            pub fn from_received(fd: std::os::fd::OwnedFd) -> Result<Self, ChannelError> {
                Ok(Self {
                    memory: super::memory::ChannelMemory::from_received(fd, None, $check)?,
                })
            }

            /// Sends the channel's memory (and the eventfd its readers sleep on, if they sleep
            /// on one) to the peer at the other end of the Unix socket `socket`
            /// (`SCM_RIGHTS`), which takes it with `receive_over`.
            ///
            /// # Errors
            /// The operating system's error from `sendmsg`.
            pub fn send_over(&self, socket: impl std::os::fd::AsFd) -> std::io::Result<()> {
                self.memory.send_over(socket)
            }

            /// The channel a peer sent over the Unix socket `socket` with `send_over`, checked
            /// as `from_received` checks it; the eventfd that came with it, if its readers sleep
            /// on one, checked to be an eventfd.
            ///
            /// # Errors
            /// The operating system's error from `recvmsg`;
            /// [`std::io::ErrorKind::InvalidData`] when no descriptor came, when a second one
            /// came that is not an eventfd, or not exactly where the readers sleep on one; then
            /// as `from_received`.
            pub fn receive_over(socket: impl std::os::fd::AsFd) -> Result<Self, ChannelError> {
                let mut fds = crate::shm::receive_fds(socket)?.into_iter();
                let (memory, eventfd) = (fds.next(), fds.next());
                let memory =
                    memory.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
                Ok(Self {
                    memory: super::memory::ChannelMemory::from_received(memory, eventfd, $check)?,
                })
            }
        }

        impl std::os::fd::AsFd for $shape {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.memory.as_fd()
            }
        }
    };
}
pub(super) use shared_channel_methods;
