//! The clock the workers share, and the cost of reading it, measured so that it can be
//! reported beside the figures.

use std::time::Instant;

/// Median cost in nanoseconds of one `Instant::now()` (CLOCK_MONOTONIC, usually the vDSO).
pub fn calibrate() -> f64 {
    const SAMPLES: usize = 2_001;
    const READS_PER_SAMPLE: u32 = 64;
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..READS_PER_SAMPLE {
                std::hint::black_box(Instant::now());
            }
            start.elapsed().as_nanos() as f64 / f64::from(READS_PER_SAMPLE)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine, so times taken
/// by two workers can be subtracted.
pub fn monotonic_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}
