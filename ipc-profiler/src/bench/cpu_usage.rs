//! CPU time and context switches of the calling process (getrusage), for measured phases.

use serde::{Deserialize, Serialize};

/// A snapshot of the calling process's resource usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// User-mode CPU seconds.
    pub user_s: f64,
    /// Kernel-mode CPU seconds.
    pub sys_s: f64,
    /// Times the process gave up the CPU (blocked).
    pub voluntary_switches: u64,
    /// Times the process was preempted.
    pub involuntary_switches: u64,
}

impl CpuUsage {
    /// The calling process's usage so far.
    pub fn now() -> Self {
        // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: RUSAGE_SELF with a valid pointer to a rusage; it cannot fail this way.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Self {
            user_s: seconds(usage.ru_utime),
            sys_s: seconds(usage.ru_stime),
            voluntary_switches: usage.ru_nvcsw as u64,
            involuntary_switches: usage.ru_nivcsw as u64,
        }
    }

    /// Usage between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            user_s: self.user_s - earlier.user_s,
            sys_s: self.sys_s - earlier.sys_s,
            voluntary_switches: self.voluntary_switches - earlier.voluntary_switches,
            involuntary_switches: self.involuntary_switches - earlier.involuntary_switches,
        }
    }

    /// The sum of two usages (two processes).
    pub fn plus(&self, other: &Self) -> Self {
        Self {
            user_s: self.user_s + other.user_s,
            sys_s: self.sys_s + other.sys_s,
            voluntary_switches: self.voluntary_switches + other.voluntary_switches,
            involuntary_switches: self.involuntary_switches + other.involuntary_switches,
        }
    }
}
