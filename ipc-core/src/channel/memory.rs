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
use crate::doorbell::Doorbell;
use crate::error::LayoutError;
use crate::shm::SharedMemory;
use crate::Region;

/// How long `open_or_create` waits for the creator of a name to lay it out.
pub(super) const CREATOR_WAIT: Duration = Duration::from_secs(2);

/// Which sides of a channel sleep on an eventfd the channel makes: a fan-in's reader or a
/// broadcast's subscribers in slot 0, a broadcast's publisher in slot 1; a duplex's first end
/// in slot 0, its second in slot 1.
pub(super) type Sleepers = [bool; 2];

/// Nobody sleeps on an eventfd.
pub(super) const NO_SLEEPERS: Sleepers = [false, false];

/// The sleepers of a channel whose readers sleep as `sleeps` says (slot 0).
pub(super) fn readers(sleeps: crate::doorbell::ReaderSleeps) -> Sleepers {
    [sleeps == crate::doorbell::ReaderSleeps::OnEventfd, false]
}

/// A channel's mapping, and the eventfds its async sides sleep on (see [`Sleepers`]).
#[derive(Debug, Clone)]
pub(super) struct ChannelMemory {
    mapping: Arc<SharedMemory>,
    sleep_on: [Option<Arc<OwnedFd>>; 2],
}

impl ChannelMemory {
    /// A new sealed memfd of `len` bytes, laid out by `lay_out`, and a new eventfd for each
    /// slot of `sleepers` that sleeps on one.
    pub(super) fn memfd(
        len: usize,
        sleepers: Sleepers,
        lay_out: impl FnOnce(Region<'static>) -> Result<(), LayoutError>,
    ) -> Result<Self, ChannelError> {
        let mut sleep_on = [None, None];
        for (slot, sleeps) in sleep_on.iter_mut().zip(sleepers) {
            if sleeps {
                *slot = Some(Arc::new(new_eventfd()?));
            }
        }
        let memory = Self {
            mapping: Arc::new(SharedMemory::memfd("ipc-core-channel", len)?),
            sleep_on,
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
        check: impl Fn(Region<'static>) -> Result<Sleepers, LayoutError>,
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
    /// ([`SharedMemory::map_received`]) and accepted by `check`, which says which sides sleep
    /// on an eventfd; `eventfds` are theirs, in slot order, each checked to be an eventfd, one
    /// for each such side and no more.
    pub(super) fn from_received(
        fd: OwnedFd,
        eventfds: std::vec::Vec<OwnedFd>,
        check: impl FnOnce(Region<'static>) -> Result<Sleepers, LayoutError>,
    ) -> Result<Self, ChannelError> {
        let mut memory = Self::unwoken(SharedMemory::map_received(fd)?);
        let sleepers = check(memory.region())?;
        let needed = sleepers.iter().filter(|&&sleeps| sleeps).count();
        if eventfds.len() != needed {
            return Err(invalid(&std::format!(
                "the channel's async sides sleep on {needed} eventfd(s) and {} came with it \
                 (pass them with send_over / receive_over)",
                eventfds.len()
            )));
        }
        let mut eventfds = eventfds.into_iter();
        for (slot, sleeps) in memory.sleep_on.iter_mut().zip(sleepers) {
            if sleeps {
                let eventfd = eventfds.next().expect("counted above");
                if !crate::shm::is_eventfd(eventfd.as_fd())? {
                    return Err(invalid(
                        "a descriptor passed with the channel is not an eventfd",
                    ));
                }
                *slot = Some(Arc::new(eventfd));
            }
        }
        Ok(memory)
    }

    /// Sends the memory, and the eventfds its async sides sleep on (in slot order), over the
    /// Unix socket `socket` (`SCM_RIGHTS`, one message).
    pub(super) fn send_over(&self, socket: impl AsFd) -> io::Result<()> {
        let mut fds = std::vec![self.mapping.as_fd()];
        fds.extend(
            self.sleep_on
                .iter()
                .flatten()
                .map(|eventfd| eventfd.as_fd()),
        );
        crate::shm::send_fds(socket, &fds)
    }

    /// The doorbell that wakes the side in `slot`, when it sleeps on an eventfd, for as long as
    /// this value or a clone lives.
    pub(super) fn doorbell(&self, slot: usize) -> Option<Doorbell<'static>> {
        self.sleep_on[slot].as_ref().map(|eventfd| {
            // SAFETY: the eventfd is closed only when the last `Arc<OwnedFd>` goes, and every
            // holder of a doorbell made from it holds a clone of this value (each handle, whose
            // side that rings it is dropped before its clone: field order).
            let fd = unsafe { BorrowedFd::borrow_raw(eventfd.as_raw_fd()) };
            Doorbell::eventfd(fd)
        })
    }

    /// A descriptor of the eventfd the side in `slot` sleeps on (a new one each call, for a
    /// runtime to register), when it sleeps on one.
    pub(super) fn eventfd(&self, slot: usize) -> io::Result<Option<OwnedFd>> {
        self.sleep_on[slot]
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
        check: impl Fn(Region<'static>) -> Result<Sleepers, LayoutError>,
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
            sleep_on: [None, None],
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
                    memory: super::memory::ChannelMemory::from_received(
                        fd,
                        std::vec::Vec::new(),
                        $check,
                    )?,
                })
            }

            /// Sends the channel's memory (and the eventfds its async sides sleep on, if any) to
            /// the peer at the other end of the Unix socket `socket` (`SCM_RIGHTS`), which takes
            /// it with `receive_over`.
            ///
            /// # Errors
            /// The operating system's error from `sendmsg`.
            pub fn send_over(&self, socket: impl std::os::fd::AsFd) -> std::io::Result<()> {
                self.memory.send_over(socket)
            }

            /// The channel a peer sent over the Unix socket `socket` with `send_over`, checked
            /// as `from_received` checks it; the eventfds that came with it, one for each of its
            /// sides that sleeps on one, each checked to be an eventfd.
            ///
            /// # Errors
            /// The operating system's error from `recvmsg`;
            /// [`std::io::ErrorKind::InvalidData`] when no descriptor came, when one that came
            /// with the memory is not an eventfd, or more or fewer came than its sides sleep on;
            /// then as `from_received`.
            pub fn receive_over(socket: impl std::os::fd::AsFd) -> Result<Self, ChannelError> {
                let mut fds = crate::shm::receive_fds(socket)?;
                // receive_fds gives at least one descriptor: the memory comes first.
                let memory = fds.remove(0);
                Ok(Self {
                    memory: super::memory::ChannelMemory::from_received(memory, fds, $check)?,
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
