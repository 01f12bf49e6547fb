//! `recommend`: which mechanism to use for a pattern, a message size and a process count,
//! decided by what was measured on this machine (or read from a report), with the figure that
//! placed each mechanism and the reason each excluded one was ruled out.

pub mod render;
mod rules;

use serde::Serialize;

pub use render::render;
pub use rules::{crosses_hosts, streamed, Inputs};
use rules::{rank, Excluded, Ranked};

use crate::result::RunResult;

/// The answer: the qualifying mechanisms best first, the excluded ones, what was asked, and
/// what the other placement measured.
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    /// Best first; the first is the choice, the second the runner-up.
    pub ranking: Vec<Ranked>,
    /// Ruled out, each with its reason.
    pub excluded: Vec<Excluded>,
    /// What was asked.
    pub inputs: Inputs,
    /// The leaders measured again at the other placement, when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_placement: Option<OtherPlacement>,
}

/// The leading mechanisms measured at the other placement (one CPU instead of two, or the
/// reverse): placement can reverse an answer.
#[derive(Clone, Debug, Serialize)]
pub struct OtherPlacement {
    /// Where they ran.
    pub placement: String,
    /// Their ranking there.
    pub ranking: Vec<Ranked>,
    /// Whether the choice there differs from the choice here.
    pub changes_the_choice: bool,
}

/// Decides from `results` (one per mechanism, all of one configuration).
pub fn decide(results: &[RunResult], inputs: Inputs) -> Recommendation {
    let (ranking, excluded) = rank(results, &inputs);
    Recommendation {
        ranking,
        excluded,
        inputs,
        other_placement: None,
    }
}

impl Recommendation {
    /// The mechanisms worth measuring at the other placement: the first three.
    pub fn leaders(&self) -> Vec<String> {
        self.ranking
            .iter()
            .take(3)
            .map(|r| r.mechanism.clone())
            .collect()
    }

    /// Adds what the leaders measured at another placement.
    pub fn with_other_placement(mut self, placement: String, results: &[RunResult]) -> Self {
        let inputs = Inputs {
            placement: placement.clone(),
            ..self.inputs.clone()
        };
        let (ranking, _) = rank(results, &inputs);
        let changes_the_choice = match (ranking.first(), self.ranking.first()) {
            (Some(there), Some(here)) => there.mechanism != here.mechanism,
            _ => false,
        };
        self.other_placement = Some(OtherPlacement {
            placement,
            ranking,
            changes_the_choice,
        });
        self
    }
}
