//! CPU time and context switches of the calling process (getrusage), for measured phases.

use crate::result::CpuUsage;

/// The calling process's usage so far.
pub fn now() -> CpuUsage {
    // SAFETY: rusage is plain integers and timevals; all-zero is a valid value for getrusage
    // to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a pointer to a live, writable rusage; it cannot fail this way.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    CpuUsage {
        user_s: seconds(usage.ru_utime),
        sys_s: seconds(usage.ru_stime),
        voluntary_switches: usage.ru_nvcsw as u64,
        involuntary_switches: usage.ru_nivcsw as u64,
    }
}
