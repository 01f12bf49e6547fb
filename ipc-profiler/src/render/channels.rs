//! A traced program's (or benchmark's) IPC channels, for people: one table row per channel
//! and direction, a process's channels with itself on one line, idle ones counted.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::Table;

use super::markdown as markdown_table;
use crate::result::{Channel, FutexFigures};
use crate::units::{bytes, count, duration_ns, or_na};

/// The channel table (one row per direction), or why there is none.
pub fn table(channels: &[Channel], unavailable: Option<&str>) -> String {
    if let Some(why) = unavailable {
        return format!("IPC channels: not shown: {why}.\n");
    }
    if channels.is_empty() {
        return "IPC channels: none (no pipe, FIFO or socket was read or written).\n".into();
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "channel",
        "direction",
        "sends",
        "bytes sent",
        "size p50 ≤",
        "size max",
        "receives",
        "bytes received",
        "time in calls",
        "blocked",
        "wake-ups",
        "round trip p50 ≤",
    ]);
    let (shared, channels): (Vec<&Channel>, Vec<&Channel>) =
        channels.iter().partition(|c| c.futex.is_some());
    let (moved, idle): (Vec<_>, Vec<_>) = channels
        .into_iter()
        .partition(|c| c.directions.iter().any(|d| d.sends + d.receives != 0));
    // A pipe a process writes to itself (an event loop's wake-up) belongs to that process; one
    // whose other end is in a process not traced (an older child of a `--pid`) stays a row.
    let (own, moved): (Vec<_>, Vec<_>) = moved.into_iter().partition(|c| with_itself(c));
    for channel in moved {
        let label = if channel.addresses.is_empty() {
            let inodes: Vec<String> = channel.inodes.iter().map(u64::to_string).collect();
            format!("{} [{}]", channel.kind, inodes.join("<->"))
        } else {
            channel.name.clone()
        };
        let directions = channel
            .directions
            .iter()
            .filter(|d| d.sends + d.receives != 0);
        for (i, d) in directions.enumerate() {
            // A side nobody was seen on is a process not traced, or one that never made the
            // call: an eventfd a runtime polls and never reads (ipc-core-tokio's sleepers).
            let way = format!(
                "{} -> {}",
                names_or(&d.from, "(no writer seen)"),
                names_or(&d.to, "(no reader seen)")
            );
            table.add_row(vec![
                if i == 0 { label.clone() } else { String::new() },
                way,
                count(d.sends as f64),
                bytes(d.bytes_sent as f64),
                or_na(d.size_p50_at_most.map(|b| b as f64), bytes),
                or_na(d.size_max.map(|b| b as f64), bytes),
                count(d.receives as f64),
                bytes(d.bytes_received as f64),
                duration_ns((d.send_ns + d.receive_ns) as f64),
                duration_ns(d.blocked_ns as f64),
                count(d.wakeups as f64),
                or_na(d.round_trip_p50_ns_at_most.map(|ns| ns as f64), duration_ns),
            ]);
        }
    }
    let own = if own.is_empty() {
        String::new()
    } else {
        let each: Vec<String> = own
            .iter()
            .map(|c| {
                let e = &c.ends[0];
                let sends: u64 = c.directions.iter().map(|d| d.sends).sum();
                format!(
                    "{}({}) {} ({} sends)",
                    e.process,
                    e.pid,
                    c.kind,
                    count(sends as f64)
                )
            })
            .collect();
        format!(
            "Channels a process has with itself (a self-pipe, as event loops wake themselves): \
             {}.\n",
            each.join(", ")
        )
    };
    let idle = match idle.len() {
        0 => String::new(),
        1 => "1 more channel moved nothing (only end of file or errors).\n".to_string(),
        n => format!("{n} more channels moved nothing (only end of file or errors).\n"),
    };
    let descriptors = if table.row_count() == 0 && own.is_empty() && idle.is_empty() {
        String::new()
    } else {
        format!(
            "IPC channels (each end found when first used, paired across processes; [inode] as \
             /proc/PID/fd shows it, or a System V object's id):\n{table}\n{own}{idle}"
        )
    };
    format!("{descriptors}{}", shared_table(&shared))
}

/// Columns of the shared-memory table, after its name and processes.
const SHARED_COLUMNS: [&str; 9] = [
    "waits",
    "waited",
    "blocked",
    "waits not woken",
    "wakes",
    "threads woken",
    "wakes of nobody",
    "wake time",
    "futex words (offset: waits/wakes)",
];

/// The shared memory the processes mapped, with the futex calls made inside it; empty when
/// there is none.
fn shared_table(shared: &[&Channel]) -> String {
    if shared.is_empty() {
        return String::new();
    }
    let mut table = Table::new();
    let mut header = vec!["shared memory (kind, name, processes)"];
    header.extend(SHARED_COLUMNS);
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for channel in shared {
        let Some(f) = &channel.futex else { continue };
        table.add_row(vec![
            channel.name.clone(),
            count(f.waits as f64),
            duration_ns(f.wait_ns as f64),
            duration_ns(f.blocked_ns as f64),
            count(f.waits_not_woken as f64),
            count(f.wakes as f64),
            count(f.woken as f64),
            count(f.wakes_of_nobody as f64),
            duration_ns(f.wake_ns as f64),
            words(f),
        ]);
    }
    format!(
        "Shared memory (what moves through it the kernel does not see: no messages or bytes; \
         the futex waits and wakes on words inside it it does):\n{table}\n"
    )
}

/// The names joined, or `none`.
fn names_or(names: &[String], none: &str) -> String {
    if names.is_empty() {
        none.to_string()
    } else {
        names.join(", ")
    }
}

/// Columns of the channel rows in Markdown: one row per channel and direction.
const CHANNEL_COLUMNS: [&str; 13] = [
    "channel",
    "kind",
    "from",
    "to",
    "sends",
    "bytes_sent",
    "size_p50_at_most",
    "size_max",
    "receives",
    "bytes_received",
    "call_ns",
    "blocked_ns",
    "wakeups",
];

/// The channels as a Markdown table (or why there are none).
pub fn markdown(channels: &[Channel], unavailable: Option<&str>) -> String {
    if let Some(why) = unavailable {
        return format!("\nIPC channels: not shown: {why}.\n");
    }
    let shared = shared_rows(channels);
    let shared = if shared.is_empty() {
        String::new()
    } else {
        format!(
            "\nShared memory (no messages or bytes: the kernel sees only the futex calls):\n\n{}\n",
            markdown_table::table(&shared_columns(), shared)
        )
    };
    let rows = flat_rows(channels);
    if rows.is_empty() && !shared.is_empty() {
        return shared;
    }
    format!(
        "\nIPC channels:\n\n{}\n{shared}",
        markdown_table::table(&CHANNEL_COLUMNS, rows)
    )
}

/// Each futex word of `f` as `offset: waits/wakes`, by offset.
fn words(f: &FutexFigures) -> String {
    let each: Vec<String> = f
        .words
        .iter()
        .map(|w| format!("{}: {}/{}", w.offset, w.waits, w.wakes))
        .collect();
    each.join(", ")
}

/// The shared-memory table's columns, machine-readable.
fn shared_columns() -> Vec<&'static str> {
    vec![
        "shared_memory",
        "kind",
        "waits",
        "wait_ns",
        "blocked_ns",
        "waits_not_woken",
        "wakes",
        "woken",
        "wakes_of_nobody",
        "wake_ns",
        "words",
    ]
}

/// One row per shared memory object, in `shared_columns()`' order.
fn shared_rows(channels: &[Channel]) -> Vec<Vec<String>> {
    channels
        .iter()
        .filter_map(|c| {
            let f = c.futex.as_ref()?;
            Some(vec![
                c.name.clone(),
                c.kind.clone(),
                f.waits.to_string(),
                f.wait_ns.to_string(),
                f.blocked_ns.to_string(),
                f.waits_not_woken.to_string(),
                f.wakes.to_string(),
                f.woken.to_string(),
                f.wakes_of_nobody.to_string(),
                f.wake_ns.to_string(),
                words(f),
            ])
        })
        .collect()
}

/// The channels as CSV rows under their own header (after the process rows and a blank line,
/// in a program report's CSV); nothing where channels are unknown.
pub fn csv(channels: &[Channel], unavailable: Option<&str>) -> String {
    if unavailable.is_some() {
        return String::new();
    }
    let shared = shared_rows(channels);
    let shared = if shared.is_empty() {
        String::new()
    } else {
        format!("\n{}", super::csv::rows(&shared_columns(), shared))
    };
    format!(
        "\n{}{shared}",
        super::csv::rows(&CHANNEL_COLUMNS, flat_rows(channels))
    )
}

/// One flat row per channel and direction, in `CHANNEL_COLUMNS`' order.
fn flat_rows(channels: &[Channel]) -> Vec<Vec<String>> {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    channels
        .iter()
        .flat_map(|c| {
            c.directions.iter().map(move |d| {
                vec![
                    c.name.clone(),
                    c.kind.clone(),
                    d.from.join(", "),
                    d.to.join(", "),
                    d.sends.to_string(),
                    d.bytes_sent.to_string(),
                    opt(d.size_p50_at_most),
                    opt(d.size_max),
                    d.receives.to_string(),
                    d.bytes_received.to_string(),
                    (d.send_ns + d.receive_ns).to_string(),
                    d.blocked_ns.to_string(),
                    d.wakeups.to_string(),
                ]
            })
        })
        .collect()
}

/// True when one process both sends and receives every message of `channel`: its ends are all
/// in that process, and every direction with traffic has it at both ends.
pub(crate) fn with_itself(channel: &Channel) -> bool {
    let Some(first) = channel.ends.first() else {
        return false;
    };
    channel.ends.iter().all(|e| e.pid == first.pid)
        && channel
            .directions
            .iter()
            .filter(|d| d.sends + d.receives != 0)
            .all(|d| !d.from.is_empty() && d.from == d.to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{ChannelEnd, FutexWord};

    fn shared_memory() -> Channel {
        let end = |pid| ChannelEnd {
            pid,
            process: "worker".into(),
            fd: None,
            inode: 9,
        };
        Channel {
            kind: "memfd".into(),
            name: "memfd ring worker(1), worker(2)".into(),
            inodes: vec![9],
            addresses: Vec::new(),
            ends: vec![end(1), end(2)],
            directions: Vec::new(),
            messages: None,
            bytes: None,
            futex: Some(FutexFigures {
                waits: 17,
                wakes_of_nobody: 4,
                words: vec![
                    FutexWord {
                        offset: 0,
                        waits: 17,
                        wakes: 0,
                    },
                    FutexWord {
                        offset: 64,
                        waits: 0,
                        wakes: 21,
                    },
                ],
                ..FutexFigures::default()
            }),
        }
    }

    #[test]
    fn shared_memory_has_a_table_of_its_own_and_is_not_a_channel_that_moved_nothing() {
        let text = table(&[shared_memory()], None);
        assert!(text.starts_with("Shared memory"), "{text}");
        assert!(text.contains("memfd ring worker(1), worker(2)"), "{text}");
        assert!(!text.contains("moved nothing"), "{text}");
        let row = text.lines().find(|l| l.contains("memfd ring")).unwrap();
        // `│ name ┆ waits ┆ ... ┆ words │`: the borders make an empty first and last cell.
        let cells: Vec<&str> = row.split(['┆', '│']).map(str::trim).collect();
        assert_eq!(
            (cells[2], cells[8]),
            ("17", "4"),
            "waits, wakes of nobody: {row}"
        );
        assert_eq!(cells[10], "0: 17/0, 64: 0/21", "{row}");
        let markdown = markdown(&[shared_memory()], None);
        assert!(
            !markdown.contains("IPC channels"),
            "no empty table: {markdown}"
        );
        let row = markdown.lines().find(|l| l.contains("memfd ring")).unwrap();
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(
            cells[1..4],
            ["memfd ring worker(1), worker(2)", "memfd", "17"]
        );
        let csv = csv(&[shared_memory()], None);
        assert!(csv.contains("\nshared_memory,kind,waits,"), "{csv}");
    }
}
