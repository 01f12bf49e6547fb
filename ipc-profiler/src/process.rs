//! Worker processes: forked from the (single-threaded) controller, reporting back over a pipe.
//!
//! A worker runs a closure and writes its JSON result to a pipe the controller reads. Whatever
//! happens in the closure, panics included, the child ends with `_exit` and never returns into
//! the controller's code. A [`Worker`] that is dropped before it was collected is killed, so an
//! error in the controller leaves no process behind.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rustix::process::{Pid, Signal, WaitOptions};
use serde::{de::DeserializeOwned, Serialize};

/// A running worker process.
pub struct Worker {
    pid: Pid,
    name: &'static str,
    report: Option<OwnedFd>,
    reaped: bool,
}

/// Forks a worker that runs `body` and reports its result.
///
/// The caller must be single-threaded (the controller is): only the calling thread exists in
/// the child.
pub fn spawn<T, F>(name: &'static str, body: F) -> anyhow::Result<Worker>
where
    T: Serialize,
    F: FnOnce() -> anyhow::Result<T>,
{
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .context("could not create a pipe for a worker's report")?;
    // SAFETY: fork in a single-threaded process (the caller's contract); the child only runs
    // `body` and then leaves through `_exit`, never returning into the caller.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!(
            "could not fork the {name} process: {}",
            std::io::Error::last_os_error()
        );
    }
    if pid == 0 {
        drop(read);
        child(write, body);
    }
    drop(write);
    Ok(Worker {
        pid: Pid::from_raw(pid).expect("fork returned a positive pid"),
        name,
        report: Some(read),
        reaped: false,
    })
}

fn child<T: Serialize, F: FnOnce() -> anyhow::Result<T>>(report: OwnedFd, body: F) -> ! {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    let message: Result<T, String> = match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("{error:#}")),
        Err(_) => Err("the worker panicked".into()),
    };
    let code = i32::from(message.is_err());
    let text = serde_json::to_vec(&message).unwrap_or_default();
    let _ = crate::mechanism::fd_io::write_all(&report, &text);
    // SAFETY: ends this child at once, without running the controller's destructors or atexit
    // handlers (which belong to the parent).
    unsafe { libc::_exit(code) }
}

impl Worker {
    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw_nonzero().get() as u32
    }

    /// Waits up to `timeout` for the worker's report, then reaps it.
    pub fn collect<T: DeserializeOwned>(mut self, timeout: Duration) -> anyhow::Result<T> {
        let fd = self.report.take().expect("collected once");
        let text = read_until_eof(fd, timeout)
            .with_context(|| format!("the {} process did not report", self.name))?;
        let status = rustix::process::waitpid(Some(self.pid), WaitOptions::empty())
            .context("waitpid")?
            .map(|(_, status)| status);
        self.reaped = true;
        if text.is_empty() {
            bail!(
                "the {} process died without reporting ({status:?})",
                self.name
            );
        }
        let message: Result<T, String> = serde_json::from_slice(&text)
            .with_context(|| format!("the {} process sent an unreadable report", self.name))?;
        message.map_err(|e| anyhow::anyhow!("the {} process failed: {e}", self.name))
    }
}

fn read_until_eof(fd: OwnedFd, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(fd);
    let mut text = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no answer within {} s", timeout.as_secs());
        }
        let mut fds = [PollFd::new(&file, PollFlags::IN)];
        let wait = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        match poll(&mut fds, Some(&wait)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let mut chunk = [0u8; 65536];
        match file.read(&mut chunk)? {
            0 => return Ok(text),
            n => text.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = rustix::process::kill_process(self.pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(self.pid), WaitOptions::empty());
        }
    }
}
