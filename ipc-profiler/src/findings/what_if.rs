//! `trace --what-if`: for a finding with an alternative, the channel's own traffic (its pattern,
//! its median message size) benchmarked over the mechanism it uses and over the advised one, on
//! this machine now, and what the change would save the program: its round trips (or
//! messages) times the difference in cost, beside the time it spent in calls on the channel.
//! A busy-wait's alternative saves CPU instead: a spinning round trip against one through a
//! futex, and the CPU the program polled.

use anyhow::Context;

use crate::bench::patterns;
use crate::config::{BenchConfig, CpuPlan, Placement};
use crate::result::{Channel, CpuPerMessage, Finding, Pattern, ProgramReport, RunResult, WhatIf};

/// The size of a busy-wait's benchmark messages: the program's are not seen (it polls memory).
const POLLED_MESSAGE_SIZE: usize = 64;

/// The benchmark that answers a finding: which mechanisms, which pattern and size, and the
/// program's side of the sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The mechanism the channel is.
    pub current: &'static str,
    /// The advised one.
    pub alternative: &'static str,
    /// Latency when the channel made round trips, else throughput.
    pub pattern: Pattern,
    /// The channel's median send, bytes.
    pub message_size: usize,
    /// The program's round trips (or messages) on it.
    pub messages: u64,
    /// How long the program was traced, ns.
    pub traced_ns: u64,
    /// A busy-wait's CPU time polling, ns: the saving is this CPU, not time.
    pub polling_ns: Option<u64>,
}

/// The benchmark for `finding` (on `channel`, when it concerns one of the report's) of a
/// program traced for `traced_ns`, when the finding has an alternative to measure.
pub fn plan(finding: &Finding, channel: Option<&Channel>, traced_ns: u64) -> Option<Plan> {
    if finding.kind == "busy-wait" {
        return Some(Plan {
            current: "shm-spin",
            alternative: "shm-futex",
            pattern: Pattern::Latency,
            message_size: POLLED_MESSAGE_SIZE,
            messages: 0,
            traced_ns,
            polling_ns: Some(finding.polling_ns?),
        });
    }
    let channel = channel?;
    let (current, alternative) = match (finding.kind.as_str(), channel.kind.as_str()) {
        ("tcp-loopback", "tcp") => ("tcp", "uds"),
        ("tcp-loopback", "udp") => ("udp", "uds-dgram"),
        ("large-queue-message", "posix-mq") => ("posix-mq", "shm-futex"),
        ("large-queue-message", "sysv-mq") => ("sysv-mq", "shm-futex"),
        _ => return None,
    };
    let round_trips = channel.directions.iter().map(|d| d.round_trips).max()?;
    let sends = channel.directions.iter().map(|d| d.sends).max()?;
    let (pattern, messages) = if round_trips > 0 {
        (Pattern::Latency, round_trips)
    } else {
        (Pattern::Throughput, sends)
    };
    let message_size = channel
        .directions
        .iter()
        .filter_map(|d| d.size_p50_at_most)
        .max()? as usize;
    Some(Plan {
        current,
        alternative,
        pattern,
        message_size: message_size.max(1),
        messages,
        traced_ns,
        polling_ns: None,
    })
}

/// The configuration `plan` runs with, on `cpus`, sized to about `seconds` a run.
pub fn config(plan: &Plan, cpus: &CpuPlan, seconds: f64) -> BenchConfig {
    let spec = patterns::spec(plan.pattern);
    BenchConfig {
        pattern: plan.pattern,
        message_size: plan.message_size,
        iterations: (spec.default_messages)(plan.message_size, 1).max(1_000),
        probe_for: Some(seconds),
        warmup: 1_000,
        cpus: cpus.clone(),
        count: 1,
        rate: None,
        lossy: false,
    }
}

/// A message's cost in `run`, ns: the round trip's p50, or one message's share of the
/// throughput; `None` when it did not run.
fn cost_ns(run: &RunResult) -> Option<u64> {
    if let Some(latency) = &run.latency_ns {
        return Some(latency.p50);
    }
    let rate = run.throughput.as_ref()?.messages_per_sec;
    (rate > 0.0).then(|| (1e9 / rate).round() as u64)
}

/// Where a channel's processes ran: on one CPU when its ends' processes ran longest on the
/// same one, else cross-core on the two CPUs they ran longest on; `None` when that is not known
/// (no scheduler figures, one process) or this process may not use those CPUs.
pub fn observed_placement(report: &ProgramReport, channel: &Channel) -> Option<CpuPlan> {
    let main_cpu = |pid: u32| {
        report
            .breakdown
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .and_then(|p| p.main_cpu)
    };
    let mut pids: Vec<u32> = channel.ends.iter().map(|e| e.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    if pids.len() < 2 {
        return None;
    }
    let mut cpus = Vec::new();
    for pid in pids {
        let cpu = main_cpu(pid)? as usize;
        if !cpus.contains(&cpu) {
            cpus.push(cpu);
        }
    }
    let placement = if cpus.len() == 1 {
        Placement::SameCore
    } else {
        Placement::CrossCore
    };
    cpus.truncate(2);
    crate::bench::placement::resolve(placement, &cpus).ok()
}

/// Benchmarks the alternative of every finding in `report` that has one, about `seconds` a
/// run, and puts what it would save in the finding; a finding whose benchmark cannot run here
/// says why on standard error and keeps no what-if. The benchmarks run on `cpus` when
/// `placed` (the user chose), else as the channel's processes ran ([`observed_placement`]),
/// `cpus` when that is not known.
pub fn answer(
    report: &mut ProgramReport,
    cpus: &CpuPlan,
    placed: bool,
    seconds: f64,
) -> anyhow::Result<()> {
    let traced_ns = (report.seconds * 1e9) as u64;
    let mut planned = Vec::new();
    for (i, finding) in report.findings.iter().enumerate() {
        let channel = finding
            .channel
            .as_ref()
            .and_then(|name| report.channels.iter().find(|c| &c.name == name));
        let Some(plan) = plan(finding, channel, traced_ns) else {
            continue;
        };
        let observed = channel
            .filter(|_| !placed)
            .and_then(|c| observed_placement(report, c));
        planned.push((i, plan, observed.unwrap_or_else(|| cpus.clone())));
    }
    for (i, plan, cpus) in planned {
        let finding = &mut report.findings[i];
        let config = config(&plan, &cpus, seconds);
        let run = |name: &str| -> anyhow::Result<RunResult> {
            let mechanism = crate::mechanism::find(name)
                .with_context(|| format!("no mechanism named {name}"))?;
            crate::bench::run(mechanism, &config)
        };
        match estimate(&plan, &run(plan.current)?, &run(plan.alternative)?) {
            Ok(what_if) => finding.what_if = Some(what_if),
            Err(why) => eprintln!("note: no what-if for {}: {why}", finding.kind),
        }
    }
    Ok(())
}

/// What `plan` predicts from its two runs, or why it cannot.
pub fn estimate(
    plan: &Plan,
    current: &RunResult,
    alternative: &RunResult,
) -> Result<WhatIf, String> {
    let unsupported = |run: &RunResult| {
        run.unsupported
            .as_ref()
            .map(|why| format!("{} could not run here: {why}", run.mechanism))
    };
    if let Some(why) = unsupported(current).or_else(|| unsupported(alternative)) {
        return Err(why);
    }
    let (Some(current_ns), Some(alternative_ns)) = (cost_ns(current), cost_ns(alternative)) else {
        return Err("a benchmark run gave no figure".into());
    };
    let (saving_ns, speedup, cpu) = match plan.polling_ns {
        Some(polling_ns) => (
            polling_ns as i64,
            None,
            Some(CpuPerMessage {
                current_ns: current.cpu.cpu_ns_per_message.round() as u64,
                alternative_ns: alternative.cpu.cpu_ns_per_message.round() as u64,
            }),
        ),
        None => {
            let saving_ns = plan.messages as i64 * (current_ns as i64 - alternative_ns as i64);
            let left_ns = plan.traced_ns as i64 - saving_ns;
            let speedup = (left_ns > 0).then(|| plan.traced_ns as f64 / left_ns as f64);
            (saving_ns, speedup, None)
        }
    };
    Ok(WhatIf {
        current: plan.current.into(),
        alternative: plan.alternative.into(),
        pattern: plan.pattern.name().into(),
        message_size: plan.message_size as u64,
        placement: current.placement.clone(),
        current_ns,
        alternative_ns,
        messages: plan.messages,
        traced_ns: plan.traced_ns,
        saving_ns,
        speedup,
        cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::sample::channel;
    use crate::result::LatencySummary;

    fn finding(kind: &str) -> Finding {
        Finding {
            kind: kind.into(),
            channel: None,
            evidence: String::new(),
            advice: String::new(),
            polling_ns: None,
            what_if: None,
        }
    }

    fn latency_run(mechanism: &str, p50: u64) -> RunResult {
        let mut run = crate::result::sample::report().results[0].clone();
        run.mechanism = mechanism.into();
        run.unsupported = None;
        run.throughput = None;
        run.latency_ns = Some(LatencySummary {
            min: p50,
            mean: p50 as f64,
            p50,
            p90: p50,
            p99: p50,
            p999: p50,
            max: p50,
        });
        run
    }

    #[test]
    fn tcp_round_trips_are_measured_as_latency_at_the_channel_s_median_size() {
        let mut tcp = channel("tcp", "tcp x", 220, 64);
        tcp.directions[0].round_trips = 110;
        let plan = plan(&finding("tcp-loopback"), Some(&tcp), 9_000_000).unwrap();
        assert_eq!(
            (
                plan.current,
                plan.alternative,
                plan.pattern,
                plan.message_size
            ),
            ("tcp", "uds", Pattern::Latency, 64)
        );
        assert_eq!((plan.messages, plan.traced_ns), (110, 9_000_000));
        let what_if = estimate(
            &plan,
            &latency_run("tcp", 50_000),
            &latency_run("uds", 31_000),
        )
        .unwrap();
        assert_eq!(what_if.saving_ns, 110 * 19_000);
        // 110 x 19 µs = 2.09 ms of 9 ms: the rest, 6.91 ms, carries them 1.30x as fast.
        let speedup = what_if.speedup.unwrap();
        assert!((speedup - 9.0 / 6.91).abs() < 1e-9, "{speedup}");
    }

    #[test]
    fn a_saving_beyond_the_traced_time_makes_no_prediction() {
        let mut tcp = channel("tcp", "tcp x", 220, 64);
        tcp.directions[0].round_trips = 110;
        let plan = plan(&finding("tcp-loopback"), Some(&tcp), 1_000_000).unwrap();
        let what_if = estimate(
            &plan,
            &latency_run("tcp", 50_000),
            &latency_run("uds", 31_000),
        )
        .unwrap();
        assert_eq!(what_if.speedup, None);
    }

    #[test]
    fn a_slower_alternative_is_said_to_save_nothing_and_other_findings_have_no_plan() {
        let mut queue = channel("posix-mq", "q", 500, 65_536);
        queue.directions[0].round_trips = 0;
        let plan = plan(&finding("large-queue-message"), Some(&queue), 1_000_000).unwrap();
        assert_eq!(
            (plan.pattern, plan.alternative, plan.messages),
            (Pattern::Throughput, "shm-futex", 500)
        );
        let what_if = estimate(
            &plan,
            &latency_run("posix-mq", 10),
            &latency_run("shm-futex", 20),
        )
        .unwrap();
        assert!(what_if.saving_ns < 0);
        assert_eq!(super::plan(&finding("small-writes"), Some(&queue), 1), None);
    }

    /// A report whose processes 1 and 2 ran longest on `cpus`, and a channel between them.
    fn ran_on(cpus: [Option<u32>; 2]) -> (ProgramReport, Channel) {
        let sample = crate::result::sample::report();
        let mut breakdown = sample.results[0].breakdown.clone().unwrap();
        let template = breakdown.processes[0].clone();
        breakdown.processes = (1..=2)
            .map(|pid| crate::result::ProcessBreakdown {
                pid,
                main_cpu: cpus[pid as usize - 1],
                ..template.clone()
            })
            .collect();
        let info = crate::result::ProgramInfo {
            pid: 1,
            command: None,
            exit: None,
        };
        let report = ProgramReport::new(sample.environment, info, 1.0, breakdown);
        let mut channel = channel("tcp", "tcp x", 220, 64);
        channel.ends = (1..=2)
            .map(|pid| crate::result::ChannelEnd {
                pid,
                process: format!("p({pid})"),
                fd: Some(3),
                inode: 1,
            })
            .collect();
        (report, channel)
    }

    #[test]
    fn the_benchmarks_run_where_the_channel_s_processes_ran() {
        let allowed: Vec<u32> = match rustix::thread::sched_getaffinity(None) {
            Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU as u32)
                .filter(|&c| set.is_set(c as usize))
                .collect(),
            Err(e) => panic!("sched_getaffinity: {e}"),
        };
        let first = allowed[0];
        let (report, channel) = ran_on([Some(first), Some(first)]);
        let plan = observed_placement(&report, &channel).unwrap();
        assert_eq!(
            (plan.placement, plan.client),
            (Placement::SameCore, Some(first as usize))
        );
        let (report, channel) = ran_on([Some(first), None]);
        assert_eq!(observed_placement(&report, &channel), None, "unknown");
        match allowed.get(1) {
            Some(&second) => {
                let (report, channel) = ran_on([Some(first), Some(second)]);
                let plan = observed_placement(&report, &channel).unwrap();
                assert_eq!(
                    (plan.placement, plan.client, plan.server),
                    (
                        Placement::CrossCore,
                        Some(first as usize),
                        Some(second as usize)
                    )
                );
            }
            // Under one CPU, a placement on another is not ours to take: the default instead.
            None => {
                let (report, channel) = ran_on([Some(first), Some(first + 1)]);
                assert_eq!(observed_placement(&report, &channel), None);
            }
        }
    }

    #[test]
    fn a_busy_wait_is_measured_spinning_against_a_futex_and_saves_the_cpu_it_polled() {
        let mut polling = finding("busy-wait");
        assert_eq!(plan(&polling, None, 1), None, "no polling time, no plan");
        polling.polling_ns = Some(400_000_000);
        let plan = plan(&polling, None, 500_000_000).unwrap();
        assert_eq!(
            (plan.current, plan.alternative, plan.pattern),
            ("shm-spin", "shm-futex", Pattern::Latency)
        );
        let mut spin = latency_run("shm-spin", 300);
        spin.cpu.cpu_ns_per_message = 600.0;
        let mut futex = latency_run("shm-futex", 4_400);
        futex.cpu.cpu_ns_per_message = 6_100.0;
        let what_if = estimate(&plan, &spin, &futex).unwrap();
        assert_eq!((what_if.saving_ns, what_if.speedup), (400_000_000, None));
        assert_eq!(
            what_if.cpu,
            Some(CpuPerMessage {
                current_ns: 600,
                alternative_ns: 6_100
            })
        );
    }
}
