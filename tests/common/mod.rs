//! Helpers shared by the integration tests: running the binary and reading its JSON.

#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// The `ipc-profiler` binary built for these tests, started as from an interactive shell.
pub fn profiler() -> Command {
    with_default_signals(Command::new(env!("CARGO_BIN_EXE_ipc-profiler")))
}

/// The signals a test sends, or a shell may have left ignored.
pub const SIGNALS: [i32; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

/// `command` with [`SIGNALS`] at their default, as an interactive shell starts a program: the
/// tests may run as a background job of a script (SIGINT and SIGQUIT ignored) or under nohup
/// (SIGHUP ignored), and the tool keeps a signal ignored on entry ignored.
pub fn with_default_signals(mut command: Command) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal() is async-signal-safe; the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            for signal in SIGNALS {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    command
}

/// Runs `ipc-profiler` with `args`.
pub fn run(args: &[&str]) -> Output {
    profiler().args(args).output().expect("the binary runs")
}

/// Runs `ipc-profiler` with `args`, expects success, and parses its JSON output.
pub fn run_json(args: &[&str]) -> Value {
    let output = run(args);
    assert!(
        output.status.success(),
        "ipc-profiler {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON object")
}

/// A fresh directory only this user can enter (0700), under a random name, created
/// atomically in the temporary directory, and removed when dropped.
pub fn private_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("ipc-profiler-test-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .expect("a private temporary directory")
}

/// The pids of a traced program's channel's ends (its JSON `ends[].pid`), each once.
pub fn channel_pids(channel: &Value) -> std::collections::BTreeSet<u64> {
    channel["ends"]
        .as_array()
        .map(|ends| ends.iter().filter_map(|e| e["pid"].as_u64()).collect())
        .unwrap_or_default()
}

/// The channel of a traced program's report (`channels[]`) that has `inode` among its inodes.
pub fn channel_with_inode(channels: &[Value], inode: u64) -> Option<&Value> {
    channels.iter().find(|c| {
        c["inodes"]
            .as_array()
            .is_some_and(|inodes| inodes.iter().any(|i| i.as_u64() == Some(inode)))
    })
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Checks the parts of the output contract of docs/design.md every result shares.
pub fn assert_contract(doc: &Value) {
    assert_eq!(doc["tool"], "ipc-profiler");
    assert!(doc["version"].is_string());
    let env = &doc["environment"];
    assert!(env["kernel"].is_string() && env["cpu_model"].is_string());
    assert!(env["cpus"].as_u64().unwrap() >= 1);
    let results = doc["results"].as_array().expect("results is a list");
    assert!(!results.is_empty());
    for r in results {
        for key in ["mechanism", "pattern", "placement"] {
            assert!(r[key].is_string(), "{key} in {r}");
        }
        for key in ["message_size", "messages", "processes"] {
            assert!(r[key].is_u64(), "{key} in {r}");
        }
        // The pattern's own parameter, named as on the command line.
        match r["pattern"].as_str() {
            Some("fan-in") => assert_eq!(
                r["procs"].as_u64().unwrap() + 1,
                r["processes"].as_u64().unwrap(),
                "{r}"
            ),
            Some("pipeline") => assert_eq!(r["stages"], r["processes"], "{r}"),
            Some("pub-sub") => assert_eq!(
                r["subscribers"].as_u64().unwrap() + 1,
                r["processes"].as_u64().unwrap(),
                "{r}"
            ),
            Some("request-response") => assert_eq!(
                r["clients"].as_u64().unwrap() + 1,
                r["processes"].as_u64().unwrap(),
                "{r}"
            ),
            _ => assert!(
                ["procs", "stages", "clients", "subscribers"]
                    .iter()
                    .all(|k| r[*k].is_null()),
                "{r}"
            ),
        }
        if !r["unsupported"].is_null() {
            continue;
        }
        assert_eq!(r["verified"], true);
        assert!(r["cpu"]["user_s"].is_number() && r["cpu"]["sys_s"].is_number());
        let timed = ["latency", "pipeline", "request-response", "pub-sub"];
        if timed.contains(&r["pattern"].as_str().unwrap()) {
            let l = &r["latency_ns"];
            let order: Vec<f64> = ["min", "p50", "p90", "p99", "p999", "max"]
                .iter()
                .map(|k| {
                    l[*k]
                        .as_f64()
                        .unwrap_or_else(|| panic!("latency_ns.{k} in {r}"))
                })
                .collect();
            assert!(order[0] > 0.0, "min must be positive: {l}");
            assert!(
                order.windows(2).all(|w| w[0] <= w[1]),
                "percentiles out of order: {l}"
            );
            assert!(l["mean"].is_number());
        }
    }
}

/// How many mechanisms `list` names (one line each).
/// The names `list` gives, in its order.
pub fn mechanism_names() -> Vec<String> {
    let output = run(&["list"]);
    assert!(output.status.success(), "list: {}", stderr(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect()
}

pub fn mechanism_count() -> usize {
    let count = mechanism_names().len();
    assert!(count > 1, "list named {count} mechanisms");
    count
}
