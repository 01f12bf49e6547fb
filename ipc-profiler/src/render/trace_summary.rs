//! One table for a trace of several mechanisms: each mechanism's breakdown per round trip on
//! one line, in the latency table's order, so that they can be compared at a glance.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::Table;

use crate::result::RunResult;
use crate::units::{bytes, count, or_na};

/// The summary table, or `None` when fewer than two results have a breakdown.
pub fn table(results: &[&RunResult]) -> Option<Table> {
    let traced: Vec<&RunResult> = results
        .iter()
        .copied()
        .filter(|r| r.breakdown.is_some())
        .collect();
    if traced.len() < 2 {
        return None;
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "mechanism",
        "syscalls",
        "kernel time",
        "user time",
        "switches",
        "wake-ups",
        "wake to run",
        "on-CPU",
        "off-CPU",
        "bytes copied",
        "socket bytes",
        "tracing cost",
    ]);
    for result in traced {
        let Some(b) = &result.breakdown else {
            continue;
        };
        let m = &b.per_message;
        let name = match result.pattern {
            crate::result::Pattern::Latency => result.mechanism.clone(),
            _ => format!(
                "{} {}",
                result.mechanism,
                crate::units::size_label(result.message_size)
            ),
        };
        let mut row = vec![name, syscalls_by_name(b)];
        row.extend(super::cells::per_message(m));
        row.push(or_na(m.socket_bytes_copied, bytes));
        row.push(
            b.overhead
                .as_ref()
                .map_or("n/a".to_string(), super::cells::tracing_cost),
        );
        table.add_row(row);
    }
    Some(table)
}

/// "4: read 2, write 2": calls per round trip, then the calls made at least once per 100.
fn syscalls_by_name(b: &crate::result::Breakdown) -> String {
    let named: Vec<String> = b
        .syscalls
        .iter()
        .filter(|s| s.per_message >= 0.01)
        .map(|s| format!("{} {}", s.name, count(s.per_message)))
        .collect();
    if named.is_empty() {
        count(b.per_message.syscalls)
    } else {
        format!("{}: {}", count(b.per_message.syscalls), named.join(", "))
    }
}
