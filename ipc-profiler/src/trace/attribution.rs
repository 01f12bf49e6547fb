//! Builds a [`Breakdown`] from the per-process figures the eBPF programs collected.

use super::syscall_names;
use super::tracer::SlotCounts;
use crate::result::{
    Breakdown, LatencyBucket, Overhead, PerMessage, ProcessBreakdown, SchedAttach, SyscallAttach,
    SyscallLine,
};

/// One traced process: its role, pid, user CPU seconds and kernel figures.
pub struct TracedProcessFigures {
    /// Its part in the run, or its command name.
    pub role: String,
    /// Its process id.
    pub pid: u32,
    /// The pid of the traced process that started it, if one did.
    pub started_by: Option<u32>,
    /// User CPU seconds over the measured phase (getrusage), when known on its own.
    pub user_s: Option<f64>,
    /// Wall seconds of its measured phase, for a single-threaded benchmark worker: its on-CPU
    /// time is that less the time it spent switched out.
    pub elapsed_s: Option<f64>,
    /// Whether the kernel's own on-CPU count stands for it (a traced program's processes,
    /// counted from registration or birth to exit); its user time is then that less its
    /// kernel time.
    pub on_cpu_counted: bool,
    /// What the eBPF programs counted.
    pub counts: SlotCounts,
}

/// The breakdown of `processes` over `messages` messages.
pub fn build(
    processes: &[TracedProcessFigures],
    messages: u64,
    overhead: Option<Overhead>,
    (attach, sched_attach): (SyscallAttach, SchedAttach),
) -> Breakdown {
    let per_process: Vec<ProcessBreakdown> = processes
        .iter()
        .map(|p| process_breakdown(p, messages))
        .collect();
    let mut totals: Vec<SyscallLine> = Vec::new();
    for line in per_process.iter().flat_map(|p| &p.syscalls) {
        match totals.iter_mut().find(|t| t.name == line.name) {
            Some(t) => {
                t.count += line.count;
                t.total_ns += line.total_ns;
                t.errors += line.errors;
                t.per_message += line.per_message;
            }
            None => totals.push(line.clone()),
        }
    }
    sort_heaviest_first(&mut totals);
    let sum = |f: fn(&PerMessage) -> f64| per_process.iter().map(|p| f(&p.per_message)).sum();
    // Per-syscall histograms add up bucket by bucket.
    for total in &mut totals {
        let mut merged: Vec<LatencyBucket> = Vec::new();
        for line in per_process.iter().flat_map(|p| &p.syscalls) {
            if line.name != total.name {
                continue;
            }
            for bucket in &line.latency_histogram {
                match merged.iter_mut().find(|m| m.from_ns == bucket.from_ns) {
                    Some(m) => m.count += bucket.count,
                    None => merged.push(bucket.clone()),
                }
            }
        }
        merged.sort_by_key(|b| b.from_ns);
        total.p50_ns_at_most = quantile_at_most(&merged, 0.50);
        total.p99_ns_at_most = quantile_at_most(&merged, 0.99);
        total.latency_histogram = merged;
    }
    let sum_opt = |f: fn(&PerMessage) -> Option<f64>| {
        per_process
            .iter()
            .map(|p| f(&p.per_message))
            .sum::<Option<f64>>()
    };
    let per_message = PerMessage {
        syscalls: sum(|m| m.syscalls),
        kernel_ns: sum(|m| m.kernel_ns),
        user_ns: per_process
            .iter()
            .filter_map(|p| p.per_message.user_ns)
            .reduce(|a, b| a + b),
        context_switches: sum_opt(|m| m.context_switches),
        bytes_copied: sum_opt(|m| m.bytes_copied),
        socket_bytes_copied: sum_opt(|m| m.socket_bytes_copied),
        io_uring_submissions: sum_opt(|m| m.io_uring_submissions),
        io_uring_completions: sum_opt(|m| m.io_uring_completions),
        wakeups: sum_opt(|m| m.wakeups),
        wake_to_run_ns: sum_opt(|m| m.wake_to_run_ns),
        off_cpu_ns: sum_opt(|m| m.off_cpu_ns),
        migrations: sum_opt(|m| m.migrations),
        on_cpu_ns: sum_opt(|m| m.on_cpu_ns),
    };
    Breakdown {
        messages,
        per_message,
        syscalls: totals,
        overhead,
        attach,
        sched_attach,
        processes: per_process,
        channels: None,
    }
}

fn process_breakdown(figures: &TracedProcessFigures, messages: u64) -> ProcessBreakdown {
    let per = |v: f64| v / messages.max(1) as f64;
    let mut syscalls: Vec<SyscallLine> = Vec::new();
    let mut bytes = 0u64;
    let mut in_syscalls_ns = 0u64;
    for (nr, stat) in figures.counts.syscalls.iter().enumerate() {
        if stat.count == 0 {
            continue;
        }
        let name = syscall_names::name(nr as u32);
        if syscall_names::copies_returned_bytes(&name) {
            bytes += stat.ret_sum;
        }
        in_syscalls_ns += stat.total_ns;
        let histogram = figures
            .counts
            .latency
            .get(nr)
            .map(buckets_of)
            .unwrap_or_default();
        syscalls.push(SyscallLine {
            name,
            count: stat.count,
            total_ns: stat.total_ns,
            per_message: per(stat.count as f64),
            errors: stat.errors,
            p50_ns_at_most: quantile_at_most(&histogram, 0.50),
            p99_ns_at_most: quantile_at_most(&histogram, 0.99),
            latency_histogram: histogram,
        });
    }
    sort_heaviest_first(&mut syscalls);
    let sched = figures.counts.sched;
    let woken = sched.filter(|_| figures.counts.wakeups_counted);
    let blocked_in_kernel = sched.map_or(0, |s| s.off_cpu_in_syscall_ns);
    let calls: u64 = syscalls.iter().map(|s| s.count).sum();
    let kernel_ns = in_syscalls_ns.saturating_sub(blocked_in_kernel) as f64;
    let on_cpu_ns = match (figures.elapsed_s, sched) {
        (Some(wall), Some(s)) => Some((wall * 1e9 - s.off_cpu_ns as f64).max(0.0)),
        (None, Some(s)) if figures.on_cpu_counted => Some(s.on_cpu_ns as f64),
        _ => None,
    };
    let user_ns = match (on_cpu_ns, figures.user_s) {
        // On a CPU and not in a syscall: user mode (with the interrupts and page faults it
        // takes, which the kernel charges to the code that was running). From the scheduler's
        // and the syscall programs' counts, so that on-CPU = kernel + user in every output.
        (Some(on_cpu), _) => Some((on_cpu - kernel_ns).max(0.0)),
        // Without the scheduler's counts: getrusage's user time, which the kernel samples at
        // each tick (a process that runs less than a tick at a time can show none).
        (None, Some(seconds)) => Some(seconds * 1e9),
        (None, None) => None,
    };
    ProcessBreakdown {
        role: figures.role.clone(),
        started_by: figures.started_by,
        pid: figures.pid,
        per_message: PerMessage {
            syscalls: per(calls as f64),
            kernel_ns: per(kernel_ns),
            user_ns: user_ns.map(per),
            context_switches: sched
                .map(|s| per((s.voluntary_switches + s.involuntary_switches) as f64)),
            bytes_copied: Some(per(bytes as f64)),
            socket_bytes_copied: figures.counts.socket_bytes.map(|b| per(b as f64)),
            io_uring_submissions: figures.counts.io_uring.map(|u| per(u.submissions as f64)),
            io_uring_completions: figures.counts.io_uring.map(|u| per(u.completions as f64)),
            wakeups: woken.map(|s| per(s.wakeups as f64)),
            wake_to_run_ns: woken.map(|s| per(s.wake_to_run_ns as f64)),
            off_cpu_ns: sched.map(|s| per(s.off_cpu_ns as f64)),
            migrations: sched
                .filter(|_| figures.counts.migrations_counted)
                .map(|s| per(s.migrations as f64)),
            on_cpu_ns: on_cpu_ns.map(per),
        },
        syscalls,
        voluntary_switches: sched.map(|s| s.voluntary_switches),
        involuntary_switches: sched.map(|s| s.involuntary_switches),
        main_cpu: figures.counts.main_cpu,
    }
}

/// The non-empty buckets of a kernel-side histogram.
fn buckets_of(histogram: &ipc_ebpf::LatencyHistogram) -> Vec<LatencyBucket> {
    histogram
        .buckets
        .iter()
        .enumerate()
        .filter(|(_, &count)| count != 0)
        .map(|(i, &count)| LatencyBucket {
            from_ns: if i == 0 { 0 } else { 1 << i },
            to_ns: if i + 1 == ipc_ebpf::LATENCY_BUCKETS {
                u64::MAX
            } else {
                1 << (i + 1)
            },
            count,
        })
        .collect()
}

/// The upper bound of the bucket where quantile `q` of the calls falls (0 with no calls).
fn quantile_at_most(buckets: &[LatencyBucket], q: f64) -> u64 {
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    if total == 0 {
        return 0;
    }
    let rank = ((total as f64 * q).ceil() as u64).max(1);
    let mut seen = 0;
    for bucket in buckets {
        seen += bucket.count;
        if seen >= rank {
            return bucket.to_ns;
        }
    }
    buckets.last().map_or(0, |b| b.to_ns)
}

fn sort_heaviest_first(lines: &mut [SyscallLine]) {
    lines.sort_by(|a, b| {
        b.total_ns
            .cmp(&a.total_ns)
            .then_with(|| a.name.cmp(&b.name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::OverheadFigure;
    use ipc_ebpf::{SchedStat, SyscallStat, SYSCALL_SLOTS};

    fn counts(read: u64, write: u64) -> SlotCounts {
        let mut syscalls = vec![SyscallStat::default(); SYSCALL_SLOTS as usize];
        syscalls[0] = SyscallStat {
            count: read,
            total_ns: 9_000 * read,
            ret_sum: 128 * read,
            errors: 0,
        };
        syscalls[1] = SyscallStat {
            count: write,
            total_ns: 1_000 * write,
            ret_sum: 128 * write,
            errors: 0,
        };
        let mut latency = vec![ipc_ebpf::LatencyHistogram::default(); SYSCALL_SLOTS as usize];
        latency[0].buckets[13] = read; // 8192..16384 ns
        latency[1].buckets[9] = write / 2; // 512..1024 ns
        latency[1].buckets[10] = write - write / 2; // 1024..2048 ns
        SlotCounts {
            syscalls,
            latency,
            sched: Some(SchedStat {
                voluntary_switches: read,
                involuntary_switches: 0,
                off_cpu_ns: 8_000 * read,
                off_cpu_in_syscall_ns: 8_000 * read,
                wakeups: read,
                wake_to_run_ns: 3_000 * read,
                on_cpu_ns: 5_000 * read,
                migrations: 3,
            }),
            main_cpu: Some(1),
            wakeups_counted: true,
            migrations_counted: true,
            socket_bytes: Some(128 * read),
            io_uring: None,
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn divides_by_messages_and_sums_processes() {
        let figures = [
            TracedProcessFigures {
                role: "client".into(),
                pid: 10,
                started_by: None,
                user_s: Some(0.001),
                elapsed_s: Some(0.0015),
                on_cpu_counted: false,
                counts: counts(100, 100),
            },
            TracedProcessFigures {
                role: "server".into(),
                pid: 11,
                started_by: None,
                user_s: None,
                elapsed_s: None,
                on_cpu_counted: false,
                counts: counts(100, 100),
            },
        ];
        let overhead = Overhead::from_runs(
            OverheadFigure::RoundTripP50,
            vec![10, 30, 9],
            vec![11, 10, 12],
        );
        assert_eq!((overhead.untraced_p50_ns, overhead.traced_p50_ns), (9, 10));
        assert!((overhead.ratio_of_medians - 1.1).abs() < 1e-9);
        let b = build(
            &figures,
            100,
            Some(overhead),
            (SyscallAttach::RawTp, SchedAttach::TpBtf),
        );
        assert_eq!(b.per_message.syscalls, 4.0);
        assert_eq!(b.per_message.bytes_copied, Some(512.0));
        assert_eq!(b.per_message.context_switches, Some(2.0));
        assert_eq!(b.per_message.wakeups, Some(2.0));
        assert_eq!(b.per_message.socket_bytes_copied, Some(256.0));
        assert_eq!(b.per_message.wake_to_run_ns, Some(6_000.0));
        // 3 moves per process over 100 round trips.
        assert_eq!(b.per_message.migrations, Some(0.06));
        // 9 µs per read of which 8 µs off-CPU, 1 µs per write: 2 µs on-CPU per process.
        assert_eq!(b.per_message.kernel_ns, 4_000.0);
        assert_eq!(b.syscalls[0].name, "read");
        assert_eq!(b.syscalls[0].count, 200);
        assert_eq!(b.processes[1].syscalls.len(), 2);
        // Only the client's user time is known: the total is that, not a guess. It is its
        // on-CPU time less its kernel time (7 µs - 2 µs), not getrusage's tick-sampled 10 µs.
        assert_eq!(b.per_message.user_ns, Some(5_000.0));
        assert_eq!(b.processes[1].per_message.user_ns, None);
        let client = &b.processes[0].per_message;
        assert_eq!(
            client.on_cpu_ns,
            Some(client.kernel_ns + client.user_ns.unwrap()),
            "on-CPU = kernel + user"
        );
        // On-CPU: 1.5 ms of phase less 0.8 ms switched out, over 100 round trips; unknown for a
        // process without a phase time, so unknown in total.
        assert_eq!(b.processes[0].per_message.on_cpu_ns, Some(7_000.0));
        assert_eq!(b.per_message.on_cpu_ns, None);
        // Histograms: both processes' reads fall in 8192..16384 ns; writes straddle 1024.
        assert_eq!(b.syscalls[0].p50_ns_at_most, 16_384);
        assert_eq!(b.syscalls[0].latency_histogram.len(), 1);
        assert_eq!(b.syscalls[0].latency_histogram[0].count, 200);
        let write = b.syscalls.iter().find(|s| s.name == "write").unwrap();
        assert_eq!(write.p50_ns_at_most, 1_024);
        assert_eq!(write.p99_ns_at_most, 2_048);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_traced_program_gets_on_cpu_and_user_time_from_the_kernel() {
        let figures = [TracedProcessFigures {
            role: "sh".into(),
            pid: 10,
            started_by: None,
            user_s: None,
            elapsed_s: None,
            on_cpu_counted: true,
            counts: counts(100, 100),
        }];
        let b = build(
            &figures,
            1,
            None,
            (SyscallAttach::RawTp, SchedAttach::TpBtf),
        );
        // On a CPU 500 µs; in syscalls 1 ms of which 800 µs switched out: 200 µs kernel.
        assert_eq!(b.per_message.on_cpu_ns, Some(500_000.0));
        assert_eq!(b.per_message.kernel_ns, 200_000.0);
        assert_eq!(b.per_message.user_ns, Some(300_000.0));
    }
}
