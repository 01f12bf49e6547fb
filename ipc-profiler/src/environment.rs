//! The machine figures were measured on, recorded in every report.

use serde::Serialize;

/// Facts about this machine that explain its figures.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPU model name.
    pub cpu_model: String,
    /// CPUs online.
    pub cpus: usize,
    /// CPU frequency governor, when the kernel exposes one.
    pub governor: Option<String>,
    /// Hypervisor, when this is a virtual machine and it can be told.
    pub virtualization: Option<String>,
    /// Cost of one clock read (ns), measured at start-up.
    pub clock_read_ns: f64,
}

impl Environment {
    /// Reads the environment of this machine.
    pub fn detect() -> Self {
        let uname = rustix::system::uname();
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self {
            kernel: uname.release().to_string_lossy().into_owned(),
            cpu_model: cpu_model(&cpuinfo),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            governor: read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            virtualization: virtualization(&cpuinfo),
            clock_read_ns: crate::bench::clock::calibrate(),
        }
    }

    /// One line for the top of a table.
    pub fn summary(&self) -> String {
        let mut parts = vec![
            format!("Linux {}", self.kernel),
            self.cpu_model.clone(),
            format!("{} CPUs", self.cpus),
        ];
        if let Some(v) = &self.virtualization {
            parts.push(v.clone());
        }
        if let Some(g) = &self.governor {
            parts.push(format!("governor {g}"));
        }
        parts.push(format!("clock read {:.0} ns", self.clock_read_ns));
        parts.join(" · ")
    }
}

fn cpu_model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn virtualization(cpuinfo: &str) -> Option<String> {
    let flagged = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "hypervisor"));
    let vendor = read_trimmed("/sys/class/dmi/id/sys_vendor")
        .or_else(|| read_trimmed("/sys/hypervisor/type"));
    match (flagged, vendor) {
        (true, Some(v)) => Some(format!("virtual machine ({v})")),
        (true, None) => Some("virtual machine".into()),
        (false, _) => None,
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_model_name() {
        let info =
            "processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\nflags\t\t: fpu hypervisor\n";
        assert_eq!(cpu_model(info), "Example CPU @ 2.0GHz");
        assert!(virtualization(info).is_some());
        assert!(virtualization("flags : fpu sse").is_none());
    }
}
