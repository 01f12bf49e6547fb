//! What a benchmark run is asked to do: the pattern, the message size, how many messages, where
//! the processes run. Plain data, below the mechanisms and the harness that both read it.

use std::fmt;

use crate::result::Pattern;

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// What to measure.
    pub pattern: Pattern,
    /// Bytes per message.
    pub message_size: usize,
    /// Measured messages (round trips for latency).
    pub iterations: u64,
    /// When set, `iterations` is only a ceiling: a short probe measures the rate first and the
    /// run is sized to take about this many seconds.
    pub probe_for: Option<f64>,
    /// Round trips before measuring, excluded from every figure.
    pub warmup: u64,
    /// Where the workers run.
    pub cpus: CpuPlan,
    /// The pattern's process count: fan-in's writers, a pipeline's stages, request-response's
    /// clients, pub-sub's subscribers (`--procs`, `--stages`, `--clients`, `--subscribers`);
    /// unused by latency and throughput.
    pub count: usize,
    /// Pub-sub only: the latency phase's rate in messages per second (`None`: a fraction of
    /// the full-speed rate measured just before).
    pub rate: Option<f64>,
    /// Pub-sub only: a broadcast channel that drops the oldest messages for a subscriber a whole
    /// channel behind, instead of holding the publisher back.
    pub lossy: bool,
}

/// How the two processes of a run are placed on CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Both on one CPU.
    SameCore,
    /// Each on its own CPU.
    CrossCore,
    /// Not pinned.
    Unpinned,
}

/// The CPUs each worker is pinned to (`None`: not pinned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuPlan {
    /// The placement asked for.
    pub placement: Placement,
    /// CPU of the process that starts each round trip.
    pub client: Option<usize>,
    /// CPU of the process that answers.
    pub server: Option<usize>,
}

impl fmt::Display for CpuPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.placement, self.client, self.server) {
            (Placement::SameCore, Some(cpu), _) => write!(f, "same-core (cpu {cpu})"),
            (Placement::CrossCore, Some(a), Some(b)) => write!(f, "cross-core (cpus {a},{b})"),
            _ => f.write_str("unpinned"),
        }
    }
}
