//! `busy-wait`: a process polling shared memory on a CPU instead of sleeping until there is
//! something to read (the comparison's Mistake 5): it burns a CPU the whole time it waits, and
//! on a machine with fewer CPUs than busy processes it delays the very process it waits for.
//! Told from a process that computes by where CPU-clock samples find it: a spin-wait loop runs
//! `pause` between its polls, a computation rarely does; a loop that polls without `pause` is
//! found at a handful of instruction addresses, next to each other, nearly every time, where a
//! computation spreads over many. Or by `sched_yield` in a loop.

use crate::result::Finding;
use crate::units::{count, duration_ns};

/// Fewest samples (about a tenth of a second on a CPU, at 997 a second) before the share of
/// them at `pause` means anything.
pub const MIN_SAMPLES: u64 = 100;
/// The share of a process's user-mode samples at a `pause` instruction from which it spins.
pub const PAUSE_SHARE: f64 = 0.10;
/// How many of a process's most sampled instruction addresses make "a handful": a polling
/// loop is a load, a compare and a branch, a few more with a counter or a timeout check.
pub const LOOP_ADDRESSES: usize = 8;
/// How far from the most sampled address (bytes) the others may lie to be one loop.
pub const LOOP_SPAN: u64 = 256;
/// The share of a process's user-mode samples at one loop's [`LOOP_ADDRESSES`] from which it
/// polls without `pause`.
pub const LOOP_SHARE: f64 = 0.80;
/// `sched_yield` calls a second from which a process polls by yielding.
pub const YIELDS_PER_SEC: f64 = 10_000.0;

/// What the trace saw of one process's time on a CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct OnCpu {
    /// The process, as `name(pid)`.
    pub process: String,
    /// CPU-clock samples that found it running.
    pub samples: u64,
    /// Those in user mode.
    pub user_samples: u64,
    /// Those in user mode at a `pause` instruction.
    pub pause_samples: u64,
    /// Its most sampled user-mode instruction addresses, with their samples, most first (at
    /// most [`LOOP_ADDRESSES`]).
    pub hottest_addresses: Vec<(u64, u64)>,
    /// Samples a second on each CPU (to turn samples into time).
    pub frequency: u64,
    /// Its `sched_yield` calls.
    pub yields: u64,
    /// How long it was traced, seconds.
    pub seconds: f64,
    /// The shared memory it (or the process that started it, whose mappings it inherits) has
    /// mapped, by channel name; empty when none.
    pub shared_memory: Vec<String>,
}

/// One loop's share of a process's user-mode samples: its [`LOOP_ADDRESSES`] most sampled
/// addresses that lie within [`LOOP_SPAN`] of the most sampled one, with how many they are and
/// the bytes they span.
struct Loop {
    share: f64,
    addresses: usize,
    span: u64,
}

fn hottest_loop(process: &OnCpu) -> Option<Loop> {
    let &(hottest, _) = process.hottest_addresses.first()?;
    let near: Vec<(u64, u64)> = process
        .hottest_addresses
        .iter()
        .take(LOOP_ADDRESSES)
        .filter(|(ip, _)| ip.abs_diff(hottest) <= LOOP_SPAN)
        .copied()
        .collect();
    let samples: u64 = near.iter().map(|(_, n)| n).sum();
    let lowest = near.iter().map(|(ip, _)| *ip).min()?;
    let highest = near.iter().map(|(ip, _)| *ip).max()?;
    Some(Loop {
        share: samples as f64 / process.user_samples.max(1) as f64,
        addresses: near.len(),
        span: highest - lowest,
    })
}

/// A finding when a process that holds shared memory spins (over at least [`MIN_SAMPLES`]: a
/// share of at least [`PAUSE_SHARE`] of its user samples at `pause`, or of [`LOOP_SHARE`] in
/// one loop of a handful of addresses) or yields at least [`YIELDS_PER_SEC`] times a second.
pub fn find(process: &OnCpu) -> Option<Finding> {
    let shared = process.shared_memory.first()?;
    let enough = process.samples >= MIN_SAMPLES;
    let pause_share = process.pause_samples as f64 / process.user_samples.max(1) as f64;
    let spins = enough && pause_share >= PAUSE_SHARE;
    let polls = hottest_loop(process).filter(|l| enough && l.share >= LOOP_SHARE);
    let yields_per_sec = process.yields as f64 / process.seconds.max(1e-9);
    let yields = yields_per_sec >= YIELDS_PER_SEC;
    if !spins && polls.is_none() && !yields {
        return None;
    }
    let sample_ns = 1e9 / process.frequency.max(1) as f64;
    let on_cpu_ns = process.samples as f64 * sample_ns;
    let polling_samples = if spins {
        process.pause_samples as f64
    } else if let Some(hot) = &polls {
        hot.share * process.user_samples as f64
    } else {
        process.samples as f64
    };
    let how = if spins {
        format!(
            "{:.0}% of its user-mode samples at a pause instruction (a spin-wait loop)",
            pause_share * 100.0
        )
    } else if let Some(hot) = polls {
        format!(
            "{:.0}% of its user-mode samples at {} instruction addresses within {} bytes (a \
             loop polling without pause, unless that loop computes)",
            hot.share * 100.0,
            hot.addresses,
            hot.span
        )
    } else {
        format!(
            "{} sched_yield calls a second",
            count(yields_per_sec.round())
        )
    };
    Some(Finding {
        kind: "busy-wait".into(),
        channel: Some(shared.clone()),
        evidence: format!(
            "{} ran on a CPU about {} of the {} traced ({} samples), {how}, while it maps \
             shared memory",
            process.process,
            duration_ns(on_cpu_ns),
            duration_ns(process.seconds * 1e9),
            count(process.samples as f64),
        ),
        advice: "sleep on a futex (or an eventfd) when there is nothing to read, after a short \
                 spin if latency matters (ipc-core's futex wait does both)"
            .into(),
        polling_ns: Some((polling_samples * sample_ns).round() as u64),
        what_if: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(samples: u64, pause_samples: u64, yields: u64, shared: bool) -> OnCpu {
        OnCpu {
            process: "poller(7)".into(),
            samples,
            user_samples: samples,
            pause_samples,
            hottest_addresses: vec![(0x1000, samples / 10), (0x2000, samples / 20)],
            frequency: 997,
            yields,
            seconds: 2.0,
            shared_memory: if shared {
                vec!["memfd ring poller(7), writer(8)".into()]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn a_process_spinning_at_pause_or_yielding_while_it_maps_shared_memory_is_found() {
        let found = find(&process(1_994, 1_800, 0, true)).unwrap();
        assert_eq!(found.kind, "busy-wait");
        // Its samples at pause, 1 ms each at 997 a second, are the time it polled at least.
        assert_eq!(found.polling_ns, Some(1_805_416_249));
        assert!(
            found
                .evidence
                .contains("90% of its user-mode samples at a pause"),
            "{found:?}"
        );
        assert!(
            found.evidence.contains("about 2.00 s of the 2.00 s"),
            "{found:?}"
        );
        let yielding = find(&process(1_994, 0, 40_000, true)).unwrap();
        assert!(
            yielding
                .evidence
                .contains("20000 sched_yield calls a second"),
            "{yielding:?}"
        );
    }

    #[test]
    fn a_loop_at_a_handful_of_addresses_is_polling_unless_it_spreads() {
        let mut poller = process(1_000, 0, 0, true);
        poller.hottest_addresses = vec![(0x1008, 500), (0x1000, 300), (0x100c, 150), (0x9000, 40)];
        let found = find(&poller).unwrap();
        assert!(
            found.evidence.contains(
                "95% of its user-mode samples at 3 instruction addresses within 12 bytes"
            ),
            "{found:?}"
        );
        // The same share over addresses far apart is not one loop.
        poller.hottest_addresses = vec![(0x1008, 500), (0x8000, 300), (0x9000, 150)];
        assert_eq!(find(&poller), None);
        // One loop under the share is a computation's hot spot.
        poller.hottest_addresses = vec![(0x1008, 500), (0x1000, 290)];
        assert_eq!(find(&poller), None);
    }

    #[test]
    fn computing_a_few_samples_or_no_shared_memory_is_no_finding() {
        assert_eq!(find(&process(1_994, 20, 0, true)), None, "a computation");
        assert_eq!(
            find(&process(MIN_SAMPLES - 1, MIN_SAMPLES - 1, 0, true)),
            None
        );
        assert_eq!(
            find(&process(1_994, 1_800, 0, false)),
            None,
            "no shared memory"
        );
    }
}
