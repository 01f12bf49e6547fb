//! The figures `compare` looks at, and which way is better for each.

use crate::result::RunResult;

/// One figure of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Median round trip (latency) or delivery latency, ns.
    P50,
    /// 99th percentile, ns.
    P99,
    /// Messages per second.
    Throughput,
    /// CPU time per message, ns.
    CpuPerMessage,
}

impl Figure {
    /// Every figure, in the order they are shown.
    pub const ALL: [Figure; 4] = [Self::P50, Self::P99, Self::Throughput, Self::CpuPerMessage];

    /// Its name in the output.
    pub fn name(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P99 => "p99",
            Self::Throughput => "msg/s",
            Self::CpuPerMessage => "CPU/msg",
        }
    }

    /// True when a larger value is better.
    pub fn higher_is_better(self) -> bool {
        self == Self::Throughput
    }

    /// Its value in `run`, if the run measured it.
    pub fn of(self, run: &RunResult) -> Option<f64> {
        if run.unsupported.is_some() {
            return None;
        }
        match self {
            Self::P50 => run.latency_ns.as_ref().map(|l| l.p50 as f64),
            Self::P99 => run.latency_ns.as_ref().map(|l| l.p99 as f64),
            Self::Throughput => run.throughput.as_ref().map(|t| t.messages_per_sec),
            Self::CpuPerMessage => Some(run.cpu.cpu_ns_per_message).filter(|v| *v > 0.0),
        }
    }
}
