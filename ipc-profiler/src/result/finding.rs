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
}
