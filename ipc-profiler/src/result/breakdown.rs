//! Where each message's cost goes: the `breakdown` a trace adds to a result, per message and
//! per process, as the eBPF programs counted it.

use serde::{Deserialize, Serialize};

/// The breakdown of one traced run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub attach: SyscallAttach,
    /// How the scheduler programs were attached (`tp_btf` or `tp`).
    pub sched_attach: SchedAttach,
    /// The same figures for each process.
    pub processes: Vec<ProcessBreakdown>,
    /// The run's IPC channels as its processes used them in the first traced run's measured
    /// phase (totals, not per message); `None` where this kernel cannot follow them.
    #[serde(default)]
    pub channels: Option<Vec<super::Channel>>,
}

/// Figures per message; `null` where the kernel could not provide them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerMessage {
    /// Syscalls made.
    pub syscalls: f64,
    /// Time inside syscalls while on a CPU, in ns.
    pub kernel_ns: f64,
    /// User-mode CPU time (getrusage or /proc), in ns; `null` for a process whose user time
    /// the kernel reported together with its parent's (a reaped child).
    pub user_ns: Option<f64>,
    /// Context switches away from the traced processes.
    pub context_switches: Option<f64>,
    /// Bytes copied between user and kernel memory by the read/write family.
    pub bytes_copied: Option<f64>,
    /// Bytes copied out of socket buffers into user memory (`skb_copy_datagram_iovec`): the
    /// receive side of every socket mechanism, counted by the kernel's copy itself.
    pub socket_bytes_copied: Option<f64>,
    /// io_uring requests submitted, when io_uring's tracepoints were attached (strace sees
    /// only `io_uring_enter`).
    #[serde(default, skip_serializing_if = "none_or_zero")]
    pub io_uring_submissions: Option<f64>,
    /// io_uring completions posted, likewise.
    #[serde(default, skip_serializing_if = "none_or_zero")]
    pub io_uring_completions: Option<f64>,
    /// Times a blocked traced thread was woken.
    pub wakeups: Option<f64>,
    /// Time from being woken to running again, in ns (the scheduler's and, in a VM, the
    /// hypervisor's part of a hand-off).
    pub wake_to_run_ns: Option<f64>,
    /// Time switched out, in ns.
    pub off_cpu_ns: Option<f64>,
    /// Times a traced thread was moved to another CPU (`sched_migrate_task`): none for
    /// pinned workers, the scheduler's doing for unpinned ones.
    #[serde(default)]
    pub migrations: Option<f64>,
    /// Time on a CPU, in ns: the measured phase's wall time less the time switched out (for a
    /// benchmark's single-threaded workers; `null` for a traced program).
    pub on_cpu_ns: Option<f64>,
}

/// Whether a figure that only some mechanisms have is absent or nothing (left out of JSON).
fn none_or_zero(figure: &Option<f64>) -> bool {
    figure.is_none_or(|v| v == 0.0)
}

impl PerMessage {
    /// The figures of two processes together: every figure is a total per message, so they
    /// add; one the kernel could not give for either stays unknown.
    pub fn plus(&self, other: &Self) -> Self {
        let add = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
        Self {
            syscalls: self.syscalls + other.syscalls,
            kernel_ns: self.kernel_ns + other.kernel_ns,
            user_ns: add(self.user_ns, other.user_ns),
            context_switches: add(self.context_switches, other.context_switches),
            bytes_copied: add(self.bytes_copied, other.bytes_copied),
            socket_bytes_copied: add(self.socket_bytes_copied, other.socket_bytes_copied),
            io_uring_submissions: add(self.io_uring_submissions, other.io_uring_submissions),
            io_uring_completions: add(self.io_uring_completions, other.io_uring_completions),
            wakeups: add(self.wakeups, other.wakeups),
            wake_to_run_ns: add(self.wake_to_run_ns, other.wake_to_run_ns),
            off_cpu_ns: add(self.off_cpu_ns, other.off_cpu_ns),
            migrations: add(self.migrations, other.migrations),
            on_cpu_ns: add(self.on_cpu_ns, other.on_cpu_ns),
        }
    }
}

/// One syscall's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Upper bound of the bucket holding the median call time, in ns (log2 histogram).
    pub p50_ns_at_most: u64,
    /// Upper bound of the bucket holding the 99th percentile, in ns.
    pub p99_ns_at_most: u64,
    /// The log2 histogram of call times: non-empty buckets only.
    pub latency_histogram: Vec<LatencyBucket>,
}

/// Calls whose entry-to-exit time fell in `[from_ns, to_ns)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    /// Lower bound, ns.
    pub from_ns: u64,
    /// Upper bound (exclusive), ns.
    pub to_ns: u64,
    /// Calls.
    pub count: u64,
}

/// Tracing's own cost: the same run's p50 without and with tracing, over alternated runs.
///
/// On a VM the same run's p50 moves by tens of percent from one run to the next (the host
/// decides how fast a sleeping vCPU comes back), and that drift is not tracing's. Disturbance
/// only adds time, so the best p50 of each kind is the least disturbed one: their ratio is the
/// headline; the ratio of the medians is kept too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    /// What the `*_p50_ns` fields hold: a latency run's p50 round trip, or a throughput run's
    /// time per message (the contract's field names are kept for both).
    pub figure: OverheadFigure,
    /// Best (lowest) p50 of the untraced runs, ns.
    pub untraced_p50_ns: u64,
    /// Best (lowest) p50 of the traced runs, ns.
    pub traced_p50_ns: u64,
    /// traced / untraced, of the best runs.
    pub ratio: f64,
    /// traced / untraced, of the median runs.
    pub ratio_of_medians: f64,
    /// Each untraced run's p50, ns, in run order.
    pub untraced_runs_p50_ns: Vec<u64>,
    /// Each traced run's p50, ns, in run order (alternating with the untraced ones).
    pub traced_runs_p50_ns: Vec<u64>,
}

/// The figure an [`Overhead`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverheadFigure {
    /// The p50 round trip of a latency run.
    RoundTripP50,
    /// The time per message of a throughput run (1 / messages per second).
    TimePerMessage,
}

impl Overhead {
    /// The overhead of alternated untraced and traced runs.
    pub fn from_runs(figure: OverheadFigure, untraced: Vec<u64>, traced: Vec<u64>) -> Self {
        let median = |runs: &[u64]| {
            let mut sorted = runs.to_vec();
            sorted.sort_unstable();
            sorted.get(sorted.len() / 2).copied().unwrap_or(0)
        };
        let best = |runs: &[u64]| runs.iter().copied().min().unwrap_or(0);
        let (untraced_p50_ns, traced_p50_ns) = (best(&untraced), best(&traced));
        Self {
            figure,
            untraced_p50_ns,
            traced_p50_ns,
            ratio: traced_p50_ns as f64 / untraced_p50_ns.max(1) as f64,
            ratio_of_medians: median(&traced) as f64 / median(&untraced).max(1) as f64,
            untraced_runs_p50_ns: untraced,
            traced_runs_p50_ns: traced,
        }
    }
}

/// One process's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessBreakdown {
    /// Its part in the run ("client", "server"), or its command name for a traced program.
    pub role: String,
    /// The slot of the traced process that started it, for processes a traced program started.
    pub started_by: Option<u32>,
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
    /// The CPU it ran on longest, when sched_switch was traced (`trace --what-if` places its
    /// benchmarks as the program's processes ran).
    #[serde(default)]
    pub main_cpu: Option<u32>,
}

/// How the syscall programs were attached to `raw_syscalls:sys_enter/sys_exit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyscallAttach {
    /// Tracepoints: the kernel builds the event record for the program.
    Tp,
    /// Raw tracepoints: the program gets the arguments directly (cheaper).
    RawTp,
    /// `tp_btf`: the arguments, typed, so the saved registers are read by plain loads
    /// (cheapest).
    TpBtf,
}

/// How the scheduler programs (`sched_switch`, `sched_waking`) were attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedAttach {
    /// `tp_btf`: called with the tracepoint's arguments through a trampoline (cheapest).
    TpBtf,
    /// Tracepoints: the kernel builds the event record for the program.
    Tp,
}
