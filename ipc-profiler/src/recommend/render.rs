//! `recommend`'s answer for people (text) or programs (JSON).

use super::Recommendation;
use crate::units::size_label;

/// How `recommend` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Sentences.
    Text,
    /// `{"ranking", "excluded", "inputs", "other_placement"}`.
    Json,
}

/// The recommendation in `format`.
pub fn render(recommendation: &Recommendation, format: Format) -> String {
    if format == Format::Json {
        let mut text =
            serde_json::to_string_pretty(recommendation).expect("a recommendation serializes");
        text.push('\n');
        return text;
    }
    let inputs = &recommendation.inputs;
    let mut text = format!(
        "For {} of {} messages{}, {} (measured on this machine):\n",
        inputs.pattern.name(),
        size_label(inputs.message_size),
        inputs.count.map_or(String::new(), |n| format!(
            ", {}",
            crate::units::counted(n, counted(inputs.pattern))
        )),
        inputs.placement
    );
    if inputs.cross_host {
        text.push_str(&format!("  ({})\n", super::rules::LOOPBACK_NOTE));
    }
    match recommendation.ranking.first() {
        Some(choice) => text.push_str(&format!("  use {}: {}\n", choice.mechanism, choice.reason)),
        None => text.push_str("  no mechanism qualifies: every one was ruled out (below)\n"),
    }
    if let Some(second) = recommendation.ranking.get(1) {
        text.push_str(&format!(
            "  runner-up {}: {}\n",
            second.mechanism, second.reason
        ));
    }
    for other in recommendation.ranking.iter().skip(2) {
        text.push_str(&format!("  then {}: {}\n", other.mechanism, other.reason));
    }
    if !recommendation.excluded.is_empty() {
        text.push_str("Excluded:\n");
        for e in &recommendation.excluded {
            text.push_str(&format!("  {}: {}\n", e.mechanism, e.reason));
        }
    }
    if let Some(other) = &recommendation.other_placement {
        let leader = other.ranking.first();
        let figures = |reason: &str| reason.trim_start_matches("the choice: ").to_string();
        text.push_str(&match (other.changes_the_choice, leader) {
            (true, Some(l)) => format!(
                "Placement matters here: measured {}, {} would be the choice instead ({}).\n",
                other.placement,
                l.mechanism,
                figures(&l.reason)
            ),
            (false, Some(l)) => format!(
                "Measured again {}, the choice holds ({}: {}).\n",
                other.placement,
                l.mechanism,
                figures(&l.reason)
            ),
            _ => String::new(),
        });
    }
    text
}

fn counted(pattern: crate::result::Pattern) -> &'static str {
    let count = crate::bench::patterns::spec(pattern).count.as_ref();
    count.map_or("processes", |count| count.noun)
}
