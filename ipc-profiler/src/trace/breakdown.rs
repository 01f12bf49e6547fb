//! Where each message's cost goes: the `breakdown` of DESIGN.md's contract, built from the
//! per-process figures the eBPF programs collected.

use serde::Serialize;

use super::syscall_names;
use super::tracer::SlotCounts;

/// The breakdown of one traced run.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// Messages the figures are divided by (round trips for latency).
    pub messages: u64,
    /// All processes together, per message.
    pub per_message: PerMessage,
    /// Syscalls of all processes, heaviest (by total time) first.
    pub syscalls: Vec<SyscallLine>,
    /// What tracing cost (mechanism traces; a traced program has no untraced twin).
    pub overhead: Option<Overhead>,
    /// How the syscall programs were attached (`raw_tp` or `tp`).
    pub attach: super::Attach,
    /// The same figures for each process.
    pub processes: Vec<ProcessBreakdown>,
}

/// Figures per message; `null` where the kernel could not provide them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PerMessage {
    /// Syscalls made.
    pub syscalls: f64,
    /// Time inside syscalls while on a CPU, in ns.
    pub kernel_ns: f64,
    /// User-mode CPU time (getrusage), in ns.
    pub user_ns: f64,
    /// Context switches away from the traced processes.
    pub context_switches: Option<f64>,
    /// Bytes copied between user and kernel memory by the read/write family.
    pub bytes_copied: Option<f64>,
    /// Bytes copied out of socket buffers into user memory (`skb_copy_datagram_iovec`): the
    /// receive side of every socket mechanism, counted by the kernel's copy itself.
    pub socket_bytes_copied: Option<f64>,
    /// Times a blocked traced thread was woken.
    pub wakeups: Option<f64>,
    /// Time from being woken to running again, in ns (the scheduler's and, in a VM, the
    /// hypervisor's part of a hand-off).
    pub wake_to_run_ns: Option<f64>,
    /// Time switched out, in ns.
    pub off_cpu_ns: Option<f64>,
}

/// One syscall's totals.
#[derive(Debug, Clone, Serialize)]
pub struct SyscallLine {
    /// Its name on this architecture.
    pub name: String,
    /// Completed calls in the measured phase.
    pub count: u64,
    /// Entry-to-exit time summed, in ns (blocked time included).
    pub total_ns: u64,
    /// Calls per message.
    pub per_message: f64,
    /// Calls that returned an error.
    pub errors: u64,
}

/// Tracing's own cost: the same run's p50 without and with tracing.
#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    /// p50 of the untraced run, ns.
    pub untraced_p50_ns: u64,
    /// p50 of the traced run, ns.
    pub traced_p50_ns: u64,
    /// traced / untraced.
    pub ratio: f64,
}

/// One process's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessBreakdown {
    /// Its part in the run ("client", "server").
    pub role: String,
    /// Its process id.
    pub pid: u32,
    /// Per message.
    pub per_message: PerMessage,
    /// Its syscalls, heaviest first.
    pub syscalls: Vec<SyscallLine>,
    /// Voluntary switches (it blocked), when sched_switch was traced.
    pub voluntary_switches: Option<u64>,
    /// Involuntary switches (it was preempted).
    pub involuntary_switches: Option<u64>,
}

/// One traced process: its role, pid, user CPU seconds and kernel figures.
pub struct TracedProcessFigures {
    /// Its part in the run.
    pub role: &'static str,
    /// Its process id.
    pub pid: u32,
    /// User CPU seconds over the measured phase (getrusage).
    pub user_s: f64,
    /// What the eBPF programs counted.
    pub counts: SlotCounts,
}

impl Breakdown {
    /// Builds the breakdown of `processes` over `messages` messages.
    pub fn new(
        processes: &[TracedProcessFigures],
        messages: u64,
        overhead: Option<Overhead>,
        attach: super::Attach,
    ) -> Self {
        let per_process: Vec<ProcessBreakdown> = processes
            .iter()
            .map(|p| ProcessBreakdown::new(p, messages))
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
        let sum_opt = |f: fn(&PerMessage) -> Option<f64>| {
            per_process
                .iter()
                .map(|p| f(&p.per_message))
                .sum::<Option<f64>>()
        };
        let per_message = PerMessage {
            syscalls: sum(|m| m.syscalls),
            kernel_ns: sum(|m| m.kernel_ns),
            user_ns: sum(|m| m.user_ns),
            context_switches: sum_opt(|m| m.context_switches),
            bytes_copied: sum_opt(|m| m.bytes_copied),
            socket_bytes_copied: sum_opt(|m| m.socket_bytes_copied),
            wakeups: sum_opt(|m| m.wakeups),
            wake_to_run_ns: sum_opt(|m| m.wake_to_run_ns),
            off_cpu_ns: sum_opt(|m| m.off_cpu_ns),
        };
        Self {
            messages,
            per_message,
            syscalls: totals,
            overhead,
            attach,
            processes: per_process,
        }
    }
}

impl ProcessBreakdown {
    fn new(figures: &TracedProcessFigures, messages: u64) -> Self {
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
            syscalls.push(SyscallLine {
                name,
                count: stat.count,
                total_ns: stat.total_ns,
                per_message: per(stat.count as f64),
                errors: stat.errors,
            });
        }
        sort_heaviest_first(&mut syscalls);
        let sched = figures.counts.sched;
        let woken = sched.filter(|_| figures.counts.wakeups_counted);
        let blocked_in_kernel = sched.map_or(0, |s| s.off_cpu_in_syscall_ns);
        let calls: u64 = syscalls.iter().map(|s| s.count).sum();
        Self {
            role: figures.role.to_string(),
            pid: figures.pid,
            per_message: PerMessage {
                syscalls: per(calls as f64),
                kernel_ns: per(in_syscalls_ns.saturating_sub(blocked_in_kernel) as f64),
                user_ns: per(figures.user_s * 1e9),
                context_switches: sched
                    .map(|s| per((s.voluntary_switches + s.involuntary_switches) as f64)),
                bytes_copied: Some(per(bytes as f64)),
                socket_bytes_copied: figures.counts.socket_bytes.map(|b| per(b as f64)),
                wakeups: woken.map(|s| per(s.wakeups as f64)),
                wake_to_run_ns: woken.map(|s| per(s.wake_to_run_ns as f64)),
                off_cpu_ns: sched.map(|s| per(s.off_cpu_ns as f64)),
            },
            syscalls,
            voluntary_switches: sched.map(|s| s.voluntary_switches),
            involuntary_switches: sched.map(|s| s.involuntary_switches),
        }
    }
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
        SlotCounts {
            syscalls,
            sched: Some(SchedStat {
                voluntary_switches: read,
                involuntary_switches: 0,
                off_cpu_ns: 8_000 * read,
                off_cpu_in_syscall_ns: 8_000 * read,
                wakeups: read,
                wake_to_run_ns: 3_000 * read,
            }),
            wakeups_counted: true,
            socket_bytes: Some(128 * read),
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn divides_by_messages_and_sums_processes() {
        let figures = [
            TracedProcessFigures {
                role: "client",
                pid: 10,
                user_s: 0.001,
                counts: counts(100, 100),
            },
            TracedProcessFigures {
                role: "server",
                pid: 11,
                user_s: 0.001,
                counts: counts(100, 100),
            },
        ];
        let overhead = Overhead {
            untraced_p50_ns: 10,
            traced_p50_ns: 11,
            ratio: 1.1,
        };
        let b = Breakdown::new(&figures, 100, Some(overhead), crate::trace::Attach::RawTp);
        assert_eq!(b.per_message.syscalls, 4.0);
        assert_eq!(b.per_message.bytes_copied, Some(512.0));
        assert_eq!(b.per_message.context_switches, Some(2.0));
        assert_eq!(b.per_message.wakeups, Some(2.0));
        assert_eq!(b.per_message.socket_bytes_copied, Some(256.0));
        assert_eq!(b.per_message.wake_to_run_ns, Some(6_000.0));
        // 9 µs per read of which 8 µs off-CPU, 1 µs per write: 2 µs on-CPU per process.
        assert_eq!(b.per_message.kernel_ns, 4_000.0);
        assert_eq!(b.syscalls[0].name, "read");
        assert_eq!(b.syscalls[0].count, 200);
        assert_eq!(b.processes[1].syscalls.len(), 2);
    }
}
