//! The report of a traced program (`trace --pid`, `trace -- CMD`).

use serde::{Deserialize, Serialize};

use super::{Breakdown, Channel, Environment, Finding, TOOL};

/// The report of a traced program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramReport {
    /// Always "ipc-profiler".
    pub tool: String,
    /// The version of the tool that wrote it.
    pub version: String,
    /// The machine.
    pub environment: Environment,
    /// Which program.
    pub program: ProgramInfo,
    /// How long it was traced, in seconds.
    pub seconds: f64,
    /// Totals over that time (`messages` is 1: every figure is a total).
    pub breakdown: Breakdown,
    /// Its IPC channels, each end paired (empty when they could not be followed: see
    /// `channels_unavailable`).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Why channels could not be followed on this kernel, when they could not.
    #[serde(default)]
    pub channels_unavailable: Option<String>,
    /// The comparison's mistakes found in its channels, with their evidence
    /// (docs/diagnosing.md).
    #[serde(default)]
    pub findings: Vec<Finding>,
}

impl ProgramReport {
    /// The report of `program`, traced for `seconds` on `environment`.
    pub fn new(
        environment: Environment,
        program: ProgramInfo,
        seconds: f64,
        breakdown: Breakdown,
    ) -> Self {
        Self {
            tool: TOOL.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            environment,
            program,
            seconds,
            breakdown,
            channels: Vec::new(),
            channels_unavailable: None,
            findings: Vec::new(),
        }
    }
}

/// The traced program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramInfo {
    /// Its process id.
    pub pid: u32,
    /// The command, when ipc-profiler started it.
    pub command: Option<Vec<String>>,
    /// How it ended, when it ended while traced.
    pub exit: Option<String>,
}
