//! Two processes talking over a memfd: `cargo run -p ipc-core --example memfd_ping`.
//!
//! The parent creates a memfd with two SPSC rings (one per direction), then starts this same
//! program again as a child, handing it the memfd as an inherited file descriptor whose number
//! is the child's argument. The child maps it at
//! its own address, attaches to the rings and echoes every message back in capitals. Both sides
//! sleep on futexes when idle and watch each other's liveness through a pidfd.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;

use ipc_core::shm::{ProcessLiveness, SharedMemory};
use ipc_core::spsc::Spsc;
use ipc_core::wait::Wait;
use ipc_core::Region;

const CAPACITY: usize = 4096;

/// The two rings' regions inside one mapping: requests first, replies after.
fn rings(memory: &SharedMemory) -> (Region<'_>, Region<'_>) {
    let half = Spsc::required_len(CAPACITY);
    let base = memory.region().base();
    // SAFETY: the mapping is 2 * half bytes (created so below) and lives as long as `memory`.
    unsafe {
        (
            Region::from_raw(base, half),
            Region::from_raw(base.add(half), half),
        )
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(fd) = std::env::args().nth(1) {
        return child(fd.parse()?);
    }
    let memory = SharedMemory::memfd("memfd-ping", 2 * Spsc::required_len(CAPACITY))?;
    let (requests, replies) = rings(&memory);
    let mut to_child = Spsc::init(requests, CAPACITY)?.producer()?;
    let mut from_child = Spsc::init(replies, CAPACITY)?.consumer()?;

    // The child inherits the memfd: clear close-on-exec on it in the child-to-be only.
    let fd = memory.as_fd_raw();
    let mut command = Command::new(std::env::current_exe()?);
    command.arg(fd.to_string());
    // SAFETY: only the async-signal-safe fcntl runs between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let liveness = ProcessLiveness::new(child.id())?;
    let how = Wait::futex().with_liveness(&liveness);

    let mut reply = [0u8; 64];
    for word in ["hello", "from", "another", "process"] {
        to_child.push_blocking(word.as_bytes(), &how)?;
        let n = from_child.pop_blocking(&mut reply, &how)?;
        println!("sent {word:<8} got {}", std::str::from_utf8(&reply[..n])?);
    }
    to_child.push_blocking(b"", &how)?; // an empty message says "done"
    let status = child.wait()?;
    println!("child exited: {status}");
    Ok(())
}

fn child(fd: i32) -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: the parent left its memfd open at this number for us; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // Sealed by its creator: the parent cannot shrink it under this process (SIGBUS).
    let memory = SharedMemory::map_received(fd)?;
    let (requests, replies) = rings(&memory);
    let mut from_parent = Spsc::attach(requests)?.consumer()?;
    let mut to_parent = Spsc::attach(replies)?.producer()?;
    let parent = ProcessLiveness::new(std::os::unix::process::parent_id())?;
    let how = Wait::futex().with_liveness(&parent);
    let mut buffer = [0u8; 64];
    loop {
        let n = from_parent.pop_blocking(&mut buffer, &how)?;
        if n == 0 {
            return Ok(());
        }
        buffer[..n].make_ascii_uppercase();
        to_parent.push_blocking(&buffer[..n], &how)?;
    }
}

/// The raw descriptor of a mapping, for handing to a child.
trait RawFdOf {
    fn as_fd_raw(&self) -> i32;
}

impl RawFdOf for SharedMemory {
    fn as_fd_raw(&self) -> i32 {
        use std::os::fd::AsFd;
        self.as_fd().as_raw_fd()
    }
}
