//! The memory every channel shape lives in: one mapping the library made, shared by `Arc`
//! with every handle taken from it, so that it is unmapped only after the last handle goes.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::string::ToString;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ChannelError;
use crate::error::LayoutError;
use crate::shm::SharedMemory;
use crate::Region;

/// How long `open_or_create` waits for the creator of a name to lay it out.
pub(super) const CREATOR_WAIT: Duration = Duration::from_secs(2);

/// A channel's mapping.
#[derive(Debug, Clone)]
pub(super) struct ChannelMemory(Arc<SharedMemory>);

impl ChannelMemory {
    /// A new sealed memfd of `len` bytes, laid out by `lay_out`.
    pub(super) fn memfd(
        len: usize,
        lay_out: impl FnOnce(Region<'static>) -> Result<(), LayoutError>,
    ) -> Result<Self, ChannelError> {
        let memory = Self(Arc::new(SharedMemory::memfd("ipc-core-channel", len)?));
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
        check: impl Fn(Region<'static>) -> Result<(), LayoutError>,
    ) -> Result<Self, ChannelError> {
        let path = path_of(name)?;
        match SharedMemory::create_file(&path, len) {
            Ok(memory) => {
                let memory = Self(Arc::new(memory));
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
    /// ([`SharedMemory::map_received`]) and accepted by `check`.
    pub(super) fn from_received(
        fd: OwnedFd,
        check: impl FnOnce(Region<'static>) -> Result<(), LayoutError>,
    ) -> Result<Self, ChannelError> {
        let memory = Self(Arc::new(SharedMemory::map_received(fd)?));
        check(memory.region())?;
        Ok(memory)
    }

    /// Sends the memory over the Unix socket `socket` (`SCM_RIGHTS`).
    pub(super) fn send_over(&self, socket: impl AsFd) -> io::Result<()> {
        crate::shm::send_fd(socket, self.0.as_fd())
    }

    /// The whole mapping, for as long as this value or a clone lives.
    pub(super) fn region(&self) -> Region<'static> {
        let whole = self.0.region();
        // SAFETY: the mapping is unmapped only when the last `Arc<SharedMemory>` goes, and
        // every holder of a region made from it holds a clone: the channel while it lays out
        // or checks the memory, and each handle, whose view of the memory is dropped before
        // its clone (field order).
        unsafe { Region::from_raw(whole.base(), whole.len()) }
    }

    fn open_laid_out(
        name: &str,
        path: &Path,
        check: impl Fn(Region<'static>) -> Result<(), LayoutError>,
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
                let memory = Self(Arc::new(SharedMemory::map(
                    OwnedFd::from(file),
                    meta.len() as usize,
                )?));
                match check(memory.region()) {
                    Ok(()) => return Ok(memory),
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

impl AsFd for ChannelMemory {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
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
            pub fn from_received(fd: std::os::fd::OwnedFd) -> Result<Self, ChannelError> {
                Ok(Self {
                    memory: super::memory::ChannelMemory::from_received(fd, $check)?,
                })
            }

            /// Sends the channel's memory to the peer at the other end of the Unix socket
            /// `socket` (`SCM_RIGHTS`), which takes it with `receive_over`.
            ///
            /// # Errors
            /// The operating system's error from `sendmsg`.
            pub fn send_over(&self, socket: impl std::os::fd::AsFd) -> std::io::Result<()> {
                self.memory.send_over(socket)
            }

            /// The channel a peer sent over the Unix socket `socket` with `send_over`, checked
            /// as `from_received` checks it.
            ///
            /// # Errors
            /// The operating system's error from `recvmsg`;
            /// [`std::io::ErrorKind::InvalidData`] when no descriptor came; then as
            /// `from_received`.
            pub fn receive_over(socket: impl std::os::fd::AsFd) -> Result<Self, ChannelError> {
                Self::from_received(crate::shm::receive_fd(socket)?)
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
