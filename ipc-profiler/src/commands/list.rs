//! `list`: the mechanisms and whether each can run here.

use crate::mechanism;

/// Runs `list`.
pub(super) fn run() {
    for mech in mechanism::all() {
        let status = match mech.available() {
            Ok(()) => "available".to_string(),
            Err(reason) => format!("unavailable: {reason}"),
        };
        println!("{:<14} {:<78} {status}", mech.name(), mech.summary());
    }
}
