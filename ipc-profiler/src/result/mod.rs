//! The result model: what a run measured, as plain data. This is the JSON contract other tools
//! parse (docs/design.md): `bench/` and `trace/` produce it, `report/` renders it, and it reads
//! back what `--format json` wrote (later commands compare earlier runs).
//!
//! Field names are a contract: add fields, never rename them. Nothing here runs a benchmark or
//! a trace.

mod breakdown;
mod channel;
mod environment;
mod figures;
mod finding;
mod program;

use serde::{Deserialize, Serialize};

pub use breakdown::{
    Breakdown, LatencyBucket, Overhead, OverheadFigure, PerMessage, ProcessBreakdown, SchedAttach,
    SyscallAttach, SyscallLine,
};
pub use channel::{Channel, ChannelDirection, ChannelEnd, FutexFigures, FutexWord};
pub use environment::Environment;
pub use figures::{CpuSummary, CpuUsage, LatencySummary, ProcessCpu, Throughput};
pub use finding::{CpuPerMessage, Finding, WhatIf};
pub use program::{ProgramInfo, ProgramReport};

/// The tool's name, first in every report.
pub const TOOL: &str = "ipc-profiler";

/// A whole report: one run of the tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always "ipc-profiler".
    pub tool: String,
    /// The version of the tool that wrote it.
    pub version: String,
    /// The machine the figures were measured on.
    pub environment: Environment,
    /// One entry per mechanism, pattern and size.
    pub results: Vec<RunResult>,
}

impl Report {
    /// A report of `results` measured on `environment`, by this version of the tool.
    pub fn new(environment: Environment, results: Vec<RunResult>) -> Self {
        Self {
            tool: TOOL.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            environment,
            results,
        }
    }
}

/// What a run measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Round trip A→B→A.
    Latency,
    /// A one-way stream, counted when delivered.
    Throughput,
    /// Several writer processes streaming into one reader.
    FanIn,
    /// A chain of processes, each receiving from the one before, verifying and forwarding.
    Pipeline,
    /// Many clients, one server, closed loop.
    RequestResponse,
    /// One publisher, many subscribers, each receiving every message.
    PubSub,
}

impl Pattern {
    /// Every pattern, in the order they are listed.
    pub const ALL: [Pattern; 6] = [
        Self::Latency,
        Self::Throughput,
        Self::FanIn,
        Self::Pipeline,
        Self::RequestResponse,
        Self::PubSub,
    ];

    /// The pattern called `name` ([`name`](Self::name)), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What it measures, in a phrase.
    pub fn summary(self) -> &'static str {
        match self {
            Self::Latency => "Round trip A→B→A",
            Self::Throughput => "A one-way stream, counted when delivered",
            Self::FanIn => "Several writer processes streaming into one reader",
            Self::Pipeline => {
                "A chain of processes, each receiving from the one before, verifying and forwarding"
            }
            Self::RequestResponse => "Many clients, one server, closed loop",
            Self::PubSub => "One publisher, many subscribers, each receiving every message",
        }
    }

    /// Its name on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Latency => "latency",
            Self::Throughput => "throughput",
            Self::FanIn => "fan-in",
            Self::Pipeline => "pipeline",
            Self::RequestResponse => "request-response",
            Self::PubSub => "pub-sub",
        }
    }
}

/// How a waiting side learns that its peer has sent: reported with every result, so that a
/// busy-polling mechanism cannot pass for a free one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wake {
    /// Sleeps in the kernel until woken.
    Blocking,
    /// Spins briefly, then sleeps.
    SpinThenSleep,
    /// Spins on memory: lowest latency, a whole CPU per waiting side.
    BusyPoll,
}

impl Wake {
    /// The label used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Blocking => "blocking",
            Self::SpinThenSleep => "spin, then sleep",
            Self::BusyPoll => "busy-poll",
        }
    }
}

/// The figures of one mechanism, pattern and message size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Mechanism name (`ipc-profiler list`).
    pub mechanism: String,
    /// What was measured.
    pub pattern: Pattern,
    /// Bytes per message (0 for a mechanism that moves no payload).
    pub message_size: usize,
    /// Measured messages (round trips for latency; all writers' for fan-in).
    pub messages: u64,
    /// Messages run before measuring, excluded from every figure.
    pub warmup_messages: u64,
    /// Processes taking part.
    pub processes: u32,
    /// Fan-in: writer processes (`--procs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procs: Option<u32>,
    /// Pipeline: processes in the chain (`--stages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<u32>,
    /// Request-response: client processes (`--clients`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u32>,
    /// Pub-sub: subscriber processes (`--subscribers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribers: Option<u32>,
    /// Pub-sub: the rate the latency phase was paced at, messages per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paced_per_sec: Option<f64>,
    /// Lossy pub-sub: messages the subscribers lost in the measured phases, all added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
    /// `bench --repeat N`: which of the N runs of this configuration this is (1 to N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Where they ran.
    pub placement: String,
    /// How the waiting side is woken.
    pub wake: Wake,
    /// Round-trip latency, for the latency pattern.
    pub latency_ns: Option<LatencySummary>,
    /// Throughput, for the streaming patterns.
    pub throughput: Option<Throughput>,
    /// CPU used by all processes over the measured phase.
    pub cpu: CpuSummary,
    /// Every payload arrived whole, in order, exactly once.
    pub verified: bool,
    /// Why this did not run, when it could not.
    pub unsupported: Option<String>,
    /// Where each message's cost went (trace only).
    pub breakdown: Option<Breakdown>,
    /// What the mechanism set for this run that changes what it measures (`vmsplice`: the
    /// pipe's capacity), when it set something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
}

/// What identifies a run: the mechanism and how it was run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunIdentity {
    /// Mechanism name.
    pub mechanism: String,
    /// How its waiting side is woken.
    pub wake: Wake,
    /// What was measured.
    pub pattern: Pattern,
    /// Bytes per message.
    pub message_size: usize,
    /// Processes taking part.
    pub processes: u32,
    /// Fan-in: writer processes.
    pub procs: Option<u32>,
    /// Pipeline: processes in the chain.
    pub stages: Option<u32>,
    /// Request-response: client processes.
    pub clients: Option<u32>,
    /// Pub-sub: subscriber processes.
    pub subscribers: Option<u32>,
    /// Where they ran.
    pub placement: String,
    /// What the mechanism set for the run ([`RunResult::setting`]).
    pub setting: Option<String>,
}

/// What a run measured, for [`RunResult::measured`].
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Measured messages.
    pub messages: u64,
    /// Messages before measuring.
    pub warmup_messages: u64,
    /// Round-trip latency, for the latency pattern.
    pub latency_ns: Option<LatencySummary>,
    /// Throughput, for the streaming patterns.
    pub throughput: Option<Throughput>,
    /// CPU used over the measured phase.
    pub cpu: CpuSummary,
}

impl RunResult {
    /// Its pattern's own process count (writers, stages, clients or subscribers), if the
    /// pattern has one.
    pub fn pattern_count(&self) -> Option<u32> {
        [self.procs, self.stages, self.clients, self.subscribers]
            .into_iter()
            .flatten()
            .next()
    }

    /// A run that completed, every payload verified.
    pub fn measured(identity: RunIdentity, figures: Measured) -> Self {
        Self::of(identity, figures, None)
    }

    /// A combination that cannot run, with the reason.
    pub fn unsupported(identity: RunIdentity, reason: String) -> Self {
        let nothing = Measured {
            messages: 0,
            warmup_messages: 0,
            latency_ns: None,
            throughput: None,
            cpu: CpuSummary::default(),
        };
        Self::of(identity, nothing, Some(reason))
    }

    fn of(identity: RunIdentity, figures: Measured, unsupported: Option<String>) -> Self {
        Self {
            mechanism: identity.mechanism,
            pattern: identity.pattern,
            message_size: identity.message_size,
            messages: figures.messages,
            warmup_messages: figures.warmup_messages,
            processes: identity.processes,
            procs: identity.procs,
            stages: identity.stages,
            clients: identity.clients,
            subscribers: identity.subscribers,
            paced_per_sec: None,
            lost: None,
            repeat: None,
            placement: identity.placement,
            wake: identity.wake,
            latency_ns: figures.latency_ns,
            throughput: figures.throughput,
            cpu: figures.cpu,
            verified: unsupported.is_none(),
            unsupported,
            breakdown: None,
            setting: identity.setting,
        }
    }
}

mod load;
#[cfg(test)]
pub mod sample;

pub use load::load;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_names_are_their_json_names() {
        for pattern in [
            Pattern::Latency,
            Pattern::Throughput,
            Pattern::FanIn,
            Pattern::Pipeline,
            Pattern::RequestResponse,
            Pattern::PubSub,
        ] {
            let json = serde_json::to_value(pattern).unwrap();
            assert_eq!(json.as_str(), Some(pattern.name()));
        }
    }

    #[test]
    fn unsupported_results_are_not_verified() {
        let report = sample::report();
        assert!(report.results[0].verified);
        assert!(!report.results[1].verified);
        assert_eq!(report.results[1].messages, 0);
    }
}
