//! `cargo run --release -p ipc-core-benchmarks --bin independent_pingpong`: the same round trip
//! as `ipc-profiler bench`, written as plainly as possible (raw libc calls, fork, pinned to CPUs
//! 0 and 1, 128 bytes, 1,000 warm-up and 20,000 measured round trips), for pipe, uds and tcp;
//! then ipc-profiler itself with the same settings, and the ratio of the two p50s.
//!
//! It shares no code with the profiler's harness, so agreement means neither adds a cost the
//! other lacks. Run it on a quiet machine; it asserts nothing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Instant;

const SIZE: usize = 128;
const WARMUP: usize = 1_000;
const ROUNDS: usize = 20_000;

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t with one bit set, for this process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Echo side in a forked child on CPU 1; timing side here on CPU 0. Returns the p50 in ns.
fn ping_pong<A: Read + Write, B: Read + Write>(mut near: A, far: B) -> u64 {
    // SAFETY: single-threaded here; the child only echoes and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        pin(1);
        let mut far = far;
        let mut buffer = [0u8; SIZE];
        for _ in 0..WARMUP + ROUNDS {
            far.read_exact(&mut buffer).expect("echo read");
            far.write_all(&buffer).expect("echo write");
        }
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    drop(far);
    pin(0);
    let message = [7u8; SIZE];
    let mut echo = [0u8; SIZE];
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..WARMUP + ROUNDS {
        let start = Instant::now();
        near.write_all(&message).expect("write");
        near.read_exact(&mut echo).expect("read");
        if i >= WARMUP {
            samples.push(start.elapsed().as_nanos() as u64);
        }
    }
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// One direction of a pipe pair as a Read + Write.
struct PipePair {
    read: std::fs::File,
    write: std::fs::File,
}

impl Read for PipePair {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        self.read.read(buffer)
    }
}

impl Write for PipePair {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        self.write.write(buffer)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn pipes() -> (PipePair, PipePair) {
    let mut a = [0; 2];
    let mut b = [0; 2];
    // SAFETY: two valid arrays for pipe(2); the descriptors are owned below.
    unsafe {
        assert_eq!(libc::pipe(a.as_mut_ptr()), 0);
        assert_eq!(libc::pipe(b.as_mut_ptr()), 0);
        let file = |fd| std::fs::File::from(OwnedFd::from_raw_fd(fd));
        (
            PipePair {
                read: file(a[0]),
                write: file(b[1]),
            },
            PipePair {
                read: file(b[0]),
                write: file(a[1]),
            },
        )
    }
}

/// Lets this process (and what it starts) run anywhere again.
fn unpin() {
    // SAFETY: a zeroed cpu_set_t with every online CPU's bit set, for this process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..libc::sysconf(libc::_SC_NPROCESSORS_ONLN).max(1) as usize {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn profiler_p50(mechanism: &str) -> Option<u64> {
    // The profiler pins its own workers; it must be free to use both CPUs.
    unpin();
    let binary =
        std::env::var("IPC_PROFILER").unwrap_or_else(|_| "target/release/ipc-profiler".into());
    let out = Command::new(binary)
        .args([
            "bench", "--mech", mechanism, "--format", "json", "--cpus", "0,1",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    // The one "p50" in a single latency result.
    let at = text.find("\"p50\":")? + 6;
    text[at..].split([',', '\n']).next()?.trim().parse().ok()
}

/// One plain ping-pong, returning its p50.
type Measure<'a> = dyn Fn() -> u64 + 'a;

fn main() {
    println!(
        "{:<6} {:>14} {:>16} {:>7}",
        "", "plain p50 ns", "ipc-profiler ns", "ratio"
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let runs: [(&str, Box<Measure<'_>>); 3] = [
        (
            "pipe",
            Box::new(|| {
                let (a, b) = pipes();
                ping_pong(a, b)
            }),
        ),
        (
            "uds",
            Box::new(|| {
                let (a, b) = UnixStream::pair().expect("socketpair");
                ping_pong(a, b)
            }),
        ),
        (
            "tcp",
            Box::new(|| {
                let a = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
                let (b, _) = listener.accept().expect("accept");
                a.set_nodelay(true).expect("nodelay");
                b.set_nodelay(true).expect("nodelay");
                ping_pong(a, b)
            }),
        ),
    ];
    for (name, run) in runs {
        let plain = run();
        match profiler_p50(name) {
            Some(profiled) => println!(
                "{name:<6} {plain:>14} {profiled:>16} {:>7.2}",
                profiled as f64 / plain as f64
            ),
            None => println!(
                "{name:<6} {plain:>14} {:>16}",
                "(build ipc-profiler --release first)"
            ),
        }
    }
}
