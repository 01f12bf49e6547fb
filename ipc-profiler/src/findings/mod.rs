//! The comparison's mistakes, found in what `trace -- CMD` / `--pid` measured of a program's
//! channels: each detector looks at the channels alone and names its evidence; every threshold
//! is a named constant here, explained in docs/diagnosing.md.

mod busy_wait;
mod futex_convoy;
mod large_pipe_write;
mod large_queue_message;
mod leaked_object;
mod small_writes;
mod tcp_loopback;
pub mod what_if;

use crate::result::{Channel, Finding};

pub use busy_wait::{OnCpu, LOOP_ADDRESSES};
pub use leaked_object::{LeftObject, UsedObject};

/// Fewest messages a channel must carry before a finding on it is worth its reader's time (a
/// handful of calls is setup, not the program's traffic).
pub const MIN_MESSAGES: u64 = 100;

/// What a trace saw of a program, for the findings.
pub struct Observed<'a> {
    /// Its channels.
    pub channels: &'a [Channel],
    /// Its processes' ids.
    pub traced: &'a [u32],
    /// The named objects its processes used (a queue, a `/dev/shm` file, a System V id).
    pub used: &'a [UsedObject],
    /// The named objects new since it started and still there when it ended.
    pub left: &'a [LeftObject],
    /// Each process's time on a CPU, where the CPU-clock samples found it (empty without the
    /// sampler).
    pub on_cpu: &'a [OnCpu],
}

/// Every finding in a traced program's channels, then in the objects it left behind.
pub fn find(observed: &Observed) -> Vec<Finding> {
    let mut found = find_in_channels(observed.channels);
    found.extend(observed.on_cpu.iter().filter_map(busy_wait::find));
    found.extend(leaked_object::find(
        observed.left,
        observed.used,
        observed.traced,
        observed.channels,
    ));
    found
}

/// Every finding in `channels`, in the order of the detectors.
fn find_in_channels(channels: &[Channel]) -> Vec<Finding> {
    let detectors: [fn(&Channel) -> Option<Finding>; 5] = [
        tcp_loopback::find,
        large_pipe_write::find,
        small_writes::find,
        large_queue_message::find,
        futex_convoy::find,
    ];
    detectors
        .iter()
        .flat_map(|detect| channels.iter().filter_map(detect))
        .collect()
}

/// A finding of `kind` on `channel`.
fn finding(kind: &str, channel: &Channel, evidence: String, advice: &str) -> Finding {
    Finding {
        kind: kind.to_string(),
        channel: Some(channel.name.clone()),
        evidence,
        advice: advice.to_string(),
        polling_ns: None,
        what_if: None,
    }
}

/// Messages sent on `channel`, all directions.
fn messages(channel: &Channel) -> u64 {
    channel.directions.iter().map(|d| d.sends).sum()
}

#[cfg(test)]
pub(crate) mod sample {
    //! Channels to feed the detectors.

    use crate::result::{Channel, ChannelDirection};

    /// A channel of `kind` named `name`, one direction with `sends` sends of `size` bytes,
    /// each read by one receive.
    pub fn channel(kind: &str, name: &str, sends: u64, size: u64) -> Channel {
        Channel {
            kind: kind.into(),
            name: name.into(),
            inodes: vec![1],
            addresses: Vec::new(),
            ends: Vec::new(),
            directions: vec![ChannelDirection {
                from: vec!["a(1)".into()],
                to: vec!["b(2)".into()],
                sends,
                bytes_sent: sends * size,
                receives: sends,
                bytes_received: sends * size,
                size_p50_at_most: Some(size),
                size_min: Some(size),
                size_max: Some(size),
                ..ChannelDirection::default()
            }],
            messages: Some(sends),
            bytes: Some(sends * size),
            futex: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_diagnosing_names_every_threshold_with_its_value() {
        let page = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../",
            "docs/diagnosing.md"
        ));
        for named in [
            format!("`MIN_MESSAGES` = {MIN_MESSAGES}"),
            format!("`PIPE_CAPACITY` = {}", large_pipe_write::PIPE_CAPACITY),
            format!("`WRITES_PER_READ` = {:.1}", small_writes::WRITES_PER_READ),
            format!("`SMALL_WRITE` = {}", small_writes::SMALL_WRITE),
            format!("`LARGE_MESSAGE` = {}", large_queue_message::LARGE_MESSAGE),
            format!("`WOKEN_PER_WAKE` = {:.1}", futex_convoy::WOKEN_PER_WAKE),
            format!("`MIN_WAKES` = {}", futex_convoy::MIN_WAKES),
            format!("`MIN_SAMPLES` = {}", busy_wait::MIN_SAMPLES),
            format!("`PAUSE_SHARE` = {:.2}", busy_wait::PAUSE_SHARE),
            format!("`LOOP_ADDRESSES` = {}", busy_wait::LOOP_ADDRESSES),
            format!("`LOOP_SPAN` = {}", busy_wait::LOOP_SPAN),
            format!("`LOOP_SHARE` = {:.2}", busy_wait::LOOP_SHARE),
            format!("`YIELDS_PER_SEC` = {}", busy_wait::YIELDS_PER_SEC),
        ] {
            assert!(page.contains(&named), "docs/diagnosing.md lacks {named}");
        }
    }

    #[test]
    fn a_clean_program_s_channels_make_no_finding() {
        let clean = [
            sample::channel("unix-stream", "unix-stream a(1) <-> b(2)", 5_000, 64),
            sample::channel("pipe", "pipe a(1) -> b(2)", 5_000, 4_096),
            sample::channel("posix-mq", "posix-mq /q a(1) -> b(2)", 5_000, 256),
        ];
        let observed = Observed {
            channels: &clean,
            traced: &[1, 2],
            used: &[],
            left: &[],
            on_cpu: &[],
        };
        assert_eq!(find(&observed), []);
    }
}
