//! Table cells the table renderings share.

use crate::result::{Overhead, PerMessage, SchedAttach, SyscallAttach};
use crate::units::{bytes, count, duration_ns, or_na};

/// Kernel time, user time, context switches, wake-ups, wake to run, on-CPU, off-CPU and bytes
/// copied, as table cells ("n/a" where the kernel could not say).
pub fn per_message(m: &PerMessage) -> Vec<String> {
    vec![
        duration_ns(m.kernel_ns),
        or_na(m.user_ns, duration_ns),
        or_na(m.context_switches, count),
        or_na(m.wakeups, count),
        or_na(m.wake_to_run_ns, duration_ns),
        or_na(m.on_cpu_ns, duration_ns),
        or_na(m.off_cpu_ns, duration_ns),
        or_na(m.bytes_copied, bytes),
    ]
}

/// Tracing's cost as a ratio, or "within noise" where the traced run was no slower than the
/// untraced runs' own spread (tracing does not make anything faster: a ratio under 1 is noise).
pub fn tracing_cost(o: &Overhead) -> String {
    let spread_top = o.untraced_runs_p50_ns.iter().copied().max().unwrap_or(0);
    if o.ratio < 1.0 || o.traced_p50_ns <= spread_top {
        format!("within noise ({:.2}x)", o.ratio)
    } else {
        format!("{:.2}x", o.ratio)
    }
}

/// How the syscall programs were attached, in words.
pub fn syscall_attach(attach: SyscallAttach) -> &'static str {
    match attach {
        SyscallAttach::RawTp => "raw tracepoints",
        SyscallAttach::Tp => "tracepoints",
        SyscallAttach::TpBtf => "BTF tracepoints",
    }
}

/// How the scheduler programs were attached, in words.
pub fn sched_attach(attach: SchedAttach) -> &'static str {
    match attach {
        SchedAttach::TpBtf => "BTF tracepoints",
        SchedAttach::Tp => "tracepoints",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::OverheadFigure;

    #[test]
    fn a_traced_run_no_slower_than_the_untraced_spread_is_within_noise() {
        let faster = Overhead::from_runs(OverheadFigure::RoundTripP50, vec![100, 110], vec![92]);
        assert!(
            tracing_cost(&faster).starts_with("within noise"),
            "{}",
            tracing_cost(&faster)
        );
        let inside = Overhead::from_runs(OverheadFigure::RoundTripP50, vec![100, 110], vec![105]);
        assert!(tracing_cost(&inside).starts_with("within noise"));
        let slower = Overhead::from_runs(OverheadFigure::RoundTripP50, vec![100, 110], vec![130]);
        assert_eq!(tracing_cost(&slower), "1.30x");
    }
}
