//! ipc-core between real processes: fork, a memfd mapped again at another address in the child,
//! a million messages of random sizes, and peers killed with SIGKILL mid-stream.

use std::time::Duration;

use ipc_core::shm::{ProcessLiveness, SharedMemory};
use ipc_core::spsc::{ReadError, ReserveError, Spsc};
use ipc_core::wait::{Liveness, RecordedPeer, Strategy, Wait, WaitError};

const CAPACITY: usize = 4096;

/// Both sides derive message `n`'s length and bytes from `n` alone, so the reader checks
/// order, loss, duplication and content without any side channel.
fn length_of(n: u64) -> usize {
    let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    x ^= x >> 29;
    1 + (x % (CAPACITY as u64 / 2 - 8)) as usize
}

fn fill(n: u64, buffer: &mut [u8]) {
    let seed = n.wrapping_mul(0x2545_f491_4f6c_dd1d);
    for (i, byte) in buffer.iter_mut().enumerate() {
        *byte = (seed >> ((i % 8) * 8)) as u8 ^ i as u8;
    }
}

/// Forks a child that runs `body` and exits with its return code; never returns in the child.
fn fork_child(body: impl FnOnce() -> i32) -> u32 {
    // SAFETY: the child only runs `body` (ipc-core calls and allocation) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
        // SAFETY: ends the child without running the test harness's destructors.
        unsafe { libc::_exit(code) };
    }
    pid as u32
}

/// Kills a child that is still running when a test ends, failed assertions included.
struct KillOnDrop(u32);

impl KillOnDrop {
    /// Reaps the child normally and returns its wait status; nothing is left to kill.
    fn wait(self) -> i32 {
        let status = wait_status(self.0);
        std::mem::forget(self);
        status
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill(self.0);
        wait_status(self.0);
    }
}

fn wait_status(pid: u32) -> i32 {
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    status
}

fn kill(pid: u32) {
    // SAFETY: signals our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

fn waiting_for(liveness: &ProcessLiveness) -> Wait<'_> {
    Wait {
        strategy: Strategy::SpinThenFutex { spins: 1000 },
        timeout: Some(core::time::Duration::from_secs(30)),
        check_every: core::time::Duration::from_millis(10),
        liveness,
    }
}

#[test]
fn a_million_random_sized_messages_arrive_in_order_and_intact() {
    const MESSAGES: u64 = 1_000_000;
    let memory = SharedMemory::memfd("cross-process", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let producer_pid = fork_child(|| {
        // The producer maps the memfd again: the ring is used at another address.
        let mine = memory.map_again().unwrap();
        let ring = Spsc::attach(mine.region()).unwrap();
        let mut producer = ring.producer().unwrap();
        let parent = ProcessLiveness::new(std::os::unix::process::parent_id()).unwrap();
        for n in 0..MESSAGES {
            let mut grant = producer
                .reserve_blocking(length_of(n), &waiting_for(&parent))
                .unwrap();
            fill(n, &mut grant);
            grant.commit();
        }
        0
    });
    let producer = KillOnDrop(producer_pid);
    let liveness = ProcessLiveness::new(producer_pid).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let mut expected = vec![0u8; CAPACITY];
    for n in 0..MESSAGES {
        let grant = consumer.read_blocking(&waiting_for(&liveness)).unwrap();
        let want = &mut expected[..length_of(n)];
        fill(n, want);
        assert_eq!(
            grant.len(),
            want.len(),
            "message {n}: wrong length (lost or duplicated?)"
        );
        assert!(*grant == *want, "message {n}: corrupted");
        grant.release();
    }
    assert_eq!(producer.wait(), 0, "the producer failed");
    assert!(
        consumer.read().unwrap().is_none(),
        "no message beyond the last"
    );
}

#[test]
fn a_producer_killed_mid_stream_leaves_whole_messages_then_an_error() {
    let memory = SharedMemory::memfd("killed-producer", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let producer_pid = fork_child(|| {
        let mut producer = ring.producer().unwrap();
        let forever = Wait::futex();
        for n in 0.. {
            let mut grant = producer.reserve_blocking(length_of(n), &forever).unwrap();
            fill(n, &mut grant);
            grant.commit();
        }
        0
    });
    let producer = KillOnDrop(producer_pid);
    let liveness = ProcessLiveness::new(producer_pid).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let mut expected = vec![0u8; CAPACITY];
    let mut n = 0;
    let error = loop {
        if n == 5_000 {
            kill(producer_pid);
        }
        match consumer.read_blocking(&waiting_for(&liveness)) {
            Ok(grant) => {
                let want = &mut expected[..length_of(n)];
                fill(n, want);
                assert!(*grant == *want, "message {n} corrupted");
                grant.release();
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(error, ReadError::Wait(WaitError::PeerGone));
    assert!(
        n >= 5_000,
        "every message published before the kill was read ({n})"
    );
    assert_eq!(producer.wait() & 0x7f, libc::SIGKILL);
}

#[test]
fn a_consumer_killed_mid_stream_stops_a_blocked_producer() {
    const READ_BEFORE_STOPPING: u64 = 1_000;
    let memory = SharedMemory::memfd("killed-consumer", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let consumer_pid = fork_child(|| {
        let mut consumer = ring.consumer().unwrap();
        let mut buffer = vec![0u8; CAPACITY];
        for _ in 0..READ_BEFORE_STOPPING {
            consumer.pop_blocking(&mut buffer, &Wait::futex()).unwrap();
        }
        // Stop reading but stay alive until killed.
        std::thread::sleep(Duration::from_secs(3600));
        0
    });
    let _reaper = KillOnDrop(consumer_pid);
    let liveness = ProcessLiveness::new(consumer_pid).unwrap();
    let mut producer = ring.producer().unwrap();
    let message = |n: u64| {
        let mut m = vec![0u8; length_of(n)];
        fill(n, &mut m);
        m
    };
    for n in 0..READ_BEFORE_STOPPING {
        producer
            .push_blocking(&message(n), &waiting_for(&liveness))
            .unwrap();
    }
    // The consumer has stopped: fill the ring until it stays full.
    let mut sent = READ_BEFORE_STOPPING;
    let mut full_for = 0;
    while full_for < 20 {
        match producer.push(&message(sent)) {
            Ok(()) => sent += 1,
            Err(ReserveError::Full) => {
                full_for += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
    kill(consumer_pid);
    let error = producer
        .push_blocking(&message(sent), &waiting_for(&liveness))
        .unwrap_err();
    assert_eq!(error, ReserveError::Wait(WaitError::PeerGone));
}

#[test]
fn three_producer_processes_fan_in_to_one_consumer() {
    use ipc_core::fan_in::FanIn;
    const LANES: usize = 3;
    const EACH: u64 = 100_000;
    let memory = SharedMemory::memfd("fan-in", FanIn::required_len(LANES, CAPACITY)).unwrap();
    let fan_in = FanIn::init(memory.region(), LANES, CAPACITY).unwrap();
    let producers: Vec<KillOnDrop> = (0..LANES)
        .map(|lane| {
            KillOnDrop(fork_child(|| {
                let mine = memory.map_again().unwrap();
                let fan_in = FanIn::attach(mine.region()).unwrap();
                let mut producer = fan_in.producer(lane).unwrap();
                let mut message = vec![0u8; CAPACITY];
                for n in 0..EACH {
                    let m = &mut message[..length_of(n * LANES as u64 + lane as u64)];
                    fill(n, m);
                    producer.push_blocking(m, &Wait::futex()).unwrap();
                }
                0
            }))
        })
        .collect();
    let mut consumer = fan_in.consumer().unwrap();
    let mut next = [0u64; LANES];
    let mut buffer = vec![0u8; CAPACITY];
    let mut expected = vec![0u8; CAPACITY];
    let how = Wait::futex().with_timeout(core::time::Duration::from_secs(30));
    for _ in 0..EACH * LANES as u64 {
        let (lane, len) = consumer.pop_blocking(&mut buffer, &how).unwrap();
        let n = next[lane];
        let want = &mut expected[..length_of(n * LANES as u64 + lane as u64)];
        fill(n, want);
        assert_eq!(&buffer[..len], &want[..], "lane {lane} message {n}");
        next[lane] += 1;
    }
    assert_eq!(next, [EACH; LANES]);
    for producer in producers {
        assert_eq!(producer.wait(), 0);
    }
}

#[test]
fn a_peer_cannot_shrink_shared_memory_under_a_process_that_maps_it() {
    // A peer that truncates a shared object makes every other process's next access past the
    // new end a SIGBUS. The memfds ipc-core creates are sealed against it.
    let memory = SharedMemory::memfd("ipc-core-sigbus", 4 * 4096).unwrap();
    let (mut ready_read, ready_write) = std::io::pipe().unwrap();
    let mapped = memory.map_again().unwrap();
    let parents_end = std::os::fd::AsRawFd::as_raw_fd(&ready_write);
    let child = fork_child(move || {
        // The child's copy of the write end goes, so that the parent closing its own is the
        // signal. SAFETY: closes a descriptor number this child inherited and never uses.
        unsafe { libc::close(parents_end) };
        // Wait until the parent has tried to shrink the object, then touch its last page.
        let mut byte = [0u8; 1];
        let _ = std::io::Read::read(&mut ready_read, &mut byte);
        let region = mapped.region();
        // SAFETY: the last byte of the mapping, inside it; a volatile write, as a peer's.
        unsafe {
            region
                .base()
                .add(region.len() - 1)
                .as_ptr()
                .write_volatile(7)
        };
        0
    });
    let reap = KillOnDrop(child);
    let shrunk = rustix::fs::ftruncate(&memory, 0);
    drop(ready_write);
    let status = reap.wait();
    assert_eq!(
        status, 0,
        "the mapping process was killed (SIGBUS is 7): {status}"
    );
    assert_eq!(
        shrunk,
        Err(rustix::io::Errno::PERM),
        "the object could be shrunk"
    );
}

/// `clone3` arguments (the kernel's `struct clone_args`, first version: 64 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// Starts a child in a new pid namespace (where it is pid 1), as a container's process would
/// be, running `body`; returns its pid here and a pidfd for it. Needs root (CAP_SYS_ADMIN).
fn spawn_in_new_pid_namespace(body: impl FnOnce() -> i32) -> (u32, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut pidfd: i32 = -1;
    let args = CloneArgs {
        flags: (libc::CLONE_NEWPID | libc::CLONE_PIDFD) as u64,
        pidfd: &mut pidfd as *mut i32 as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without a stack behaves as fork: the child runs `body` on a copy of this
    // stack and leaves with _exit; `pidfd` is written by the kernel in the parent.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    assert!(
        pid >= 0,
        "clone3(CLONE_NEWPID) failed: {} (this test needs root)",
        std::io::Error::last_os_error()
    );
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
        // SAFETY: ends the child without running the test harness's destructors.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: the kernel gave this process a new pidfd; nothing else owns it.
    (pid as u32, unsafe {
        std::os::fd::OwnedFd::from_raw_fd(pidfd)
    })
}

#[test]
fn a_role_held_in_another_pid_namespace_is_taken_over_only_once_its_holder_is_dead() {
    use ipc_core::role::{ClaimError, Role};
    use std::io::{Read, Write};
    let memory = SharedMemory::memfd("pid-namespace", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let (mut claimed_rx, mut claimed_tx) = std::io::pipe().unwrap();
    let (pid, pidfd) = spawn_in_new_pid_namespace(|| {
        let mine = memory.map_again().unwrap();
        let ring = Spsc::attach(mine.region()).unwrap();
        let mut producer = ring.producer().unwrap();
        producer.push(b"from the container").unwrap();
        // Tell the parent the role is held, and by which pid this process knows itself.
        claimed_tx
            .write_all(&std::process::id().to_le_bytes())
            .unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let holder = KillOnDrop(pid);
    drop(claimed_tx);
    let mut own_pid = [0u8; 4];
    claimed_rx.read_exact(&mut own_pid).unwrap();
    assert_eq!(u32::from_le_bytes(own_pid), 1, "pid 1 of its own namespace");
    // That number names another process here (this machine's init): it proves nothing.
    assert!(ProcessLiveness::new(1).unwrap().peer_alive());

    let watched = ProcessLiveness::from_pidfd(pidfd);
    assert_eq!(
        ring.producer().unwrap_err(),
        ClaimError::Taken(Role::Producer)
    );
    // The ring's record names pid 1 of another namespace: the default hook cannot tell, and
    // says "alive" rather than take this machine's init (or nobody) for the holder.
    assert_eq!(
        ring.take_over_producer(&RecordedPeer).unwrap_err(),
        ClaimError::HolderAlive(Role::Producer)
    );
    assert_eq!(
        ring.take_over_producer(&watched).unwrap_err(),
        ClaimError::HolderAlive(Role::Producer),
        "the holder lives"
    );
    kill(pid);
    for _ in 0..500 {
        if !watched.peer_alive() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        ring.take_over_producer(&RecordedPeer).unwrap_err(),
        ClaimError::HolderAlive(Role::Producer),
        "a holder in another pid namespace is never proved dead by its record"
    );
    let mut producer = ring
        .take_over_producer(&watched)
        .expect("the holder is dead");
    holder.wait();
    producer.push(b"from its successor").unwrap();
    let mut consumer = ring.consumer().unwrap();
    let mut buffer = [0u8; 64];
    for expected in [&b"from the container"[..], b"from its successor"] {
        let len = consumer.pop(&mut buffer).unwrap().unwrap();
        assert_eq!(&buffer[..len], expected);
    }
}

#[test]
fn a_side_inherited_across_fork_releases_nothing_when_the_child_drops_it() {
    use ipc_core::role::{ClaimError, Role};

    let memory = SharedMemory::memfd("forked-side", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let mut producer = Some(ring.producer().unwrap());
    let mut consumer = Some(ring.consumer().unwrap());
    consumer.as_mut().unwrap().pop(&mut [0u8; 8]).unwrap();
    // The child drops its copies of both sides and returns normally from the closure, as a
    // child that forgot they were there would.
    let child = KillOnDrop(fork_child(|| {
        drop(producer.take());
        drop(consumer.take());
        0
    }));
    assert_eq!(child.wait(), 0, "the child failed");
    assert_eq!(
        ring.producer().unwrap_err(),
        ClaimError::Taken(Role::Producer),
        "the child's drop released the parent's producer: a second one was granted"
    );
    assert_eq!(
        ring.consumer().unwrap_err(),
        ClaimError::Taken(Role::Consumer)
    );
    // The parent's sides still work.
    producer.as_mut().unwrap().push(b"still mine").unwrap();
    let mut buffer = [0u8; 16];
    let n = consumer.as_mut().unwrap().pop(&mut buffer).unwrap();
    assert_eq!(&buffer[..n.unwrap()], b"still mine");
    drop(producer);
    assert!(ring.producer().is_ok(), "the parent's own drop releases it");
}

/// Ends the whole test process with a message if it is not dropped within `limit`: a wait the
/// test expects to end would otherwise hang the run instead of failing it.
struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

impl Watchdog {
    fn new(limit: Duration, what: &'static str) -> Self {
        let (done, finished) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
                eprintln!("FAILED: {what} within {limit:?}");
                std::process::exit(101);
            }
        });
        Self(Some(done))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.0.take()); // Disconnects: the watchdog thread ends quietly.
    }
}

/// The default wait, looking every 10 ms instead of every 100 to keep the tests short.
fn default_wait() -> Wait<'static> {
    Wait {
        check_every: core::time::Duration::from_millis(10),
        ..Wait::futex()
    }
}

/// How a child that holds a role stops: killed holding it, or dropping it and exiting.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Killed,
    Exits,
}

/// Forks a child that runs `claim_and_send`, tells the parent it did, then waits to be killed
/// (`End::Killed`) or drops what it claimed and exits (`End::Exits`).
fn child_that_ends<T>(end: End, claim_and_send: impl FnOnce() -> T) -> KillOnDrop {
    use std::io::{Read, Write};
    let (mut ready_rx, mut ready_tx) = std::io::pipe().unwrap();
    let pid = fork_child(|| {
        let held = claim_and_send();
        ready_tx.write_all(b"!").unwrap();
        if end == End::Killed {
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        drop(held);
        0
    });
    drop(ready_tx);
    ready_rx.read_exact(&mut [0u8; 1]).unwrap();
    let child = KillOnDrop(pid);
    if end == End::Killed {
        kill(pid);
    }
    child
}

#[test]
fn the_default_wait_ends_once_the_producer_is_killed_or_exits() {
    let _watchdog = Watchdog::new(
        Duration::from_secs(60),
        "the default wait did not end on a dead producer",
    );
    for end in [End::Killed, End::Exits] {
        let memory = SharedMemory::memfd("default-wait", Spsc::required_len(CAPACITY)).unwrap();
        let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
        let child = child_that_ends(end, || {
            let mut producer = ring.producer().unwrap();
            producer.push(b"last words").unwrap();
            producer
        });
        let mut consumer = ring.consumer().unwrap();
        let mut buffer = [0u8; 64];
        assert_eq!(consumer.pop_blocking(&mut buffer, &default_wait()), Ok(10));
        assert_eq!(
            consumer.pop_blocking(&mut buffer, &default_wait()),
            Err(ReadError::Wait(WaitError::PeerGone)),
            "{end:?}"
        );
        child.wait();
    }
}

/// Whether this process has ipc-core's liveness ticker thread.
fn has_ticker_thread() -> bool {
    std::fs::read_dir("/proc/self/task").unwrap().any(|task| {
        std::fs::read_to_string(task.unwrap().path().join("comm"))
            .is_ok_and(|name| name.trim() == "ipc-core-ticker")
    })
}

#[test]
fn a_child_forked_from_a_process_with_a_ticker_starts_its_own_and_sees_a_dead_peer() {
    let _watchdog = Watchdog::new(
        Duration::from_secs(60),
        "a forked child's default wait did not end on a dead producer (no ticker woke it)",
    );
    // This process sleeps once under the default wait, which starts its ticker.
    let memory = SharedMemory::memfd("ticker-parent", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let again = memory.map_again().unwrap();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let ring = Spsc::attach(again.region()).unwrap();
        ring.producer().unwrap().push(b"late").unwrap();
    });
    assert_eq!(consumer.pop_blocking(&mut [0u8; 8], &default_wait()), Ok(4));
    late.join().unwrap();
    assert!(
        has_ticker_thread(),
        "the default wait slept without a ticker"
    );
    drop(consumer);

    // A producer that dies holding its role, and a consumer forked from this process: the
    // copy of the ticker's table it inherited must not make it believe a ticker runs.
    let memory = SharedMemory::memfd("ticker-child", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let producer = child_that_ends(End::Killed, || ring.producer().unwrap());
    let consumer = KillOnDrop(fork_child(|| {
        // SAFETY: a hung wait ends the child (SIGALRM) before the test's watchdog ends this one.
        unsafe { libc::alarm(20) };
        let mut consumer = ring.consumer().unwrap();
        let waited = consumer.pop_blocking(&mut [0u8; 8], &default_wait());
        match (waited, has_ticker_thread()) {
            (Err(ReadError::Wait(WaitError::PeerGone)), true) => 0,
            (Err(ReadError::Wait(WaitError::PeerGone)), false) => 2,
            _ => 3,
        }
    }));
    let status = consumer.wait();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked consumer's wait: status {status:#x} (exit 2: no ticker of its own, 3: no \
         PeerGone, SIGALRM: still waiting after 20 s)"
    );
    producer.wait();
}

#[test]
fn the_default_wait_of_a_full_ring_ends_once_the_consumer_is_killed() {
    let _watchdog = Watchdog::new(
        Duration::from_secs(60),
        "the default wait did not end on a dead consumer",
    );
    let memory = SharedMemory::memfd("default-wait-room", Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let child = child_that_ends(End::Killed, || ring.consumer().unwrap());
    let mut producer = ring.producer().unwrap();
    let message = [7u8; 256];
    let error = loop {
        if let Err(e) = producer.push_blocking(&message, &default_wait()) {
            break e;
        }
    };
    assert_eq!(error, ReserveError::Wait(WaitError::PeerGone));
    child.wait();
}

#[test]
fn a_fan_in_consumer_is_told_which_lane_lost_its_producer_then_that_all_are_gone() {
    let _watchdog = Watchdog::new(
        Duration::from_secs(60),
        "the fan-in consumer's default wait did not end on dead producers",
    );
    use ipc_core::fan_in::{FanIn, FanInError};
    let memory =
        SharedMemory::memfd("default-wait-fan-in", FanIn::required_len(3, CAPACITY)).unwrap();
    let fan_in = FanIn::init(memory.region(), 3, CAPACITY).unwrap();
    let killed = child_that_ends(End::Killed, || {
        let mut producer = fan_in.producer(1).unwrap();
        producer.push(b"from lane 1").unwrap();
        producer
    });
    let exited = child_that_ends(End::Exits, || {
        let mut producer = fan_in.producer(2).unwrap();
        producer.push(b"from lane 2").unwrap();
        producer
    });
    let mut consumer = fan_in.consumer().unwrap();
    let mut buffer = [0u8; 64];
    let mut lanes = [
        consumer
            .pop_blocking(&mut buffer, &default_wait())
            .unwrap()
            .0,
        consumer
            .pop_blocking(&mut buffer, &default_wait())
            .unwrap()
            .0,
    ];
    lanes.sort();
    assert_eq!(lanes, [1, 2], "both messages read first");
    let error = consumer
        .pop_blocking(&mut buffer, &default_wait())
        .unwrap_err();
    assert_eq!(error, FanInError::ProducerGone { lane: 1 });
    assert!(error.to_string().starts_with("lane 1: "), "{error}");
    consumer.quarantine(1);
    // Lane 0 was never claimed: a producer may still come, so the wait goes on (to its
    // timeout); once lane 0 is out of the way too, every producer left has exited.
    let short = default_wait().with_timeout(core::time::Duration::from_millis(50));
    assert_eq!(
        consumer.pop_blocking(&mut buffer, &short),
        Err(FanInError::Wait(WaitError::TimedOut))
    );
    consumer.quarantine(0);
    assert_eq!(
        consumer.pop_blocking(&mut buffer, &default_wait()),
        Err(FanInError::Wait(WaitError::PeerGone))
    );
    killed.wait();
    exited.wait();
}

#[test]
fn broadcast_waits_end_once_the_producer_or_a_subscriber_holding_it_back_is_killed() {
    let _watchdog = Watchdog::new(
        Duration::from_secs(60),
        "a broadcast default wait did not end on a dead peer",
    );
    use ipc_core::broadcast::{Broadcast, Mode};
    let len = Broadcast::required_len(CAPACITY);
    let memory = SharedMemory::memfd("default-wait-broadcast", len).unwrap();
    let broadcast = Broadcast::init(memory.region(), CAPACITY, 2, Mode::Backpressure).unwrap();
    // A subscriber waits for a producer that is killed.
    let producer = child_that_ends(End::Killed, || {
        let mut producer = broadcast.producer().unwrap();
        producer.push(b"once").unwrap();
        producer
    });
    let mut subscriber = broadcast.subscriber(0).unwrap();
    let mut buffer = [0u8; 64];
    assert_eq!(
        subscriber
            .pop_blocking(&mut buffer, &default_wait())
            .unwrap()
            .len,
        4
    );
    assert_eq!(
        subscriber.pop_blocking(&mut buffer, &default_wait()),
        Err(ReadError::Wait(WaitError::PeerGone))
    );
    producer.wait();
    drop(subscriber);
    // A producer waits for room held by a subscriber that is killed.
    let memory = SharedMemory::memfd("default-wait-broadcast-room", len).unwrap();
    let broadcast = Broadcast::init(memory.region(), CAPACITY, 1, Mode::Backpressure).unwrap();
    let subscriber = child_that_ends(End::Killed, || broadcast.subscriber(0).unwrap());
    let mut producer = broadcast.producer().unwrap();
    let error = loop {
        if let Err(e) = producer.push_blocking(&[1u8; 256], &default_wait()) {
            break e;
        }
    };
    assert_eq!(error, ReserveError::Wait(WaitError::PeerGone));
    subscriber.wait();
}

/// A file under /dev/shm (tmpfs) that only this test uses, removed when dropped.
struct NamedRegion(std::path::PathBuf);

impl Drop for NamedRegion {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_process_started_after_the_holder_was_killed_reopens_the_channel_by_name_and_takes_its_role() {
    // Shared memory by name, as unrelated programs use it: each process opens the path itself
    // (nothing is inherited), and the ring's record of who holds a role is all that says
    // whether its holder lives.
    let dir = std::path::Path::new("/dev/shm");
    assert!(dir.is_dir(), "this test needs /dev/shm (tmpfs)");
    let name = NamedRegion(dir.join(format!("ipc-core-test-restart-{}", std::process::id())));
    let memory = SharedMemory::create_file(&name.0, Spsc::required_len(CAPACITY)).unwrap();
    let ring = Spsc::init(memory.region(), CAPACITY).unwrap();
    let mut consumer = ring.consumer().unwrap();
    let path = name.0.clone();
    // The first producer: opens by name, claims, sends one message, then hangs until killed.
    let (ready_read, ready_write) = rustix::pipe::pipe().unwrap();
    let first = KillOnDrop(fork_child(move || {
        let memory = SharedMemory::open_file(&path).unwrap();
        let ring = Spsc::attach(memory.region()).unwrap();
        let mut producer = ring.producer().unwrap();
        producer.push(b"from the first").unwrap();
        rustix::io::write(&ready_write, b"x").unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }));
    rustix::io::read(&ready_read, &mut [0u8; 1]).unwrap();
    let path = name.0.clone();
    let take_over = move || {
        let memory = SharedMemory::open_file(&path).unwrap();
        let ring = Spsc::attach(memory.region()).unwrap();
        let code = match ring.take_over_producer(&RecordedPeer) {
            Ok(mut producer) => {
                producer.push(b"from the next").unwrap();
                0
            }
            Err(ipc_core::role::ClaimError::HolderAlive(_)) => 3,
            Err(_) => 4,
        };
        code
    };
    // While the first lives, a newcomer is refused.
    let refused = KillOnDrop(fork_child(take_over.clone()));
    assert_eq!(
        libc::WEXITSTATUS(refused.wait()),
        3,
        "taken from a live holder"
    );
    kill(first.0);
    first.wait();
    // Once it is dead, a process that never knew it reopens the channel and takes its role.
    let next = KillOnDrop(fork_child(take_over));
    assert_eq!(
        libc::WEXITSTATUS(next.wait()),
        0,
        "the role was not taken over"
    );
    let mut buffer = [0u8; 64];
    let n = consumer.pop(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..n], b"from the first");
    let n = consumer.pop(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..n], b"from the next");
}

#[test]
fn a_named_duplex_channel_is_reclaimed_by_a_process_started_after_its_end_was_killed() {
    // The one-call path: each process names the channel; nothing is inherited. The first end's
    // holder dies holding both its roles (its ring to send on, its ring to read); a process
    // that never knew it reclaims the end through the rings' records alone.
    use ipc_core::channel::{ChannelError, Duplex};
    let name = format!("ipc-core-test-duplex-restart-{}", std::process::id());
    let channel = Duplex::open_or_create(&name, CAPACITY).unwrap();
    let mut peer = channel.second_end().unwrap();
    let (ready_read, ready_write) = rustix::pipe::pipe().unwrap();
    let opened = name.clone();
    let first = KillOnDrop(fork_child(move || {
        let mut end = Duplex::open_or_create(&opened, CAPACITY)
            .unwrap()
            .first_end()
            .unwrap();
        end.try_send(b"from the first").unwrap();
        rustix::io::write(&ready_write, b"x").unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }));
    rustix::io::read(&ready_read, &mut [0u8; 1]).unwrap();
    let opened = name.clone();
    let reclaim = move || {
        let channel = Duplex::open_or_create(&opened, CAPACITY).unwrap();
        match channel.reclaim_first_end() {
            Ok(mut end) => {
                end.try_send(b"from the next").unwrap();
                // It reads too: the dead holder's receiving role is its now.
                let mut buffer = [0u8; 16];
                let n = end
                    .recv(&mut buffer, &ipc_core::wait::Wait::futex())
                    .unwrap();
                i32::from(&buffer[..n] != b"welcome")
            }
            Err(ChannelError::Claim(ipc_core::role::ClaimError::HolderAlive(_))) => 3,
            Err(_) => 4,
        }
    };
    let refused = KillOnDrop(fork_child(reclaim.clone()));
    assert_eq!(
        libc::WEXITSTATUS(refused.wait()),
        3,
        "taken from a live holder"
    );
    kill(first.0);
    first.wait();
    peer.try_send(b"welcome").unwrap();
    let next = KillOnDrop(fork_child(reclaim));
    assert_eq!(
        libc::WEXITSTATUS(next.wait()),
        0,
        "the end was not reclaimed"
    );
    Duplex::unlink(&name).unwrap();
    let mut buffer = [0u8; 64];
    let n = peer.try_recv(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..n], b"from the first");
    let n = peer.try_recv(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..n], b"from the next");
}
