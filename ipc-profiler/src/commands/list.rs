//! `list`: the mechanisms and whether each can run here.

use super::output::print;
use crate::mechanism;

/// Runs `list`.
pub(super) fn run() -> anyhow::Result<()> {
    print(&table())
}

/// A line per mechanism: its name, what it is, whether it can run here, in aligned columns.
fn table() -> String {
    let all = mechanism::all();
    let name_width = all.iter().map(|m| m.name().len()).max().unwrap_or(0);
    let summary_width = all
        .iter()
        .map(|m| m.summary().chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for mech in all {
        let status = match mech.available() {
            Ok(()) => "available".to_string(),
            Err(reason) => format!("unavailable: {reason}"),
        };
        let (name, summary) = (mech.name(), mech.summary());
        text.push_str(&format!(
            "{name:<name_width$}  {summary:<summary_width$}  {status}\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_status_starts_in_one_column() {
        let text = super::table();
        let columns: Vec<usize> = text
            .lines()
            .map(|line| {
                let at = line
                    .rfind("  available")
                    .or_else(|| line.rfind("  unavailable"));
                line[..at.expect("a status on every line")].chars().count()
            })
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
    }
}
