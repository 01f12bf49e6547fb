//! Worker processes: forked from the (single-threaded) controller, reporting back over a pipe.
//!
//! A worker runs a closure and writes its JSON result to a pipe the controller reads. Whatever
//! happens in the closure, panics included, the child ends with `_exit` and never returns into
//! the controller's code. A [`Worker`] that is dropped before it was collected is killed, so an
//! error in the controller leaves no process behind.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rustix::process::{Pid, Signal, WaitOptions};
use serde::{de::DeserializeOwned, Serialize};

/// Set by SIGINT or SIGTERM in the controller.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The error a run ends with when it was interrupted; `main` exits with 130 for it.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "interrupted: the workers were stopped and everything the run created was removed",
        )
    }
}

impl std::error::Error for Interrupted {}

/// True once SIGINT or SIGTERM reached the controller.
pub fn was_interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

extern "C" fn note_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM stop the run in an orderly way: the controller stops waiting,
/// kills its workers and removes the run's IPC objects (their guards' destructors run) instead
/// of dying on the spot. Without SA_RESTART, a blocked poll returns at once.
pub fn catch_interrupts() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (one atomic store).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note_interrupt as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Workers die on SIGINT and SIGTERM as usual: only the controller cleans up.
fn default_interrupts() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: restores the default disposition in the freshly forked child.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}

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
        default_interrupts();
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
    let _ = crate::mechanism::endpoints::fd::write_all(&report, &text);
    // SAFETY: ends this child at once, without running the controller's destructors or atexit
    // handlers (which belong to the parent).
    unsafe { libc::_exit(code) }
}

impl Worker {
    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw_nonzero().get() as u32
    }

    /// Reaps the worker and decodes the report it wrote.
    fn finish<T: DeserializeOwned>(&mut self, text: &[u8]) -> anyhow::Result<T> {
        let status = rustix::process::waitpid(Some(self.pid), WaitOptions::empty())
            .context("waitpid")?
            .map(|(_, status)| status);
        self.reaped = true;
        if text.is_empty() {
            let how = match status {
                Some(s) if s.terminating_signal().is_some() => {
                    format!("killed by signal {}", s.terminating_signal().unwrap_or(0))
                }
                Some(s) => format!("exit status {:?}", s.exit_status()),
                None => "unknown status".into(),
            };
            bail!("the {} process died without reporting ({how})", self.name);
        }
        let message: Result<T, String> = serde_json::from_slice(text)
            .with_context(|| format!("the {} process sent an unreadable report", self.name))?;
        message.map_err(|e| anyhow::anyhow!("the {} process failed: {e}", self.name))
    }
}

/// Waits for every worker's report, at most `timeout` in all.
///
/// The workers are watched together: as soon as one fails or dies, the others are killed (a
/// busy-polling peer would otherwise spin forever) and its error is returned.
pub fn collect_all<T: DeserializeOwned>(
    mut workers: Vec<Worker>,
    timeout: Duration,
) -> anyhow::Result<Vec<T>> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let deadline = Instant::now() + timeout;
    let mut texts: Vec<Vec<u8>> = vec![Vec::new(); workers.len()];
    let mut results: Vec<Option<T>> = workers.iter().map(|_| None).collect();
    while results.iter().any(Option::is_none) {
        if INTERRUPTED.load(Ordering::SeqCst) {
            // Dropping the workers kills and reaps them.
            return Err(Interrupted.into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("the workers did not finish within {} s", timeout.as_secs());
        }
        let open: Vec<usize> = (0..workers.len())
            .filter(|&i| results[i].is_none())
            .collect();
        let mut fds: Vec<PollFd<'_>> = open
            .iter()
            .map(|&i| {
                PollFd::new(
                    workers[i].report.as_ref().expect("open until finished"),
                    PollFlags::IN,
                )
            })
            .collect();
        let wait = Timespec {
            tv_sec: left.as_secs().min(1) as i64,
            tv_nsec: 0,
        };
        match poll(&mut fds, Some(&wait)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&open)
            .filter(|(fd, _)| !fd.revents().is_empty())
            .map(|(_, &i)| i)
            .collect();
        drop(fds);
        for i in ready {
            let mut chunk = [0u8; 65536];
            let fd = workers[i].report.as_ref().expect("open until finished");
            let n = rustix::io::read(fd, &mut chunk).unwrap_or(0);
            if n > 0 {
                texts[i].extend_from_slice(&chunk[..n]);
                continue;
            }
            // End of file: the worker has written its report and is exiting.
            workers[i].report = None;
            match workers[i].finish::<T>(&texts[i]) {
                Ok(value) => results[i] = Some(value),
                // Dropping the workers kills and reaps the ones still running.
                Err(error) => return Err(error),
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("all collected"))
        .collect())
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = rustix::process::kill_process(self.pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(self.pid), WaitOptions::empty());
        }
    }
}
