//! `list`: the mechanisms and whether each can run here.

use super::output::print;
use crate::mechanism;

/// Runs `list`.
pub(super) fn run() -> anyhow::Result<()> {
    let mut text = String::new();
    for mech in mechanism::all() {
        let status = match mech.available() {
            Ok(()) => "available".to_string(),
            Err(reason) => format!("unavailable: {reason}"),
        };
        let line = format!("{:<14} {:<78} {status}\n", mech.name(), mech.summary());
        text.push_str(&line);
    }
    print(&text)
}
