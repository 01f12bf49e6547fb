//! `cargo run --release -p ipc-core-benchmarks --bin tokio_floor`: the floor of a wake-up that
//! goes through a tokio runtime, beside the blocking ones, between two processes on CPU 0.
//!
//! A token goes back and forth through a word in shared memory; the side that hands it over
//! wakes the other, which sleeps:
//! - `pipe`: a blocking `read` of a one-byte token, woken by the peer's `write`;
//! - `eventfd`: a blocking `read` of an eventfd, woken by the peer's `write`;
//! - `tokio eventfd`: an eventfd registered with a current-thread runtime in each process,
//!   awaited edge-triggered and never read (as `ipc-core-tokio` sleeps), woken by the peer's
//!   `write`.
//!
//! No ring, no payload: what is left is the wake and the sleep. `shm-tokio`'s same-core round
//! trip against the third line shows what ipc-core-tokio adds to tokio's own wake-up. 200,000
//! round trips each, three rounds alternated; it prints every round and asserts nothing.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use rustix::event::{eventfd, EventfdFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

const ROUND_TRIPS: u32 = 200_000;
const ROUNDS: usize = 3;

/// How a sleeping side waits for its turn and wakes the other.
#[derive(Clone, Copy)]
enum Wake {
    Pipe,
    Eventfd,
    TokioEventfd,
}

fn pin_to_cpu_0() {
    let mut only = rustix::thread::CpuSet::new();
    only.set(0);
    rustix::thread::sched_setaffinity(None, &only).expect("sched_setaffinity to CPU 0");
}

/// One shared word: the number of hand-overs so far (odd after the parent's, even after the
/// child's).
fn shared_word() -> &'static AtomicU32 {
    // SAFETY: a fresh anonymous shared mapping of one page, never unmapped; zeroed memory is a
    // valid AtomicU32.
    unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(page, libc::MAP_FAILED, "mmap");
        &*(page as *const AtomicU32)
    }
}

/// A pair of descriptors to sleep on: the parent sleeps on the first, the child on the second.
fn sleep_on(wake: Wake) -> [(OwnedFd, OwnedFd); 2] {
    let one = || match wake {
        Wake::Pipe => rustix::pipe::pipe().expect("pipe"),
        Wake::Eventfd | Wake::TokioEventfd => {
            let flags = match wake {
                Wake::TokioEventfd => EventfdFlags::NONBLOCK,
                _ => EventfdFlags::empty(),
            };
            let fd = eventfd(0, flags).expect("eventfd");
            (fd.try_clone().expect("dup"), fd)
        }
    };
    [one(), one()]
}

/// Rings the peer: one byte into its pipe, or 1 onto its eventfd.
fn ring(wake: Wake, peer: &OwnedFd) {
    let written = match wake {
        Wake::Pipe => rustix::io::write(peer, &[1]),
        _ => rustix::io::write(peer, &1u64.to_ne_bytes()),
    };
    written.expect("ring the peer");
}

/// Blocks until the peer rings: reads its byte, or the eventfd's count.
fn sleep(wake: Wake, mine: &OwnedFd, buffer: &mut [u8; 8]) {
    let len = match wake {
        Wake::Pipe => 1,
        _ => 8,
    };
    rustix::io::read(mine, &mut buffer[..len]).expect("sleep");
}

/// Round trip `n`'s two values of the shared word: the one this side stores to hand the token
/// over, and the one it waits for (the first side's hand-overs are odd, the other's even).
fn turn(n: u32, first: bool) -> (u32, u32) {
    if first {
        (2 * n + 1, 2 * n + 2)
    } else {
        (2 * n + 2, 2 * n + 1)
    }
}

/// Hands the token back and forth `ROUND_TRIPS` times; `first` starts. Blocking sides.
fn blocking_side(wake: Wake, word: &AtomicU32, mine: &OwnedFd, peer: &OwnedFd, first: bool) {
    let mut buffer = [0u8; 8];
    for n in 0..ROUND_TRIPS {
        let (give, take) = turn(n, first);
        if !first {
            while word.load(Ordering::Acquire) != take {
                sleep(wake, mine, &mut buffer);
            }
        }
        word.store(give, Ordering::Release);
        ring(wake, peer);
        if first {
            while word.load(Ordering::Acquire) != take {
                sleep(wake, mine, &mut buffer);
            }
        }
    }
}

/// As [`blocking_side`], each sleep awaited through a current-thread tokio runtime.
fn tokio_side(word: &AtomicU32, mine: OwnedFd, peer: &OwnedFd, first: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // SAFETY: an OwnedFd owns its open descriptor, returns the same one from every
        // as_raw_fd, and closes it only when the AsyncFd (its owner from here) drops it.
        let mine = unsafe { AsyncFd::register_with_interest(mine, Interest::READABLE) }
            .map_err(std::io::Error::from)
            .expect("register the eventfd");
        let sleep_until = |take: u32| {
            let mine = &mine;
            async move {
                while word.load(Ordering::Acquire) != take {
                    mine.readable().await.expect("readable").clear_ready();
                }
            }
        };
        for n in 0..ROUND_TRIPS {
            let (give, take) = turn(n, first);
            if !first {
                sleep_until(take).await;
            }
            word.store(give, Ordering::Release);
            ring(Wake::TokioEventfd, peer);
            if first {
                sleep_until(take).await;
            }
        }
    });
}

/// One run: µs of wall time and of CPU (both processes) per round trip.
fn run(wake: Wake) -> (f64, f64) {
    let word = shared_word();
    word.store(0, Ordering::Relaxed);
    let [(parent_in, parent_out), (child_in, child_out)] = sleep_on(wake);
    let start = Instant::now();
    // SAFETY: single-threaded here; the child runs its side and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        match wake {
            Wake::TokioEventfd => tokio_side(word, child_in, &parent_out, false),
            _ => blocking_side(wake, word, &child_in, &parent_out, false),
        }
        // SAFETY: leaves the child without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    match wake {
        Wake::TokioEventfd => tokio_side(word, parent_in, &child_out, true),
        _ => blocking_side(wake, word, &parent_in, &child_out, true),
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds();
    let per = |s: f64| s / f64::from(ROUND_TRIPS) * 1e6;
    (per(wall), per(cpu))
}

/// CPU time of this process and its waited-for children so far, s; each run takes the
/// difference.
fn cpu_seconds() -> f64 {
    static LAST: std::sync::Mutex<f64> = std::sync::Mutex::new(0.0);
    let total = [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN]
        .into_iter()
        .map(|who| {
            // SAFETY: getrusage fills the struct it is given.
            let usage = unsafe {
                let mut usage: libc::rusage = std::mem::zeroed();
                libc::getrusage(who, &mut usage);
                usage
            };
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            seconds(usage.ru_utime) + seconds(usage.ru_stime)
        })
        .sum::<f64>();
    let mut last = LAST.lock().expect("not poisoned");
    let spent = total - *last;
    *last = total;
    spent
}

fn main() {
    pin_to_cpu_0();
    let _ = cpu_seconds();
    let kinds = [
        (Wake::Pipe, "pipe"),
        (Wake::Eventfd, "eventfd"),
        (Wake::TokioEventfd, "tokio eventfd"),
    ];
    println!("a round trip between two processes on CPU 0, {ROUND_TRIPS} each, µs (wall, CPU)");
    for round in 1..=ROUNDS {
        for (wake, name) in kinds {
            let (wall, cpu) = run(wake);
            println!("round {round} {name:14} {wall:6.2} {cpu:6.2}");
        }
    }
}
