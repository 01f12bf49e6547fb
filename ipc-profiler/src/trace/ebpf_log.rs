//! `--ebpf-log`: what the eBPF programs report about themselves (a new process given a slot,
//! a full thread table, a task field that could not be read), printed on standard error.
//!
//! The programs log through aya-log into a ring buffer. Without `--ebpf-log` their log level is
//! set to off before loading, so the verifier removes the logging code and it costs nothing.

use aya_log::EbpfLogger;

/// The eBPF log level for a run (aya-log's `Level` numbering: 0 off, 4 debug).
pub fn level(enabled: bool) -> u8 {
    if enabled {
        aya_log::Level::Debug as u8
    } else {
        0
    }
}

/// Prints eBPF log records on standard error.
pub struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        eprintln!(
            "ipc-profiler (eBPF {}): {}",
            record.level().as_str().to_lowercase(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// The reader of the programs' log ring buffer.
pub type Logger = EbpfLogger<StderrLog>;
