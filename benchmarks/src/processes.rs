//! Two pinned processes: the child runs one side and exits; the parent runs the other.

/// Pins the calling process to `cpu`.
pub fn pin(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).expect("pin to a CPU");
}

/// Forks a child pinned to CPU 1 running `child`; runs `parent` pinned to CPU 0; waits.
pub fn pair<T>(child: impl FnOnce(), parent: impl FnOnce() -> T) -> T {
    pair_on([1, 0], child, parent)
}

/// Forks a child pinned to `cpus[0]` running `child`; runs `parent` pinned to `cpus[1]`; waits
/// for the child and fails if it did.
pub fn pair_on<T>(cpus: [usize; 2], child: impl FnOnce(), parent: impl FnOnce() -> T) -> T {
    // SAFETY: the benchmark is single-threaded when it forks; the child leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        pin(cpus[0]);
        // A panic must end the child here, not unwind into the parent's code.
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).is_ok();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    pin(cpus[1]);
    let result = parent();
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(status, 0, "the child side failed");
    result
}
