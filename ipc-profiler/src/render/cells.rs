//! Table cells the table renderings share.

use crate::result::PerMessage;
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
