//! `cargo run --release -p ipc-core-benchmarks --bin syscall_cost`: the cost of a trivial
//! syscall (getppid) in this process, median of 21 batches of 200,000 calls.
//!
//! Run it once as it is, then again while `ipc-profiler trace` is attached to something else
//! (`sudo ipc-profiler trace --pid <a sleeping pid> --duration 30`): the difference is what
//! every untraced process on the machine pays per syscall while tracing is on.

use std::time::Instant;

fn main() {
    const CALLS: u32 = 200_000;
    let mut batches: Vec<f64> = (0..21)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..CALLS {
                // SAFETY: getppid has no preconditions.
                std::hint::black_box(unsafe { libc::getppid() });
            }
            start.elapsed().as_nanos() as f64 / f64::from(CALLS)
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    println!(
        "getppid: {:.1} ns per call (median of 21 x {CALLS})",
        batches[10]
    );
}
