//! One of the comparison's mistakes, found in a traced program with the evidence that shows it
//! (docs/diagnosing.md).

use serde::{Deserialize, Serialize};

/// A mistake the traced program makes, and what was measured that shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `tcp-loopback`, `large-pipe-write`, `small-writes`, `large-queue-message`,
    /// `futex-convoy`, `leaked-object`.
    pub kind: String,
    /// The channel it concerns, by its name, when it concerns one.
    pub channel: Option<String>,
    /// What was measured that shows it, in a sentence with the figures.
    pub evidence: String,
    /// What to do instead, in a sentence.
    pub advice: String,
    /// `busy-wait`: the CPU time, ns, the samples found the process polling (at `pause`, in
    /// its loop, or all of it when it polls by yielding): what sleeping would give back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_ns: Option<u64>,
    /// With `trace --what-if`: the alternative measured here, and what it would save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIf>,
}

/// The channel's traffic measured over the mechanism it uses and over the advised one, on this
/// machine, with the channel's own pattern and median message size: what the change would save
/// the program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    /// The mechanism the channel is (`tcp`), as `ipc-profiler list` names it.
    pub current: String,
    /// The advised one (`uds`).
    pub alternative: String,
    /// `latency` (the channel made round trips) or `throughput` (one-way messages).
    pub pattern: String,
    /// Bytes per message: the channel's median send.
    pub message_size: u64,
    /// Where the two benchmark processes ran.
    pub placement: String,
    /// A message's cost over `current`, ns: the round trip's p50, or one message's share of
    /// the throughput run.
    pub current_ns: u64,
    /// The same over `alternative`.
    pub alternative_ns: u64,
    /// The program's round trips (or messages) on the channel.
    pub messages: u64,
    /// How long the program was traced, ns: a channel's round trips wait one after another,
    /// so what they save comes off this time.
    pub traced_ns: u64,
    /// `messages` times the difference in cost, ns: negative when the alternative is slower.
    pub saving_ns: i64,
    /// The round trips (or messages) per second the channel would carry, as a multiple of
    /// today's: `traced_ns / (traced_ns - saving_ns)`, if nothing else limits it; `None` when
    /// the saving is not below the traced time (the benchmark's messages cost more than the
    /// program's: no prediction).
    pub speedup: Option<f64>,
    /// `busy-wait`'s what-if, whose saving is CPU, not time: each benchmark's CPU per round
    /// trip (both processes); `saving_ns` is then the CPU the program polled, given back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuPerMessage>,
}

/// CPU per round trip (user + system, both processes, ns) in a what-if's two benchmarks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuPerMessage {
    /// Over the mechanism the program uses.
    pub current_ns: u64,
    /// Over the advised one.
    pub alternative_ns: u64,
}
