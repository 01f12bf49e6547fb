//! Worker processes: forked from the (single-threaded) controller, reporting back over a pipe.
//!
//! A worker runs a closure and writes its JSON result to a pipe the controller reads. Whatever
//! happens in the closure, panics included, the child ends with `_exit` and never returns into
//! the controller's code. A [`Worker`] that is dropped before it was collected is killed, so an
//! error in the controller leaves no process behind.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rustix::process::{Pid, Signal, WaitOptions};
use serde::{de::DeserializeOwned, Serialize};

/// The signal that stopped the controller (0: none yet).
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// The signals whose default would kill the controller on the spot, leaving its workers and
/// the run's IPC objects behind: each one stops the run in order instead. (SIGKILL and SIGSTOP
/// cannot be caught: workers die with the controller through PR_SET_PDEATHSIG, and what a
/// SIGKILL leaves of System V objects is what `clean` is for.)
const STOPPING_SIGNALS: [libc::c_int; 11] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGXCPU,
    libc::SIGXFSZ,
];

/// The error a run ends with when it was interrupted; `main` exits with 128 + the signal.
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

/// The signal that interrupted the controller, once one did.
pub fn interrupting_signal() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// True once a stopping signal reached the controller.
pub fn was_interrupted() -> bool {
    interrupting_signal().is_some()
}

extern "C" fn note_interrupt(signal: libc::c_int) {
    INTERRUPTED.store(signal, Ordering::SeqCst);
}

/// Makes every signal that would kill the controller (SIGINT, SIGTERM, SIGHUP, ...) stop the
/// run in an orderly way: the controller stops waiting, kills its workers and removes the run's
/// IPC objects (their guards' destructors run) instead of dying on the spot. Without
/// SA_RESTART, a blocked poll returns at once.
///
/// A signal ignored when the tool started stays ignored, as a shell leaves it: `nohup` made it
/// immune to SIGHUP, a background job of a script to SIGINT and SIGQUIT, and so is everything
/// it starts (`trace -- CMD` gives the command the dispositions the tool was given).
pub fn catch_interrupts() {
    for signal in STOPPING_SIGNALS {
        // SAFETY: reads the current disposition into a zeroed sigaction (a valid value), then
        // installs an async-signal-safe handler (one atomic store) with an empty mask.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note_interrupt as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// In a freshly forked worker: the stopping signals kill it as usual (only the controller
/// cleans up), and so does its controller's death, whatever kills the controller.
fn die_with_controller(controller: libc::pid_t) {
    for signal in STOPPING_SIGNALS {
        // SAFETY: restores the default disposition in the freshly forked child.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal number has no memory effects.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // The controller may have died between fork and prctl: then this worker was already
    // reparented, and no death signal will come.
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != controller {
        // SAFETY: leaves the orphaned child at once, running none of the controller's code.
        unsafe { libc::_exit(1) };
    }
}

/// A running worker process.
pub struct Worker {
    pid: Pid,
    name: &'static str,
    report: Option<OwnedFd>,
    reaped: bool,
}

/// `fork` failed: the kernel's reason (EAGAIN: a process limit, RLIMIT_NPROC or the machine's
/// `kernel.threads-max`; ENOMEM).
#[derive(Debug)]
pub struct ForkFailed(pub std::io::Error);

impl std::fmt::Display for ForkFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ForkFailed {}

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
    let controller = std::process::id() as libc::pid_t;
    // SAFETY: fork in a single-threaded process (the caller's contract); the child only runs
    // `body` and then leaves through `_exit`, never returning into the caller.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(
            anyhow::Error::new(ForkFailed(std::io::Error::last_os_error()))
                .context(format!("could not fork the {name} process")),
        );
    }
    if pid == 0 {
        die_with_controller(controller);
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
        if was_interrupted() {
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
                Err(error) => return Err(first_cause(&mut workers, i, error)),
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("all collected"))
        .collect())
}

/// The error to report when worker `failed` failed with `error`: if another worker was killed
/// by a signal already, that death came first (a peer that loses its partner fails after it),
/// so it is named first.
fn first_cause(workers: &mut [Worker], failed: usize, error: anyhow::Error) -> anyhow::Error {
    for (j, worker) in workers.iter_mut().enumerate() {
        if j == failed || worker.reaped {
            continue;
        }
        if let Ok(Some((_, status))) =
            rustix::process::waitpid(Some(worker.pid), WaitOptions::NOHANG)
        {
            worker.reaped = true;
            if let Some(signal) = status.terminating_signal() {
                return anyhow::anyhow!(
                    "the {} process died (killed by signal {signal}); then {error:#}",
                    worker.name
                );
            }
        }
    }
    error
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = rustix::process::kill_process(self.pid, Signal::KILL);
            let _ = rustix::process::waitpid(Some(self.pid), WaitOptions::empty());
        }
    }
}
