//! Reads the machine figures were measured on (kernel, CPU, hypervisor, clock cost).

use crate::result::Environment;

/// Reads the environment of this machine.
pub fn detect() -> Environment {
    let uname = rustix::system::uname();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Environment {
        kernel: uname.release().to_string_lossy().into_owned(),
        cpu_model: cpu_model(&cpuinfo),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        governor: read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        virtualization: virtualization(&cpuinfo),
        clock_read_ns: crate::bench::clock::calibrate(),
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
