//! What the async tests share: runtimes of both kinds, reading an eventfd's count, and forked
//! children. (Each test file uses some of it.)
#![allow(dead_code)]

use std::os::fd::OwnedFd;

pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The eventfd's count, read without blocking (0 when nobody rang).
pub fn rung(fd: &OwnedFd) -> u64 {
    let mut count = [0u8; 8];
    match rustix::io::read(fd, &mut count) {
        Ok(_) => u64::from_ne_bytes(count),
        Err(rustix::io::Errno::AGAIN) => 0,
        Err(other) => panic!("eventfd: {other}"),
    }
}

/// Forks a child that runs `body` and exits with its return code (101 if it panics).
pub fn fork_child(body: impl FnOnce() -> i32) -> u32 {
    // SAFETY: the child only runs `body` (ipc-core calls, a runtime of its own) and leaves
    // with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
        // SAFETY: ends the child without running the test harness's destructors.
        unsafe { libc::_exit(code) };
    }
    pid as u32
}

/// The exit code of our child `pid`, once it has exited.
pub fn wait_status(pid: u32) -> i32 {
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    libc::WEXITSTATUS(status)
}

/// Kills our child `pid`.
pub fn kill(pid: u32) {
    // SAFETY: kills our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}
