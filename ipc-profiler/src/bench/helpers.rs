//! The CPU of a run's helper processes: processes every message passes through that are not
//! workers (a D-Bus broker). The worker that times a run reads their usage at the edges of its
//! measured phase, as it reads its own, so that their share of each message is counted like
//! the workers'.
//!
//! A helper is not the reader's child, so getrusage cannot see it: `/proc/PID/schedstat` gives
//! its CPU time to the nanosecond, `/proc/PID/stat` how that time splits between user and
//! kernel mode (in clock ticks), and `/proc/PID/status` its context switches.

use anyhow::Context;

use crate::mechanism::Cleanup;
pub use crate::mechanism::Helper;
use crate::result::{CpuUsage, ProcessCpu};

/// The helper processes of a run's channels, each once (the channels of a run share their
/// broker).
pub fn of_run(cleanups: &[Cleanup]) -> Vec<Helper> {
    let mut seen = std::collections::HashSet::new();
    cleanups
        .iter()
        .flat_map(|cleanup| cleanup.helpers())
        .filter(|helper| seen.insert(helper.pid))
        .copied()
        .collect()
}

/// Each helper's usage so far, in the order given.
pub fn usage(helpers: &[Helper]) -> anyhow::Result<Vec<CpuUsage>> {
    helpers
        .iter()
        .map(|helper| {
            usage_of(helper.pid)
                .with_context(|| format!("could not read the {}'s CPU usage", helper.role))
        })
        .collect()
}

/// The helpers' usage between `start` and `end` ([`usage`] at each edge), named.
pub fn between(helpers: &[Helper], start: &[CpuUsage], end: &[CpuUsage]) -> Vec<ProcessCpu> {
    helpers
        .iter()
        .zip(start.iter().zip(end))
        .map(|(helper, (start, end))| ProcessCpu {
            role: helper.role.to_string(),
            usage: end.since(start),
        })
        .collect()
}

/// One process's usage so far, from `/proc`.
fn usage_of(pid: u32) -> anyhow::Result<CpuUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command's closing parenthesis start at field 3; utime is field 14.
    let after = stat.rsplit_once(')').context("no command in stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("stat is short")?.parse::<u64>()? as f64)
    };
    let (user_ticks, sys_ticks) = (ticks(14 - 3)?, ticks(15 - 3)?);
    // A kernel without CONFIG_SCHED_INFO has no schedstat: the ticks alone then, coarser.
    let on_cpu_ns = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok());
    let hz = rustix::param::clock_ticks_per_second() as f64;
    let (user_s, sys_s) = split_cpu(on_cpu_ns, user_ticks, sys_ticks, hz);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let switches = |key: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .with_context(|| format!("no {key} in status"))?;
        Ok(line.trim_start_matches(':').trim().parse()?)
    };
    Ok(CpuUsage {
        user_s,
        sys_s,
        voluntary_switches: switches("voluntary_ctxt_switches")?,
        involuntary_switches: switches("nonvoluntary_ctxt_switches")?,
    })
}

/// User and kernel seconds: the time on a CPU to the nanosecond (`on_cpu_ns`, from schedstat)
/// split as the clock ticks split it, or the ticks alone (`hz` a second) where there is no
/// schedstat.
fn split_cpu(on_cpu_ns: Option<u64>, user_ticks: f64, sys_ticks: f64, hz: f64) -> (f64, f64) {
    match on_cpu_ns {
        Some(ns) => {
            let on_cpu_s = ns as f64 / 1e9;
            let user_share = match user_ticks + sys_ticks {
                0.0 => 0.5,
                all => user_ticks / all,
            };
            (on_cpu_s * user_share, on_cpu_s * (1.0 - user_share))
        }
        None => (user_ticks / hz, sys_ticks / hz),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_splits_by_the_ticks_or_is_the_ticks_without_schedstat() {
        // 30 ms on a CPU, ticks 2 user to 1 kernel: 20 ms and 10 ms.
        let (user, sys) = super::split_cpu(Some(30_000_000), 2.0, 1.0, 100.0);
        assert!(
            (user - 0.020).abs() < 1e-9 && (sys - 0.010).abs() < 1e-9,
            "{user} {sys}"
        );
        // No ticks yet: half each of what schedstat says.
        assert_eq!(
            super::split_cpu(Some(2_000_000), 0.0, 0.0, 100.0),
            (0.001, 0.001)
        );
        // No schedstat: the ticks, at 100 a second.
        assert_eq!(super::split_cpu(None, 3.0, 1.0, 100.0), (0.03, 0.01));
    }

    use super::*;

    /// A spinning child, stopped, reads as the CPU time the kernel reports when it is reaped.
    #[test]
    #[allow(
        clippy::zombie_processes,
        reason = "reaped with wait4, which also returns its usage"
    )]
    fn a_stopped_child_reads_as_its_rusage() {
        let child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let helper = [Helper {
            pid,
            role: "spinner",
        }];
        std::thread::sleep(std::time::Duration::from_millis(100));
        // SAFETY: signals a child this test started and still owns.
        unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
        while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .contains(") T ")
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let read = usage(&helper).unwrap()[0];
        // SAFETY: rusage is plain integers and timevals; all-zero is a valid value.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: kills the child this test started and reaps it, once, into a live rusage.
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
            libc::wait4(pid as i32, std::ptr::null_mut(), 0, &mut rusage);
        }
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let reaped = seconds(rusage.ru_utime) + seconds(rusage.ru_stime);
        let seen = read.user_s + read.sys_s;
        assert!(seen > 0.0, "a spinning child read as no CPU");
        assert!(
            (seen - reaped).abs() < 0.005,
            "read {seen} s while stopped, reaped with {reaped} s"
        );
        assert!(
            read.user_s > read.sys_s,
            "a shell loop spins in user mode: {read:?}"
        );
        assert!(read.involuntary_switches + read.voluntary_switches > 0);
    }

    #[test]
    fn a_gone_process_is_an_error_naming_its_role() {
        let gone = [Helper {
            pid: u32::MAX - 1,
            role: "broker",
        }];
        let error = usage(&gone).unwrap_err().to_string();
        assert!(error.contains("broker"), "{error}");
    }
}
