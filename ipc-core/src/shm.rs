//! Creating and mapping shared regions on Linux (feature `std`): a memfd, a regular file, or a
//! file descriptor received from a peer; and a liveness hook backed by a pidfd.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::ptr::NonNull;

use rustix::fs::{Mode, OFlags, SealFlags};

/// The seals that fix a memory object's size.
const SIZE_SEALS: SealFlags = SealFlags::SHRINK.union(SealFlags::GROW);
use rustix::mm::{MapFlags, ProtFlags};

use crate::wait::Liveness;
use crate::Region;

/// A `MAP_SHARED` mapping of a file descriptor, unmapped on drop.
#[derive(Debug)]
pub struct SharedMemory {
    base: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is plain shared memory owned by this value; access to its bytes goes
// through Region, whose users follow the shared-memory protocol.
unsafe impl Send for SharedMemory {}
// SAFETY: a shared &SharedMemory only hands out Regions (base and length, both immutable); what
// is done with the bytes is the ring protocols' business, which are built for concurrent peers.
unsafe impl Sync for SharedMemory {}

fn io_error(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

impl SharedMemory {
    /// An anonymous memfd of `len` bytes: nothing to clean up, shared by fork or fd passing.
    ///
    /// It is sealed once sized (`F_SEAL_SHRINK`, `F_SEAL_GROW`, `F_SEAL_SEAL`): no process it
    /// is shared with can change its size, so none can make another's access to it fault
    /// (`SIGBUS`) by truncating it. A peer receiving it checks that with
    /// [`map_received`](Self::map_received).
    ///
    /// # Errors
    /// The operating system's error from `memfd_create`, `ftruncate`, sealing or `mmap`.
    ///
    /// ```
    /// use ipc_core::{shm::SharedMemory, spsc::Spsc};
    /// let memory = SharedMemory::memfd("example", Spsc::required_len(4096))?;
    /// let ring = Spsc::init(memory.region(), 4096).unwrap();
    /// ring.producer().unwrap().push(b"through the memfd").unwrap();
    /// // Another mapping of the same memfd (as another process would have) sees the message.
    /// let elsewhere = memory.map_again()?;
    /// assert_ne!(elsewhere.region().base(), memory.region().base());
    /// let peer = Spsc::attach(elsewhere.region()).unwrap();
    /// let mut consumer = peer.consumer().unwrap();
    /// assert_eq!(&*consumer.read().unwrap().unwrap(), b"through the memfd");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn memfd(name: &str, len: usize) -> io::Result<Self> {
        let name = CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
        let fd = rustix::fs::memfd_create(
            name.as_c_str(),
            rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
        )
        .map_err(io_error)?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(io_error)?;
        rustix::fs::fcntl_add_seals(&fd, SIZE_SEALS | SealFlags::SEAL).map_err(io_error)?;
        Self::map(fd, len)
    }

    /// Maps a memory object received from a peer (a memfd passed over a Unix socket, say),
    /// whole, after checking that the peer cannot shrink it any more.
    ///
    /// Mapping an object that its creator can still truncate hands that creator a way to kill
    /// this process: its next access past the new end is a `SIGBUS`. A size check alone does
    /// not help (the peer can shrink it right after); only the seals close the gap. So this
    /// refuses an object without `F_SEAL_SHRINK` and `F_SEAL_GROW` (`PermissionDenied`, naming
    /// them). A caller that trusts its peer, or a file that cannot be sealed, uses
    /// [`map`](Self::map) instead; docs/ipc-core.md says what then remains to guard.
    ///
    /// # Errors
    /// [`io::ErrorKind::PermissionDenied`] for a descriptor without `F_SEAL_SHRINK` and
    /// `F_SEAL_GROW`; the operating system's error from `fcntl`, `fstat` or `mmap` otherwise.
    pub fn map_received(fd: OwnedFd) -> io::Result<Self> {
        let seals = rustix::fs::fcntl_get_seals(&fd).unwrap_or(SealFlags::empty());
        if !seals.contains(SIZE_SEALS) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the received memory is not sealed against resizing (F_SEAL_SHRINK and \
                 F_SEAL_GROW): its creator could truncate it and kill this process with SIGBUS",
            ));
        }
        let len = rustix::fs::fstat(&fd).map_err(io_error)?.st_size as usize;
        Self::map(fd, len)
    }

    /// A new regular file of `len` bytes at `path`, readable and writable by its owner only.
    ///
    /// It must not exist: an existing file, or a symbolic link planted where it goes, is
    /// refused (`O_EXCL | O_NOFOLLOW`), so a program running as root cannot be made to truncate
    /// someone else's file through a name in a shared directory.
    ///
    /// # Errors
    /// The operating system's error from `open` (a file or a link already at `path` is one:
    /// `O_EXCL | O_NOFOLLOW`), `ftruncate` or `mmap`.
    pub fn create_file(path: &Path, len: usize) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(io_error)?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(io_error)?;
        Self::map(fd, len)
    }

    /// A regular file of `len` bytes on the filesystem of directory `dir`, with no name at all
    /// (`O_TMPFILE`): nothing to plant a link at, nothing to clean up; share it by fork or by
    /// passing its descriptor. Filesystems without `O_TMPFILE` say so in the error.
    ///
    /// # Errors
    /// The operating system's error from `open(O_TMPFILE)` (`EOPNOTSUPP` on a file system
    /// without it), `ftruncate` or `mmap`.
    pub fn unnamed_file_in(dir: &Path, len: usize) -> io::Result<Self> {
        let fd = rustix::fs::open(
            dir,
            OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(io_error)?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(io_error)?;
        Self::map(fd, len)
    }

    /// An existing file at `path` (not a symbolic link), mapped whole.
    ///
    /// # Errors
    /// The operating system's error from `open`, `fstat` or `mmap`.
    pub fn open_file(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_error)?;
        let len = rustix::fs::fstat(&fd).map_err(io_error)?.st_size as usize;
        Self::map(fd, len)
    }

    /// Maps `len` bytes of `fd` at a new address, trusting whoever else can resize it (this
    /// process, or a peer it trusts): for memory received from an untrusted peer, use
    /// [`map_received`](Self::map_received).
    ///
    /// # Errors
    /// The operating system's error from `mmap`.
    pub fn map(fd: OwnedFd, len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot map 0 bytes",
            ));
        }
        // SAFETY: a fresh shared mapping chosen by the kernel: it aliases no Rust object.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(io_error)?;
        let base =
            NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Self { base, len, fd })
    }

    /// Maps the same memory again at another address in this process (as a peer would).
    ///
    /// # Errors
    /// The operating system's error from `dup` or `mmap`.
    pub fn map_again(&self) -> io::Result<Self> {
        let fd = self.fd.try_clone()?;
        Self::map(fd, self.len)
    }

    /// The mapping as a region.
    pub fn region(&self) -> Region<'_> {
        // SAFETY: the mapping is valid for self's lifetime (unmapped only on drop), and other
        // users of the memory are peers following the protocol.
        unsafe { Region::from_raw(self.base, self.len) }
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is mapped (never: mapping 0 bytes is refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsFd for SharedMemory {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping this value created; no Region outlives self.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// Most descriptors [`send_fds`] sends and [`receive_fds`] takes in one message.
pub const MAX_FDS: usize = 3;

/// Sends `fd` to the peer at the other end of the Unix socket `socket` (`SCM_RIGHTS`), with
/// one byte of data (a descriptor needs a message to travel with).
///
/// # Errors
/// The operating system's error from `sendmsg`.
pub fn send_fd(socket: impl AsFd, fd: BorrowedFd<'_>) -> io::Result<()> {
    send_fds(socket, &[fd])
}

/// Sends `fds` (one to [`MAX_FDS`]) in one message, as [`send_fd`] sends one.
///
/// # Errors
/// The operating system's error from `sendmsg`; [`io::ErrorKind::InvalidInput`] for no
/// descriptor or more than [`MAX_FDS`].
pub fn send_fds(socket: impl AsFd, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "one to three descriptors go in a message",
        ));
    }
    let mut space = [core::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other(
            "no room for the descriptors in the control buffer",
        ));
    }
    loop {
        match rustix::net::sendmsg(
            &socket,
            &[io::IoSlice::new(&[1])],
            &mut control,
            SendFlags::empty(),
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(io_error(e)),
        }
    }
}

/// Receives one descriptor sent with [`send_fd`] over the Unix socket `socket`. Any further
/// descriptors a peer attached are closed.
///
/// # Errors
/// The operating system's error from `recvmsg`; [`io::ErrorKind::InvalidData`] when the
/// message carried no descriptor; [`io::ErrorKind::UnexpectedEof`] when the peer closed.
pub fn receive_fd(socket: impl AsFd) -> io::Result<OwnedFd> {
    let mut fds = receive_fds(socket)?;
    Ok(fds.remove(0))
}

/// Receives the descriptors (up to [`MAX_FDS`]) of one message sent with [`send_fds`], in
/// order, closed on `exec`; any beyond are closed.
///
/// # Errors
/// As [`receive_fd`].
pub fn receive_fds(socket: impl AsFd) -> io::Result<std::vec::Vec<OwnedFd>> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [core::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let received = loop {
        match rustix::net::recvmsg(
            &socket,
            &mut [io::IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(received) => break received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(io_error(e)),
        }
    };
    let mut kept = std::vec::Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                // Beyond MAX_FDS: dropped, which closes it.
                if kept.len() < MAX_FDS {
                    kept.push(fd);
                }
            }
        }
    }
    match (kept.is_empty(), received.bytes) {
        (false, _) => Ok(kept),
        (true, 0) => Err(io::ErrorKind::UnexpectedEof.into()),
        (true, _) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the message carried no descriptor",
        )),
    }
}

/// Whether `fd` is an eventfd (its `/proc/self/fd` link reads `anon_inode:[eventfd]`): a
/// descriptor a peer passed as one is written to, so it must be one.
///
/// # Errors
/// The operating system's error reading the link.
pub fn is_eventfd(fd: BorrowedFd<'_>) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(std::format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    Ok(link.as_os_str() == "anon_inode:[eventfd]")
}

/// A peer process watched through a pidfd: it is gone once the pidfd becomes readable, which
/// happens when the process exits, before it is reaped, and never for a reused pid.
///
/// Across pid namespaces (containers sharing `/dev/shm`) a pid number names another process or
/// none: watch the peer through a pidfd it sent over a Unix socket (`SCM_RIGHTS`), or one from
/// `clone3(CLONE_PIDFD)`, with [`from_pidfd`](Self::from_pidfd). A pidfd names one process
/// whatever namespace looks at it.
#[derive(Debug)]
pub struct ProcessLiveness {
    pidfd: OwnedFd,
}

impl ProcessLiveness {
    /// Watches the process `pidfd` refers to.
    pub fn from_pidfd(pidfd: OwnedFd) -> Self {
        Self { pidfd }
    }

    /// Watches process `pid`, as this process's pid namespace numbers it.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] for pid 0; the operating system's error from
    /// `pidfd_open` (`ESRCH`: no such process).
    ///
    /// ```
    /// use ipc_core::{shm::ProcessLiveness, wait::Liveness};
    /// let me = ProcessLiveness::new(std::process::id())?;
    /// assert!(me.peer_alive());
    /// assert!(ProcessLiveness::new(0).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(pid: u32) -> io::Result<Self> {
        let pid = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "pid 0"))?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .map_err(io_error)?;
        Ok(Self { pidfd })
    }
}

impl Liveness for ProcessLiveness {
    fn peer_alive(&self) -> bool {
        !matches!(crate::role::pidfd_exited(&self.pidfd), Ok(true))
    }
}

#[cfg(all(test, not(miri), not(loom)))]
mod tests {
    use super::*;
    use crate::spsc::Spsc;

    #[test]
    fn two_mappings_of_one_memfd_share_a_ring() {
        let len = Spsc::required_len(4096);
        let first = SharedMemory::memfd("ipc-core-test", len).unwrap();
        let second = first.map_again().unwrap();
        assert_ne!(
            first.region().base(),
            second.region().base(),
            "different addresses"
        );
        let ring = Spsc::init(first.region(), 4096).unwrap();
        let attached = Spsc::attach(second.region()).unwrap();
        ring.producer()
            .unwrap()
            .push(b"via another address")
            .unwrap();
        let mut buffer = [0u8; 64];
        let n = attached
            .consumer()
            .unwrap()
            .pop(&mut buffer)
            .unwrap()
            .unwrap();
        assert_eq!(&buffer[..n], b"via another address");
    }

    #[test]
    fn a_memfd_is_sealed_against_resizing_and_an_unsealed_one_is_refused() {
        let memory = SharedMemory::memfd("ipc-core-sealed", 8192).unwrap();
        for size in [0, 4096, 16384] {
            assert_eq!(
                rustix::fs::ftruncate(&memory, size),
                Err(rustix::io::Errno::PERM),
                "resize to {size}"
            );
        }
        let received = SharedMemory::map_received(memory.as_fd().try_clone_to_owned().unwrap());
        assert_eq!(received.unwrap().len(), 8192);
        let unsealed =
            rustix::fs::memfd_create("ipc-core-unsealed", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&unsealed, 8192).unwrap();
        let refused = SharedMemory::map_received(unsealed).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            std::format!("{refused}").contains("F_SEAL_SHRINK"),
            "{refused}"
        );
    }

    #[test]
    fn this_process_is_alive() {
        let me = ProcessLiveness::new(std::process::id()).unwrap();
        assert!(me.peer_alive());
    }
}
