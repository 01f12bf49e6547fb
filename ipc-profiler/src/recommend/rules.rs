//! The decision rules of `recommend`, over measured results (docs/recommend.md states each).
//!
//! Exclusions, first match wins: a mechanism that cannot cross hosts when asked to; one that
//! busy-polls when that is ruled out; one that could not run the configuration (the reason it
//! gave); one whose payload did not verify; one whose p99 misses the bound. The rest are ranked:
//! by p99 when a bound is given, else by p50, for the patterns measured by latency; by messages
//! per second for streams (throughput, fan-in); ties go to less CPU per message.

use serde::Serialize;

use crate::result::{Pattern, RunResult, Wake};
use crate::units::{counted, duration_ns as ns, message_rate};

/// What the user asked for.
#[derive(Clone, Debug, Serialize)]
pub struct Inputs {
    /// The pattern's name.
    pub pattern: Pattern,
    /// Bytes per message.
    pub message_size: usize,
    /// Writers, stages, clients or subscribers, for the patterns that have them.
    pub count: Option<u32>,
    /// Where the measured processes ran.
    pub placement: String,
    /// The highest acceptable p99, ns.
    pub p99_bound_ns: Option<f64>,
    /// False when a CPU may not spin while idle (`--no-busy-poll`).
    pub busy_poll: bool,
    /// True when the processes may be on different hosts (`--cross-host`).
    pub cross_host: bool,
}

/// The figures a decision rests on.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    /// Median latency, ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ns: Option<f64>,
    /// 99th percentile, ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<f64>,
    /// Messages per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_per_sec: Option<f64>,
    /// CPU time per message (all processes), ns.
    pub cpu_ns_per_message: f64,
}

impl Figures {
    fn of(run: &RunResult) -> Self {
        Self {
            p50_ns: run.latency_ns.as_ref().map(|l| l.p50 as f64),
            p99_ns: run.latency_ns.as_ref().map(|l| l.p99 as f64),
            messages_per_sec: run.throughput.as_ref().map(|t| t.messages_per_sec),
            cpu_ns_per_message: run.cpu.cpu_ns_per_message,
        }
    }
}

/// A mechanism that qualifies, with the figure that placed it.
#[derive(Clone, Debug, Serialize)]
pub struct Ranked {
    /// Its name.
    pub mechanism: String,
    /// Why it stands where it stands, in a sentence.
    pub reason: String,
    /// Its measured figures.
    pub figures: Figures,
}

/// A mechanism ruled out, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Excluded {
    /// Its name.
    pub mechanism: String,
    /// The rule that excluded it, in a sentence.
    pub reason: String,
}

/// The mechanisms that can cross hosts.
const NETWORKED: [&str; 2] = ["tcp", "udp"];

/// True for a mechanism that can reach another host.
pub fn crosses_hosts(mechanism: &str) -> bool {
    NETWORKED.contains(&mechanism)
}

/// The first exclusion rule `run` falls under, if any.
pub fn exclusion(run: &RunResult, inputs: &Inputs) -> Option<String> {
    if run.message_size == 0 {
        return Some(
            "carries no payload (it hands a signal between processes, no message): never a \
             candidate"
                .into(),
        );
    }
    if inputs.cross_host && !crosses_hosts(&run.mechanism) {
        return Some("cannot cross hosts: it lives in one kernel (only tcp and udp do)".into());
    }
    if !inputs.busy_poll && run.wake == Wake::BusyPoll {
        return Some("burns a CPU per waiting side even when idle (busy-poll)".into());
    }
    if let Some(reason) = &run.unsupported {
        return Some(format!("cannot run this: {reason}"));
    }
    if !run.verified {
        return Some("its payload did not verify".into());
    }
    if let (Some(bound), Some(latency)) = (inputs.p99_bound_ns, &run.latency_ns) {
        if latency.p99 as f64 > bound {
            return Some(format!(
                "p99 {} is over the bound of {}",
                ns(latency.p99 as f64),
                ns(bound)
            ));
        }
    }
    None
}

/// True for the patterns ranked by messages per second (a p99 bound means nothing there).
pub fn streamed(pattern: Pattern) -> bool {
    matches!(pattern, Pattern::Throughput | Pattern::FanIn)
}

/// The ranking key of `figures`: smaller is better.
fn key(figures: &Figures, inputs: &Inputs) -> f64 {
    if streamed(inputs.pattern) {
        -figures.messages_per_sec.unwrap_or(0.0)
    } else if inputs.p99_bound_ns.is_some() {
        figures.p99_ns.unwrap_or(f64::INFINITY)
    } else {
        figures.p50_ns.unwrap_or(f64::INFINITY)
    }
}

/// Ranks `results` (one per mechanism) for `inputs`: the qualifying ones best first, and the
/// excluded ones with their reasons.
pub fn rank(results: &[RunResult], inputs: &Inputs) -> (Vec<Ranked>, Vec<Excluded>) {
    let mut qualifying = Vec::new();
    let mut excluded = Vec::new();
    for run in results {
        match exclusion(run, inputs) {
            Some(reason) => excluded.push(Excluded {
                mechanism: run.mechanism.clone(),
                reason,
            }),
            None => qualifying.push((run.mechanism.clone(), Figures::of(run), run.wake)),
        }
    }
    qualifying.sort_by(|a, b| {
        key(&a.1, inputs)
            .total_cmp(&key(&b.1, inputs))
            .then(a.1.cpu_ns_per_message.total_cmp(&b.1.cpu_ns_per_message))
    });
    let best = qualifying.first().map(|(_, f, _)| key(f, inputs));
    // A choice that busy-polls says so, with the best one that does not.
    let sleeper = qualifying
        .iter()
        .find(|(_, _, wake)| *wake != Wake::BusyPoll)
        .map(|(name, figures, _)| format!("{name}, {}", deciding(figures, inputs)));
    let ranked = qualifying
        .into_iter()
        .enumerate()
        .map(|(place, (mechanism, figures, wake))| {
            let mut reason = reason(place, &figures, best, inputs);
            if place == 0 && wake == Wake::BusyPoll {
                reason.push_str(&busy_poll_caveat(sleeper.as_deref()));
            }
            if inputs.cross_host && mechanism == "udp" {
                reason.push_str(UDP_CAVEAT);
            }
            Ranked {
                reason,
                mechanism,
                figures,
            }
        })
        .collect();
    (ranked, excluded)
}

/// What a udp choice across hosts gives up, which no loopback figure shows.
const UDP_CAVEAT: &str = "; udp has no flow control and no delivery guarantee: across hosts a \
    lost, duplicated or reordered datagram is the program's to handle";

/// What the figures of a `--cross-host` answer leave out: they were measured over loopback.
pub const LOOPBACK_NOTE: &str = "Measured over loopback on this machine: these figures rank the \
    protocols' cost on one host; a network adds the wire, both network cards and their \
    interrupts, and the other host's wake-up, none of which loopback measures.";

/// What a busy-polling choice costs that its figures do not show, and the best alternative
/// that sleeps (`sleeper`: its name and deciding figures), if one qualified.
fn busy_poll_caveat(sleeper: Option<&str>) -> String {
    let cost = "; it busy-polls: each waiting side holds a whole CPU, even when idle";
    match sleeper {
        Some(sleeper) => format!("{cost} (the best that sleeps: {sleeper})"),
        None => format!("{cost} (no mechanism that sleeps qualified)"),
    }
}

/// The figures that decide a mechanism's place, as a phrase.
fn deciding(figures: &Figures, inputs: &Inputs) -> String {
    let unit = match inputs.pattern {
        Pattern::RequestResponse => "request",
        _ => "message",
    };
    let at = match (inputs.pattern, inputs.count) {
        (Pattern::RequestResponse, Some(n)) => format!(" at {}", counted(n, "clients")),
        (Pattern::PubSub, Some(n)) => format!(" to {}", counted(n, "subscribers")),
        (Pattern::FanIn, Some(n)) => format!(" from {}", counted(n, "writers")),
        (Pattern::Pipeline, Some(n)) => format!(" through {}", counted(n, "stages")),
        _ => String::new(),
    };
    let cpu = format!("{} CPU per {unit}", ns(figures.cpu_ns_per_message));
    if streamed(inputs.pattern) {
        format!(
            "{} messages/s{at}, {cpu}",
            message_rate(figures.messages_per_sec.unwrap_or(0.0))
        )
    } else {
        let p50 = ns(figures.p50_ns.unwrap_or(0.0));
        let p99 = ns(figures.p99_ns.unwrap_or(0.0));
        if inputs.p99_bound_ns.is_some() {
            format!("p99 {p99}{at} (p50 {p50}), {cpu}")
        } else {
            format!("p50 {p50}{at} (p99 {p99}), {cpu}")
        }
    }
}

/// The sentence that says why a mechanism stands at `place` (0: the choice).
fn reason(place: usize, figures: &Figures, best: Option<f64>, inputs: &Inputs) -> String {
    let deciding = deciding(figures, inputs);
    match (place, best) {
        (0, _) => format!("the choice: {deciding}"),
        (_, Some(best)) if best != 0.0 => {
            let own = key(figures, inputs);
            format!("{deciding}; {:.2}x the choice's", own / best)
        }
        _ => deciding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{CpuSummary, LatencySummary, Measured, RunIdentity, Throughput};

    fn inputs(pattern: Pattern) -> Inputs {
        Inputs {
            pattern,
            message_size: 4096,
            count: Some(8),
            placement: "cross-core (cpus 0,1)".into(),
            p99_bound_ns: None,
            busy_poll: true,
            cross_host: false,
        }
    }

    fn identity(mechanism: &str, wake: Wake) -> RunIdentity {
        RunIdentity {
            mechanism: mechanism.into(),
            wake,
            pattern: Pattern::RequestResponse,
            message_size: 4096,
            processes: 9,
            procs: None,
            stages: None,
            clients: Some(8),
            subscribers: None,
            placement: "cross-core (cpus 0,1)".into(),
            setting: None,
        }
    }

    fn run(mechanism: &str, wake: Wake, p50: u64, p99: u64, cpu: f64) -> RunResult {
        RunResult::measured(
            identity(mechanism, wake),
            Measured {
                messages: 1000,
                warmup_messages: 10,
                latency_ns: Some(LatencySummary {
                    min: p50 / 2,
                    mean: p50 as f64,
                    p50,
                    p90: p99,
                    p99,
                    p999: p99,
                    max: p99,
                }),
                throughput: Some(Throughput::of(1000, 4096, 1e9 / p50 as f64 * 1000.0 / 1e9)),
                cpu: CpuSummary {
                    cpu_ns_per_message: cpu,
                    ..CpuSummary::default()
                },
            },
        )
    }

    fn names(ranked: &[Ranked]) -> Vec<&str> {
        ranked.iter().map(|r| r.mechanism.as_str()).collect()
    }

    fn excluded_reason<'a>(excluded: &'a [Excluded], mechanism: &str) -> &'a str {
        &excluded
            .iter()
            .find(|e| e.mechanism == mechanism)
            .unwrap()
            .reason
    }

    #[test]
    fn ranks_by_p50_and_names_the_deciding_figure() {
        let results = [
            run("uds", Wake::Blocking, 60_000, 200_000, 50_000.0),
            run("shm-futex", Wake::SpinThenSleep, 1_000, 3_300, 2_100.0),
            run("pipe", Wake::Blocking, 50_000, 400_000, 40_000.0),
        ];
        let (ranked, excluded) = rank(&results, &inputs(Pattern::RequestResponse));
        assert!(excluded.is_empty());
        assert_eq!(names(&ranked), ["shm-futex", "pipe", "uds"]);
        assert_eq!(
            ranked[0].reason,
            "the choice: p50 1.00 µs at 8 clients (p99 3.30 µs), 2.10 µs CPU per request"
        );
        assert!(
            ranked[1].reason.ends_with("50.00x the choice's"),
            "{}",
            ranked[1].reason
        );
    }

    #[test]
    fn a_p99_bound_ranks_by_p99_and_excludes_what_misses_it() {
        let results = [
            run("uds", Wake::Blocking, 60_000, 200_000, 50_000.0),
            run("pipe", Wake::Blocking, 50_000, 400_000, 40_000.0),
        ];
        let mut asked = inputs(Pattern::RequestResponse);
        asked.p99_bound_ns = Some(300_000.0);
        let (ranked, excluded) = rank(&results, &asked);
        assert_eq!(names(&ranked), ["uds"]);
        assert!(
            ranked[0].reason.starts_with("the choice: p99 200 µs"),
            "{}",
            ranked[0].reason
        );
        assert_eq!(
            excluded_reason(&excluded, "pipe"),
            "p99 400 µs is over the bound of 300 µs"
        );
    }

    #[test]
    fn a_mechanism_that_carries_no_payload_is_never_a_candidate() {
        let mut cacheline = run("cacheline", Wake::BusyPoll, 100, 200, 300.0);
        cacheline.message_size = 0;
        let results = [
            cacheline,
            run("pipe", Wake::Blocking, 5_000, 9_000, 6_000.0),
        ];
        let (ranked, excluded) = rank(&results, &inputs(Pattern::RequestResponse));
        assert_eq!(names(&ranked), ["pipe"]);
        assert!(excluded_reason(&excluded, "cacheline").contains("carries no payload"));
    }

    #[test]
    fn a_busy_polling_choice_says_what_it_holds_and_names_the_best_that_sleeps() {
        let results = [
            run("shm-spin", Wake::BusyPoll, 500, 900, 1_000.0),
            run("shm-futex", Wake::SpinThenSleep, 600, 1_000, 1_100.0),
            run("pipe", Wake::Blocking, 5_000, 9_000, 6_000.0),
        ];
        let (ranked, _) = rank(&results, &inputs(Pattern::RequestResponse));
        assert_eq!(names(&ranked), ["shm-spin", "shm-futex", "pipe"]);
        let choice = &ranked[0].reason;
        assert!(
            choice.contains("holds a whole CPU, even when idle")
                && choice.contains("the best that sleeps: shm-futex, p50 600 ns"),
            "{choice}"
        );
        assert!(
            !ranked[1].reason.contains("busy-polls"),
            "{}",
            ranked[1].reason
        );
        let (alone, _) = rank(&results[..1], &inputs(Pattern::RequestResponse));
        assert!(alone[0]
            .reason
            .contains("no mechanism that sleeps qualified"));
    }

    #[test]
    fn a_udp_answer_across_hosts_says_what_udp_does_not_guarantee() {
        let results = [
            run("udp", Wake::Blocking, 20_000, 40_000, 30_000.0),
            run("tcp", Wake::Blocking, 25_000, 45_000, 35_000.0),
        ];
        let mut asked = inputs(Pattern::RequestResponse);
        asked.cross_host = true;
        let (ranked, _) = rank(&results, &asked);
        assert!(ranked[0]
            .reason
            .contains("no flow control and no delivery guarantee"));
        assert!(!ranked[1].reason.contains("flow control"), "tcp has both");
        let (local, _) = rank(&results, &inputs(Pattern::RequestResponse));
        assert!(
            !local[0].reason.contains("flow control"),
            "not asked across hosts"
        );
    }

    #[test]
    fn no_busy_poll_excludes_the_spinners_only() {
        let results = [
            run("shm-spin", Wake::BusyPoll, 500, 900, 1_000.0),
            run("shm-futex", Wake::SpinThenSleep, 600, 1_000, 1_100.0),
        ];
        let mut asked = inputs(Pattern::RequestResponse);
        asked.busy_poll = false;
        let (ranked, excluded) = rank(&results, &asked);
        assert_eq!(names(&ranked), ["shm-futex"]);
        assert!(excluded_reason(&excluded, "shm-spin").contains("busy-poll"));
    }

    #[test]
    fn cross_host_keeps_only_the_networked_mechanisms() {
        let results = [
            run("shm-futex", Wake::SpinThenSleep, 600, 1_000, 1_100.0),
            run("tcp", Wake::Blocking, 90_000, 300_000, 80_000.0),
            run("udp", Wake::Blocking, 80_000, 250_000, 70_000.0),
        ];
        let mut asked = inputs(Pattern::RequestResponse);
        asked.cross_host = true;
        let (ranked, excluded) = rank(&results, &asked);
        assert_eq!(names(&ranked), ["udp", "tcp"]);
        assert!(excluded_reason(&excluded, "shm-futex").contains("cannot cross hosts"));
    }

    #[test]
    fn a_configuration_a_mechanism_cannot_run_is_excluded_with_its_own_reason() {
        let unsupported = RunResult::unsupported(
            identity("posix-mq", Wake::Blocking),
            "a 16 KiB message is over msgsize_max (8192 bytes)".into(),
        );
        let mut broken = run("pipe", Wake::Blocking, 1, 1, 1.0);
        broken.verified = false;
        let (ranked, excluded) = rank(&[unsupported, broken], &inputs(Pattern::RequestResponse));
        assert!(ranked.is_empty());
        assert_eq!(
            excluded_reason(&excluded, "posix-mq"),
            "cannot run this: a 16 KiB message is over msgsize_max (8192 bytes)"
        );
        assert_eq!(
            excluded_reason(&excluded, "pipe"),
            "its payload did not verify"
        );
    }

    #[test]
    fn streams_are_ranked_by_messages_per_second() {
        let mut slow = run("pipe", Wake::Blocking, 1, 1, 1.0);
        slow.throughput = Some(Throughput::of(1_000, 64, 1.0));
        let mut fast = run("shm-futex", Wake::SpinThenSleep, 1, 1, 1.0);
        fast.throughput = Some(Throughput::of(1_000_000, 64, 1.0));
        let (ranked, _) = rank(&[slow, fast], &inputs(Pattern::Throughput));
        assert_eq!(names(&ranked), ["shm-futex", "pipe"]);
        assert!(
            ranked[0].reason.starts_with("the choice: 1.00M messages/s"),
            "{}",
            ranked[0].reason
        );
    }
}
