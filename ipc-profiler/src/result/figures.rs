//! The measured figures of a run: latency percentiles, throughput, CPU usage.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latency percentiles in nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Fastest.
    pub min: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
}

impl LatencySummary {
    /// Percentiles of a histogram of nanoseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        Self {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Messages and bytes delivered per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Payload bytes per second.
    pub bytes_per_sec: f64,
}

impl Throughput {
    /// `messages` of `size` bytes delivered in `seconds`.
    pub fn of(messages: u64, size: usize, seconds: f64) -> Self {
        let messages_per_sec = messages as f64 / seconds.max(1e-9);
        Self {
            messages_per_sec,
            bytes_per_sec: messages_per_sec * size as f64,
        }
    }
}

/// A process's resource usage over an interval (getrusage).
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

/// CPU cost over the measured phase, summed over the processes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuSummary {
    /// User-mode CPU seconds.
    pub user_s: f64,
    /// Kernel-mode CPU seconds.
    pub sys_s: f64,
    /// CPU nanoseconds (user + sys) per measured message.
    pub cpu_ns_per_message: f64,
    /// Voluntary context switches (getrusage).
    pub voluntary_switches: u64,
    /// Involuntary context switches (getrusage).
    pub involuntary_switches: u64,
    /// The same for each process.
    pub processes: Vec<ProcessCpu>,
}

/// One process's CPU usage over the measured phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessCpu {
    /// Its part: client, server, reader, writer N.
    pub role: String,
    /// Its usage.
    #[serde(flatten)]
    pub usage: CpuUsage,
}

impl CpuSummary {
    /// The sum of `processes`' usage over `messages` messages, with each one kept.
    pub fn from_processes(processes: Vec<ProcessCpu>, messages: u64) -> Self {
        let total = processes
            .iter()
            .fold(CpuUsage::default(), |sum, p| sum.plus(&p.usage));
        Self {
            user_s: total.user_s,
            sys_s: total.sys_s,
            cpu_ns_per_message: (total.user_s + total.sys_s) * 1e9 / messages.max(1) as f64,
            voluntary_switches: total.voluntary_switches,
            involuntary_switches: total.involuntary_switches,
            processes,
        }
    }
}
