//! Where handing memory over pays: each way of moving large data without the kernel copying it
//! (a memfd passed per message, a pool of shared buffers, an ipc-core ring, a pipe fed with
//! vmsplice, a copy straight into the receiver's memory) against the plain path it replaces, at every size the throughput runs measured,
//! and the size from which it is the faster.

use super::claims::Claims;
use super::sections::{throughput_at, throughput_sizes, Table};
use crate::result::RunResult;
use crate::units::{byte_rate, size_label};

/// (the way that hands memory over, the plain path it is set against).
const PAIRS: [(&str, &str); 5] = [
    ("memfd-pass", "uds"),
    ("memfd-pool", "uds"),
    ("shm-futex", "uds"),
    ("vmsplice", "pipe"),
    ("cma", "uds"),
];

/// The smallest of `sizes` from which every ratio (the way's throughput over the plain path's,
/// `None` where either did not run) is at least 1: "from 64 KiB", "at every size", or "not up
/// to 1 MiB"; `None` without a figure at the largest size.
fn crossing(sizes: &[usize], ratios: &[Option<f64>]) -> Option<String> {
    let largest = *sizes.last()?;
    (*ratios.last()?)?;
    let mut from = None;
    for (&size, ratio) in sizes.iter().zip(ratios).rev() {
        match ratio {
            Some(r) if *r >= 1.0 => from = Some(size),
            _ => break,
        }
    }
    Some(match from {
        Some(size) if size == sizes[0] => "at every size".into(),
        Some(size) => format!("from {}", size_label(size)),
        None => format!("not up to {}", size_label(largest)),
    })
}

/// The crossings table, when the throughput runs measured both sides of a pair.
pub fn table(results: &[RunResult], claims: &Claims) -> Option<Table> {
    let sizes = throughput_sizes(results);
    let largest = *sizes.last()?;
    let mut header = vec!["hands memory over".to_string(), "against".to_string()];
    header.extend(sizes.iter().map(|s| size_label(*s)));
    header.push("faster".into());
    let mut rows = Vec::new();
    for (way, plain) in PAIRS {
        let ratios: Vec<Option<f64>> = sizes
            .iter()
            .map(|&s| Some(throughput_at(results, way, s)? / throughput_at(results, plain, s)?))
            .collect();
        let Some(faster) = crossing(&sizes, &ratios) else {
            continue;
        };
        let mut row = vec![way.to_string(), plain.to_string()];
        row.extend(
            ratios
                .iter()
                .map(|r| r.map_or("-".into(), |r| format!("{r:.2}x"))),
        );
        row.push(faster);
        rows.push(row);
    }
    let measured_at_largest: Vec<String> = ["shm-futex", "memfd-pool", "memfd-pass", "uds"]
        .iter()
        .filter_map(|m| {
            Some(format!(
                "{m} {}",
                byte_rate(throughput_at(results, m, largest)?)
            ))
        })
        .collect();
    let claim = claims
        .for_mechanism("throughput", "shm-futex", largest)
        .map(|c| {
            format!(
                " The comparison calls shared memory zero-copy and gives it {} at {} (its \
                 \"{}\" row); measured here at {}: {}.",
                c.display(),
                size_label(largest),
                c.row,
                size_label(largest),
                measured_at_largest.join(", ")
            )
        })
        .unwrap_or_default();
    Some(Table {
        title: "Handing memory over against copying it, by message size".into(),
        note: format!(
            "Throughput of each way that hands the payload's memory over, as a multiple of the \
             plain path it replaces, one writer to one reader; \"faster\" is the size from which \
             it stays ahead. A memfd per message pays for a new file, its mapping and its \
             descriptor each time; a pool pays once; vmsplice pays a page reference per page \
             instead of a copy into the pipe, and the reader still copies once; cma copies once, \
             from the sender's memory into the receiver's, but waits for each receive to post \
             its buffer. The pipes of both pipe mechanisms are raised alike to hold a message.{claim}"
        ),
        header,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crossing_is_the_size_from_which_it_stays_ahead() {
        let sizes = [64, 1_024, 65_536, 1 << 20];
        let at = |r: [f64; 4]| crossing(&sizes, &r.map(Some));
        assert_eq!(at([0.2, 0.5, 1.3, 4.0]).as_deref(), Some("from 64 KiB"));
        assert_eq!(at([1.2, 1.5, 1.3, 4.0]).as_deref(), Some("at every size"));
        assert_eq!(at([1.2, 0.9, 1.3, 0.8]).as_deref(), Some("not up to 1 MiB"));
        assert_eq!(
            at([1.2, 0.9, 1.3, 1.1]).as_deref(),
            Some("from 64 KiB"),
            "ahead at 64 B but behind at 1 KiB: from where it stays ahead"
        );
        let missing = crossing(&sizes, &[Some(2.0), None, Some(2.0), Some(2.0)]);
        assert_eq!(missing.as_deref(), Some("from 64 KiB"));
        assert_eq!(crossing(&sizes, &[Some(2.0), None, None, None]), None);
    }
}
