//! `peers`: ipc-core against iceoryx2 in the same run, two processes, the same placement, both
//! writing and reading every payload byte (see [`ring`] and [`iceoryx`] for what each side
//! does per message).
//!
//! Figures: the busy-polling round trip (cross-core; busy-polling on one core would measure the
//! scheduler's time slice), what ipc-core's SpinOnly rings save it, the one-way latency as
//! iceoryx2's own benchmark measures it (pre-loaned, payload untouched, its service settings;
//! both sides so), the round trip through iceoryx2's request-response API, one-way throughput
//! (cross-core), and the round trip when each side sleeps whenever it has nothing to read
//! (cross-core and same-core). Each figure is the median over `--runs` interleaved runs, the
//! side that goes first alternating; each run a p50 of its round trips, a mean one-way time or
//! a throughput; the no-ring hand-off floor ([`floor`]) is measured beside the round trips,
//! interleaved with them. The output opens with every setting in which the sides differ
//! ([`output::SETTINGS`]).

mod floor;
mod iceoryx;
mod message;
mod output;
mod ring;

use hdrhistogram::Histogram;
use ipc_core::shm::SharedMemory;

pub use output::Format;
use output::{Figure, Kind, SettingEffect};

/// Where the two processes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// CPUs 1 (child) and 0 (parent).
    CrossCore,
    /// Both on CPU 0.
    SameCore,
}

impl Placement {
    fn cpus(self) -> [usize; 2] {
        match self {
            Self::CrossCore => [1, 0],
            Self::SameCore => [0, 0],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::CrossCore => "cross-core",
            Self::SameCore => "same-core",
        }
    }
}

/// How many round trips a measurement makes, and how many of the first it leaves out.
#[derive(Clone, Copy, Debug)]
pub struct Rounds {
    timed: u64,
    warmup: u64,
}

impl Rounds {
    fn new(timed: u64) -> Self {
        Self {
            timed,
            warmup: (timed / 10).max(100),
        }
    }

    fn total(self) -> u64 {
        self.timed + self.warmup
    }
}

/// Busy-polling round trips timed per size: about 50-100 ms per run on a 2-vCPU VM.
fn busy_rounds(size: usize) -> Rounds {
    Rounds::new(match size {
        0..=256 => 100_000,
        257..=8192 => 50_000,
        8193..=131_072 => 5_000,
        _ => 500,
    })
}

/// Round trips timed while sleeping: a cross-core wake-up costs 10-100 µs on these VMs.
const SLEEPING_ROUNDS: u64 = 2_000;

/// Messages per throughput run: about 1 GB, at least 2,000 and at most 2 million.
fn throughput_messages(size: usize) -> u64 {
    ((1usize << 30) / size).clamp(2_000, 2_000_000) as u64
}

/// iceoryx2's subscriber queue for throughput, in samples: as many messages as ipc-core's ring
/// holds (within iceoryx2's practical bounds), so both have the same room to run ahead.
fn queue_for(size: usize) -> usize {
    (ring::capacity_for(size) / (size + 16)).clamp(2, 1024)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// What a timing side keeps of its round trips: each reply checked to be its round's, and
/// the time of every one past the warm-up.
struct RoundTrips {
    times: Histogram<u64>,
    rounds: Rounds,
}

impl RoundTrips {
    fn new(rounds: Rounds) -> Self {
        Self {
            times: histogram(),
            rounds,
        }
    }

    /// Records round `round`, begun at `start`, whose reply is `reply`.
    fn record(&mut self, round: u64, reply: &[u8], start: std::time::Instant) {
        let took = start.elapsed().as_nanos() as u64;
        assert_eq!(message::round_of(reply), round);
        if round >= self.rounds.warmup {
            self.times.saturating_record(took);
        }
    }

    /// The median round trip in ns, after checking every byte of the last reply against the
    /// last message sent.
    fn p50(self, reply: &[u8], message: &[u8]) -> u64 {
        message::check(reply, self.rounds.total() - 1, message);
        self.times.value_at_quantile(0.5)
    }
}

/// A flag in shared memory, set by one process and awaited by the other outside the timing.
struct Done(SharedMemory);

impl Done {
    fn new() -> Self {
        Self(SharedMemory::memfd("peers-done", 4096).expect("memfd"))
    }

    fn word(&self) -> &std::sync::atomic::AtomicU32 {
        crate::latency::word(&self.0)
    }

    fn set(&self) {
        self.word().store(1, std::sync::atomic::Ordering::Release);
    }

    fn wait(&self) {
        while self.word().load(std::sync::atomic::Ordering::Acquire) == 0 {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}

/// The median of `runs` interleaved measurements of each of `sides` (run one after the other
/// within each round, so that a slow stretch of the machine falls on all of them; round `r`
/// starts with side `r mod N`, so that no side always goes first).
fn interleaved<const N: usize>(runs: usize, sides: [&mut dyn FnMut() -> f64; N]) -> [f64; N] {
    let mut values: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
    for round in 0..runs {
        for i in rotated(N, round) {
            values[i].push(sides[i]());
        }
    }
    values.map(crate::stats::median)
}

/// The order of `n` sides in round `round`: starting with side `round mod n`.
fn rotated(n: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (round + k) % n)
}

/// Round trips timed per run of the figure measured as iceoryx2's benchmark measures it (a
/// million, as the run its figure was quoted from; fewer for large messages).
fn authors_iterations(size: usize) -> u64 {
    match size {
        0..=256 => 1_000_000,
        _ => 200_000,
    }
}

/// Runs every figure and prints each as it is measured.
pub fn run(format: Format, runs: usize) {
    iceoryx2::prelude::set_log_level(iceoryx2::prelude::LogLevel::Error);
    let leftovers = iceoryx::Leftovers::before_the_run();
    measure(format, runs);
    leftovers.remove_what_the_run_made();
}

fn measure(format: Format, runs: usize) {
    let mut out = output::Printer::new(format);
    let cross = Placement::CrossCore;
    for size in [8, 128, 4096, 64 << 10, 1 << 20] {
        let rounds = busy_rounds(size);
        let [ours, theirs, floor] = interleaved(
            runs,
            [
                &mut || ring::round_trip(size, rounds, cross, false) as f64,
                &mut || iceoryx::round_trip(size, rounds, cross, false) as f64,
                &mut || floor::round_trip(size, rounds, cross) as f64,
            ],
        );
        out.print(Figure::new(Kind::RoundTrip, size, cross, ours, theirs).with_floor(floor));
    }
    for size in [8, 128] {
        let rounds = busy_rounds(size);
        let [spin_only, futex_rings] = interleaved(
            runs,
            [
                &mut || ring::round_trip(size, rounds, cross, false) as f64,
                &mut || ring::busy_round_trip_on_futex_rings(size, rounds, cross) as f64,
            ],
        );
        out.print_effect(SettingEffect::new(
            "SpinOnly rings",
            "ipc-core",
            Kind::RoundTrip,
            size,
            cross,
            [spin_only, futex_rings],
        ));
    }
    for size in [8, 128, 4096] {
        let iterations = authors_iterations(size);
        let [ours, theirs] = interleaved(
            runs,
            [
                &mut || ring::as_iceoryx2_runs_it(size, iterations, cross),
                &mut || iceoryx::as_its_authors_run_it(size, iterations, cross),
            ],
        );
        out.print(Figure::new(
            Kind::OneWayAsIceoryx2RunsIt,
            size,
            cross,
            ours,
            theirs,
        ));
    }
    for size in [8, 128, 4096] {
        let rounds = busy_rounds(size);
        let [ours, theirs] = interleaved(
            runs,
            [
                &mut || ring::round_trip(size, rounds, cross, false) as f64,
                &mut || iceoryx::request_response(size, rounds, cross) as f64,
            ],
        );
        out.print(Figure::new(
            Kind::RequestResponse,
            size,
            cross,
            ours,
            theirs,
        ));
    }
    for size in [64, 4096, 1 << 20] {
        let messages = throughput_messages(size);
        let [ours, theirs] = interleaved(
            runs,
            [&mut || ring::throughput(size, messages, cross), &mut || {
                iceoryx::throughput(size, messages, queue_for(size), cross)
            }],
        );
        out.print(Figure::new(Kind::Throughput, size, cross, ours, theirs));
    }
    for placement in [Placement::CrossCore, Placement::SameCore] {
        for size in [8, 4096] {
            let rounds = Rounds::new(SLEEPING_ROUNDS);
            let [ours, theirs] = interleaved(
                runs,
                [
                    &mut || ring::round_trip(size, rounds, placement, true) as f64,
                    &mut || iceoryx::round_trip(size, rounds, placement, true) as f64,
                ],
            );
            out.print(Figure::new(
                Kind::BlockingRoundTrip,
                size,
                placement,
                ours,
                theirs,
            ));
        }
    }
    out.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_goes_first_in_turn() {
        let firsts: Vec<usize> = (0..6).map(|r| rotated(3, r).next().unwrap()).collect();
        assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
        let mut order: Vec<usize> = rotated(3, 4).collect();
        assert_eq!(order, [1, 2, 0]);
        order.sort_unstable();
        assert_eq!(order, [0, 1, 2], "every side runs once a round");
    }
}
