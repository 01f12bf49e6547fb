//! The machine figures were measured on, recorded in every report.

use serde::{Deserialize, Serialize};

/// Facts about this machine that explain its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
