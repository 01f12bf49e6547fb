//! `futex-convoy`: wakes that each wake many waiters in shared memory (a broadcast on a
//! condition only one can act on): all wake, all but one find nothing to do and sleep again,
//! each a switch in and out.

use super::finding;
use crate::result::{Channel, Finding};
use crate::units::count;

/// Threads woken per wake (on average, over wakes that woke anyone) from which the wakes are a
/// convoy.
pub const WOKEN_PER_WAKE: f64 = 4.0;
/// Fewest wakes before the average means anything.
pub const MIN_WAKES: u64 = 20;

/// A finding when `channel` is shared memory whose wakes woke at least [`WOKEN_PER_WAKE`]
/// threads each, over at least [`MIN_WAKES`] wakes.
pub fn find(channel: &Channel) -> Option<Finding> {
    let f = channel.futex.as_ref()?;
    if f.wakes < MIN_WAKES || (f.woken as f64) < WOKEN_PER_WAKE * f.wakes as f64 {
        return None;
    }
    let evidence = format!(
        "{} wakes woke {} threads, {:.1} per wake; {} waits returned without a wake (the word \
         had changed)",
        count(f.wakes as f64),
        count(f.woken as f64),
        f.woken as f64 / f.wakes as f64,
        count(f.waits_not_woken as f64),
    );
    Some(finding(
        "futex-convoy",
        channel,
        evidence,
        "wake one waiter per item (FUTEX_WAKE with 1, a semaphore), or give each consumer a word \
         of its own",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::sample::channel;
    use crate::result::FutexFigures;

    fn shared(wakes: u64, woken: u64) -> Channel {
        let mut c = channel("memfd", "memfd ring", 0, 0);
        c.directions.clear();
        c.futex = Some(FutexFigures {
            wakes,
            woken,
            ..FutexFigures::default()
        });
        c
    }

    #[test]
    fn wakes_that_wake_many_each_are_found() {
        let found = find(&shared(100, 800)).unwrap();
        assert_eq!(found.kind, "futex-convoy");
        assert!(found.evidence.contains("8.0 per wake"), "{found:?}");
    }

    #[test]
    fn one_waiter_per_wake_or_few_wakes_are_no_finding() {
        assert_eq!(find(&shared(100, 100)), None);
        assert_eq!(find(&shared(MIN_WAKES - 1, 80)), None);
        assert_eq!(find(&channel("pipe", "p", 500, 64)), None);
    }
}
