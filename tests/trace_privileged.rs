//! `trace` against the real kernel: its counts must be true. Needs root (CI runs as root):
//! run as another user these tests fail with a message saying so rather than pass vacuously.

mod common;

use common::{assert_contract, run, run_json, stderr};
use serde_json::Value;

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the privileged tests load eBPF programs and must run as root (CI does): run `sudo cargo test`"
    );
}

/// The count of syscall `name` in a process's breakdown (0 when absent).
fn calls(process: &Value, name: &str) -> u64 {
    process["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map_or(0, |s| s["count"].as_u64().unwrap())
}

#[test]
fn pipe_round_trips_are_counted_exactly() {
    require_root();
    const N: u64 = 3000;
    let n = N.to_string();
    // The default programs (tp_btf) on both placements, and the tracepoint versions every
    // kernel has, which is what a kernel without BTF or raw tracepoints gets. Cross-core needs
    // two CPUs in this run's affinity mask: with one, both kinds run same-core.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let other = if cpus >= 2 {
        "cross-core"
    } else {
        eprintln!("one CPU in the affinity mask: the cross-core cases run same-core");
        "same-core"
    };
    for (placement, attach) in [("same-core", "auto"), (other, "auto"), (other, "tp")] {
        let doc = run_json(&[
            "trace",
            "--mech",
            "pipe",
            "--iters",
            &n,
            "--warmup",
            "200",
            "--placement",
            placement,
            "--attach",
            attach,
            "--format",
            "json",
        ]);
        assert_contract(&doc);
        let b = &doc["results"][0]["breakdown"];
        if attach == "tp" {
            assert_eq!(
                (b["attach"].as_str(), b["sched_attach"].as_str()),
                (Some("tp"), Some("tp"))
            );
            // `--attach tp` reads no BTF: no channel view, and the JSON says it is unknown.
            assert!(b["channels"].is_null(), "{}", b["channels"]);
        } else {
            assert_eq!(
                b["attach"], "tp_btf",
                "the default where the kernel has BTF"
            );
            // The run's two pipes, one each way, each with N messages of 128 bytes.
            let channels = b["channels"].as_array().unwrap();
            assert_eq!(channels.len(), 2, "{channels:#?}");
            for c in channels {
                let d = &c["directions"][0];
                assert_eq!(c["kind"], "pipe");
                assert_eq!(
                    (
                        d["sends"].as_u64(),
                        d["receives"].as_u64(),
                        d["size_max"].as_u64()
                    ),
                    (Some(N), Some(N), Some(128)),
                    "{placement}: {c:#}"
                );
                assert_ne!(d["from"], d["to"], "{c:#}");
                // A wake-up is charged to the call it is made from: never more than one per
                // write (a call in flight as the phase closes is not counted, a wake-up it
                // made is: at most a few over N).
                let wakeups = d["wakeups"].as_u64().unwrap();
                assert!(
                    wakeups <= N + N / 100,
                    "{placement}: {wakeups} wake-ups by {N} writes"
                );
            }
            // The pipes are the run's only IPC: every wake-up of a worker was made from a call
            // on one of them (all but those made by each descriptor's first call, before its
            // channel is known).
            let charged: u64 = channels
                .iter()
                .map(|c| c["directions"][0]["wakeups"].as_u64().unwrap())
                .sum();
            let woken = (b["per_message"]["wakeups"].as_f64().unwrap() * N as f64).round() as u64;
            assert!(
                charged <= woken + 4 && woken <= charged + 4 + woken / 100,
                "{placement}: {charged} wake-ups charged to the pipes, {woken} in all"
            );
        }
        assert_eq!(b["messages"], N);
        let processes = b["processes"].as_array().unwrap();
        assert_eq!(processes.len(), 2);
        for p in processes {
            // Exactly one read and one write per round trip on each side, and nothing else:
            // warm-up, set-up and the phase switches themselves are outside the window.
            assert_eq!(calls(p, "read"), N, "{placement} {}: {p}", p["role"]);
            assert_eq!(calls(p, "write"), N, "{placement} {}: {p}", p["role"]);
            let all: u64 = p["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["count"].as_u64().unwrap())
                .sum();
            assert_eq!(
                all,
                2 * N,
                "{placement}: only reads and writes expected: {p}"
            );
            // Each side copies 128 bytes in and 128 bytes out per round trip.
            assert_eq!(p["per_message"]["bytes_copied"], 256.0, "{p}");
            // Every counted call is in its syscall's latency histogram, once.
            for line in p["syscalls"].as_array().unwrap() {
                let in_histogram: u64 = line["latency_histogram"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|bucket| bucket["count"].as_u64().unwrap())
                    .sum();
                assert_eq!(in_histogram, line["count"].as_u64().unwrap(), "{line}");
            }
            let switches = p["per_message"]["context_switches"].as_f64().unwrap();
            assert!(
                switches > 0.5,
                "{placement} {attach}: a blocking pipe hands off by switching: {p}"
            );
        }
        assert_eq!(b["per_message"]["syscalls"], 4.0);
        assert!(b["overhead"]["untraced_p50_ns"].as_u64().unwrap() > 0);
        assert!(b["overhead"]["traced_p50_ns"].as_u64().unwrap() > 0);
    }
}

#[test]
fn trace_without_capabilities_says_what_is_missing() {
    require_root();
    // Root with an empty bounding set has no capabilities after exec.
    let output = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-all", "--inh-caps", "-all"])
        .arg(env!("CARGO_BIN_EXE_ipc-profiler"))
        .args(["trace", "--mech", "pipe", "--iters", "100"])
        .output()
        .expect("setpriv (util-linux) runs");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("CAP_BPF") && err.contains("sudo"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // bench still works without privileges.
    let bench = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-all", "--inh-caps", "-all"])
        .arg(env!("CARGO_BIN_EXE_ipc-profiler"))
        .args([
            "bench", "--mech", "pipe", "--iters", "100", "--format", "json",
        ])
        .output()
        .unwrap();
    assert!(bench.status.success(), "{}", stderr(&bench));
}

/// Every syscall `trace --mech MECH` counts at least once every 20 round trips is counted as
/// often per round trip by strace (within 1%): strace counts the whole program (set-up, the
/// controller, warm-up), so the difference between two runs that differ only in measured round
/// trips is what those round trips cost.
fn assert_trace_counts_match_strace(mech: &str) {
    const FEW: u64 = 2_000;
    const MANY: u64 = 6_000;
    let bench = |iters: u64| {
        let iters = iters.to_string();
        let command = [
            env!("CARGO_BIN_EXE_ipc-profiler"),
            "bench",
            "--mech",
            mech,
            "--iters",
            &iters,
            "--warmup",
            "100",
            "--format",
            "json",
        ];
        strace_counts(&command, &[])
    };
    let (few, many) = (bench(FEW), bench(MANY));
    let doc = run_json(&[
        "trace", "--mech", mech, "--iters", "3000", "--format", "json",
    ]);
    let traced = doc["results"][0]["breakdown"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["per_message"].as_f64().unwrap(),
            )
        })
        .filter(|(_, per_message)| *per_message >= 0.05)
        .collect::<Vec<_>>();
    assert!(!traced.is_empty(), "{mech}: no syscall traced");
    for (name, traced) in traced {
        let count = |counts: &std::collections::BTreeMap<String, (u64, u64)>| {
            counts.get(&name).map_or(0, |&(calls, _)| calls) as f64
        };
        let strace = (count(&many) - count(&few)) / (MANY - FEW) as f64;
        let gap = (strace - traced).abs() / traced;
        assert!(
            gap <= 0.01,
            "{mech} {name}: strace {strace:.4} vs traced {traced:.4} per round trip ({:.2}% apart)",
            gap * 100.0
        );
    }
}

#[test]
fn syscall_counts_agree_with_strace() {
    require_root();
    assert_trace_counts_match_strace("pipe");
}

#[test]
fn the_mechanisms_that_hand_memory_over_count_syscalls_as_strace_does() {
    require_root();
    for mech in ["memfd-pass", "memfd-pool", "vmsplice", "io-uring", "cma"] {
        assert_trace_counts_match_strace(mech);
    }
}

#[test]
fn io_uring_requests_and_completions_are_counted_from_its_own_tracepoints() {
    require_root();
    // A round trip: the client writes and reads, the server reads and writes, each one request
    // submitted and one completion posted, each in one io_uring_enter (all strace can see).
    let doc = run_json(&[
        "trace", "--mech", "io-uring", "--iters", "2000", "--format", "json",
    ]);
    let b = &doc["results"][0]["breakdown"];
    let m = &b["per_message"];
    assert_eq!(
        (
            m["io_uring_submissions"].as_f64(),
            m["io_uring_completions"].as_f64()
        ),
        (Some(4.0), Some(4.0)),
        "{m:#}"
    );
    let enters = b["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "io_uring_enter")
        .unwrap_or_else(|| panic!("no io_uring_enter: {b:#}"));
    assert_eq!(enters["per_message"].as_f64(), Some(4.0), "{enters:#}");
    // A mechanism that does not use io_uring has no such figures.
    let doc = run_json(&[
        "trace", "--mech", "uds", "--iters", "500", "--format", "json",
    ]);
    let m = &doc["results"][0]["breakdown"]["per_message"];
    assert!(m.get("io_uring_submissions").is_none(), "{m:#}");
}

#[test]
fn the_dbus_broker_is_traced_as_a_process_of_the_run() {
    require_root();
    // A round trip over D-Bus: the client's method call goes to the broker, which sends it on
    // to the server; the server's return goes back the same way. One sendmsg a message each
    // for the client and the server, two for the broker, which shows on a line of its own
    // and at the middle of both channels.
    const N: u64 = 500;
    let doc = run_json(&[
        "trace",
        "--mech",
        "dbus",
        "--iters",
        &N.to_string(),
        "--sizes",
        "128",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let b = &doc["results"][0]["breakdown"];
    let processes = b["processes"].as_array().unwrap();
    let roles: Vec<&str> = processes
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["client", "server", "broker"], "{b:#}");
    for (process, sends) in processes.iter().zip([N, N, 2 * N]) {
        assert_eq!(calls(process, "sendmsg"), sends, "{process:#}");
    }
    let broker_pid = processes[2]["pid"].as_u64().unwrap();
    let channels = b["channels"].as_array().unwrap();
    assert_eq!(
        channels.len(),
        2,
        "client-broker and broker-server: {:#}",
        b["channels"]
    );
    for channel in channels {
        let ends: Vec<u64> = channel["ends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pid"].as_u64().unwrap())
            .collect();
        assert!(ends.contains(&broker_pid), "{channel:#}");
        for direction in channel["directions"].as_array().unwrap() {
            assert_eq!(direction["sends"], N, "{direction:#}");
        }
    }
    // Its CPU is in the bench result too, beside the workers'.
    let cpu = &doc["results"][0]["cpu"]["processes"];
    assert_eq!(cpu[2]["role"], "broker", "{cpu:#}");
    assert!(cpu[2]["sys_s"].as_f64().unwrap() > 0.0, "{cpu:#}");
}

/// Traces `command` with `--format format -o FILE` and returns what the file holds, and what
/// the command itself wrote on standard output.
fn trace_command_to_file(format: &str, command: &[&str]) -> (String, String) {
    trace_with_options_to_file(&[], format, command)
}

/// [`trace_command_to_file`] with more of `trace`'s `options`.
fn trace_with_options_to_file(
    options: &[&str],
    format: &str,
    command: &[&str],
) -> (String, String) {
    let dir = common::private_dir();
    let file = dir.path().join(format!("report.{format}"));
    let mut args = vec!["trace"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--format", format, "-o", file.to_str().unwrap(), "--"]);
    args.extend_from_slice(command);
    let output = run(&args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    let report = std::fs::read_to_string(&file).unwrap();
    (report, String::from_utf8(output.stdout).unwrap())
}

#[test]
fn a_command_and_the_processes_it_starts_are_traced() {
    require_root();
    // sh forks dd: the tracer must follow the fork to see dd's 500 reads and writes of 4 KiB.
    let (report, _) = trace_command_to_file(
        "json",
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/dev/null bs=4096 count=500 2>/dev/null",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(doc["program"]["exit"], "exit status 0");
    assert_eq!(
        doc["findings"],
        serde_json::json!([]),
        "a shell running dd makes none of the comparison's mistakes"
    );
    let b = &doc["breakdown"];
    let reads = calls(b, "read");
    let writes = calls(b, "write");
    assert!(
        reads >= 500 && writes >= 500,
        "dd's calls were not all seen: {reads} reads, {writes} writes"
    );
    let copied = b["per_message"]["bytes_copied"].as_f64().unwrap();
    assert!(
        copied >= 2.0 * 500.0 * 4096.0,
        "dd alone copies 4 MB: {copied}"
    );
    // Each process on its own line: dd's calls are dd's, and sh started it.
    let processes = b["processes"].as_array().unwrap();
    let sh = &processes[0];
    assert_eq!(sh["role"], "sh");
    let dd = processes
        .iter()
        .find(|p| p["role"] == "dd")
        .unwrap_or_else(|| panic!("no process line for dd: {processes:?}"));
    assert_eq!(dd["started_by"], sh["pid"]);
    assert!(calls(dd, "read") >= 500 && calls(dd, "write") >= 500);
    assert!(
        calls(sh, "read") < 500,
        "dd's reads were counted for sh too: {}",
        calls(sh, "read")
    );
    // Every process has its own on-CPU and user time, from the scheduler programs.
    for p in processes {
        let m = &p["per_message"];
        let (on_cpu, user, kernel) = (
            m["on_cpu_ns"]
                .as_f64()
                .unwrap_or_else(|| panic!("no on-CPU time: {p}")),
            m["user_ns"]
                .as_f64()
                .unwrap_or_else(|| panic!("no user time: {p}")),
            m["kernel_ns"].as_f64().unwrap(),
        );
        assert!(on_cpu > 0.0 && user >= 0.0 && user <= on_cpu, "{p}");
        assert!((user + kernel - on_cpu).abs() <= 1.0 || user == 0.0, "{p}");
    }
    // A single-threaded process is on a CPU for at most the time it was traced.
    let traced_ns = doc["seconds"].as_f64().unwrap() * 1e9;
    for p in processes {
        assert!(
            p["per_message"]["on_cpu_ns"].as_f64().unwrap() <= traced_ns,
            "{p}"
        );
    }
}

#[test]
fn a_traced_command_keeps_its_standard_output() {
    require_root();
    // Without -o the report goes to standard error, as strace and perf stat do.
    let output = run(&["trace", "--format", "json", "--", "echo", "hi"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hi\n");
    assert!(
        stderr(&output).contains("\"program\""),
        "{}",
        stderr(&output)
    );
    // With -o every format goes to the file, and the command's output stays apart.
    for format in ["json", "csv", "markdown", "table"] {
        let (report, stdout) =
            trace_command_to_file(format, &["sh", "-c", "echo hi; ls / >/dev/null"]);
        assert_eq!(stdout, "hi\n", "{format}");
        match format {
            "json" => {
                let doc: serde_json::Value = serde_json::from_str(&report).unwrap();
                assert_eq!(doc["program"]["exit"], "exit status 0");
            }
            "csv" => {
                let mut lines = report.lines();
                assert!(lines
                    .next()
                    .unwrap()
                    .starts_with("process,pid,started_by,seconds,syscalls,syscalls_per_sec"));
                assert!(lines.next().unwrap().starts_with("all,"), "{report}");
                assert!(report.lines().any(|l| l.starts_with("ls,")), "{report}");
            }
            "markdown" => assert!(
                report.contains("| process") && report.contains("| ls "),
                "{report}"
            ),
            _ => assert!(
                report.contains("per second") && !report.contains("calls/msg"),
                "{report}"
            ),
        }
    }
}

#[test]
fn tracing_a_process_that_does_not_exist_is_refused() {
    require_root();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ipc-profiler"))
        .args(["trace", "--pid", "2147483646", "--duration", "0.1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no process has pid 2147483646"));
}

#[test]
fn bytes_copied_out_of_socket_buffers_are_exact() {
    require_root();
    const N: u64 = 2_000;
    for mechanism in ["uds", "uds-seqpacket", "tcp"] {
        let doc = run_json(&[
            "trace",
            "--mech",
            mechanism,
            "--iters",
            &N.to_string(),
            "--format",
            "json",
        ]);
        let b = &doc["results"][0]["breakdown"];
        for p in b["processes"].as_array().unwrap() {
            // Each side receives one 128-byte message per round trip, copied once from the skb.
            assert_eq!(
                p["per_message"]["socket_bytes_copied"], 128.0,
                "{mechanism}: {p}"
            );
        }
    }
}

#[test]
fn cma_copies_each_message_once_from_one_process_into_the_other() {
    require_root();
    let doc = run_json(&[
        "trace", "--mech", "cma", "--iters", "2000", "--format", "json",
    ]);
    let b = &doc["results"][0]["breakdown"];
    for p in b["processes"].as_array().unwrap() {
        // Per round trip each side copies its 128-byte message into the peer (one
        // process_vm_writev), and its socket moves a 16-byte post each way and an 8-byte
        // "copied" each way: 128 + 2 * (16 + 8) bytes through the kernel, 24 of them out of
        // socket buffers. The payload through a socket would make it 256 + 48.
        assert_eq!(p["per_message"]["bytes_copied"], 176.0, "{p}");
        assert_eq!(p["per_message"]["socket_bytes_copied"], 24.0, "{p}");
        assert_eq!(p["per_message"]["syscalls"], 5.0, "{p}");
    }
}

#[test]
fn ebpf_log_reports_a_started_process_only_when_asked() {
    require_root();
    let command = ["trace", "--", "sh", "-c", "ls / > /dev/null; true"];
    let quiet = run(&command);
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert!(
        !stderr(&quiet).contains("eBPF"),
        "eBPF log without --ebpf-log: {}",
        stderr(&quiet)
    );
    let mut with_log = vec!["trace", "--ebpf-log"];
    with_log.extend_from_slice(&command[1..]);
    let logged = run(&with_log);
    assert!(logged.status.success(), "{}", stderr(&logged));
    let text = stderr(&logged);
    assert!(
        text.contains("ipc-profiler (eBPF info): process ") && text.contains("has slot 1"),
        "ls was not reported as a new process: {text}"
    );
}

#[test]
fn queue_sends_count_the_bytes_they_were_given() {
    require_root();
    // msgsnd and mq_timedsend return 0: their bytes come from the length argument, recorded at
    // entry (raw tracepoint: from the saved registers; tracepoint: from the event record).
    for mech in ["posix-mq", "sysv-mq"] {
        for attach in ["auto", "tp"] {
            let doc = run_json(&[
                "trace", "--mech", mech, "--iters", "1000", "--attach", attach, "--format", "json",
            ]);
            let b = &doc["results"][0]["breakdown"];
            assert_eq!(
                b["per_message"]["bytes_copied"], 512.0,
                "{mech} {attach}: 128 B sent and received per side per round trip: {b}"
            );
        }
    }
}

#[test]
fn the_hash_map_of_threads_counts_exactly_too() {
    require_root();
    // Kernels with a large pid_max keep the traced threads in a hash map instead of an array
    // indexed by thread id; this machine's pid_max picks the array, so force the map.
    const N: u64 = 2000;
    let output = common::profiler()
        .env("IPC_PROFILER_THREADS", "hash")
        .args([
            "trace", "--mech", "pipe", "--iters", "2000", "--format", "json",
        ])
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    for p in doc["results"][0]["breakdown"]["processes"]
        .as_array()
        .unwrap()
    {
        assert_eq!(calls(p, "read"), N, "{p}");
        assert_eq!(calls(p, "write"), N, "{p}");
    }
    // A command's children are found through the map as well.
    let output = common::profiler()
        .env("IPC_PROFILER_THREADS", "hash")
        .args([
            "trace",
            "--format",
            "json",
            // The command writes nothing on standard output: the report may go there.
            "-o",
            "/dev/stdout",
            "--",
            "sh",
            "-c",
            "ls / > /dev/null; true",
        ])
        .output()
        .expect("the binary runs");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let processes = doc["breakdown"]["processes"].as_array().unwrap();
    assert!(
        processes.iter().any(|p| p["role"] == "ls"),
        "ls has no line: {processes:?}"
    );
}

#[test]
fn throughput_messages_are_counted_exactly() {
    require_root();
    // A stream of N messages: the client writes N and reads the receiver's one acknowledgement,
    // the server reads N and writes it; every figure is per message sent.
    const N: u64 = 4000;
    let doc = run_json(&[
        "trace",
        "--mech",
        "pipe",
        "--pattern",
        "throughput",
        "--size",
        "1K",
        "--iters",
        "4000",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let result = &doc["results"][0];
    assert_eq!(result["pattern"], "throughput");
    let b = &result["breakdown"];
    assert_eq!(b["messages"], N);
    assert_eq!(b["overhead"]["figure"], "time_per_message");
    let processes = b["processes"].as_array().unwrap();
    let (client, server) = (&processes[0], &processes[1]);
    // A stream's sides are its writer and its reader, not a client and a server.
    assert_eq!(
        (&client["role"], &server["role"]),
        (&"writer".into(), &"reader".into())
    );
    assert_eq!(
        (calls(client, "write"), calls(client, "read")),
        (N, 1),
        "{client}"
    );
    assert_eq!(
        (calls(server, "read"), calls(server, "write")),
        (N, 1),
        "{server}"
    );
}

#[test]
fn fan_in_writers_each_get_their_line() {
    require_root();
    let doc = run_json(&[
        "trace",
        "--mech",
        "pipe",
        "--pattern",
        "fan-in",
        "--procs",
        "3",
        "--iters",
        "1500",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let b = &doc["results"][0]["breakdown"];
    assert_eq!(b["messages"], 4500);
    let processes = b["processes"].as_array().unwrap();
    assert_eq!(
        processes.len(),
        4,
        "a reader and three writers: {processes:?}"
    );
    assert_eq!(processes[0]["role"], "reader");
    assert_eq!(calls(&processes[0], "read"), 4500);
    for writer in &processes[1..] {
        assert_eq!(calls(writer, "write"), 1500, "{writer}");
        assert_eq!(calls(writer, "read"), 0, "{writer}");
    }
    // One line per process: more writers than lines is refused before anything runs.
    let refused = run(&[
        "trace",
        "--mech",
        "pipe",
        "--pattern",
        "fan-in",
        "--procs",
        "127",
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("at most 126 fan-in writers"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn pipe_pipeline_stages_are_counted_exactly() {
    require_root();
    // N timed messages (each acknowledged by the sink to the source over a pipe of its own),
    // then N streamed (only the last acknowledged), through K stages.
    const N: u64 = 1500;
    const K: usize = 4;
    let doc = run_json(&[
        "trace",
        "--mech",
        "pipe",
        "--pattern",
        "pipeline",
        "--stages",
        &K.to_string(),
        "--iters",
        &N.to_string(),
        "--warmup",
        "50",
        "--sizes",
        "128",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let b = &doc["results"][0]["breakdown"];
    assert_eq!(b["messages"], 2 * N);
    let processes = b["processes"].as_array().unwrap();
    assert_eq!(processes.len(), K, "one line per stage: {processes:?}");
    let source = &processes[0];
    assert_eq!(source["role"], "stage 0 (source)");
    assert_eq!(calls(source, "write"), 2 * N, "every message, once");
    assert_eq!(
        calls(source, "read"),
        N + 1,
        "each timed ack and the stream's"
    );
    for stage in &processes[1..K - 1] {
        assert_eq!(calls(stage, "read"), 2 * N, "{stage}");
        assert_eq!(calls(stage, "write"), 2 * N, "{stage}");
    }
    let sink = &processes[K - 1];
    assert_eq!(sink["role"], format!("stage {} (sink)", K - 1));
    assert_eq!(calls(sink, "read"), 2 * N);
    assert_eq!(calls(sink, "write"), N + 1);
}

#[test]
fn uds_request_response_is_counted_exactly() {
    require_root();
    // Each request: the client writes it and reads the reply; the server waits on its epoll
    // set of client connections (epoll_pwait), reads the request and writes the reply on that
    // client's reply socket. A client that finishes first closes its connection while the
    // server still serves the others: the server then waits and reads its end of file once
    // more, takes it out of the set (epoll_ctl) and closes it, once per client retired so.
    const N: u64 = 1000;
    const CLIENTS: usize = 3;
    let doc = run_json(&[
        "trace",
        "--mech",
        "uds",
        "--pattern",
        "request-response",
        "--clients",
        &CLIENTS.to_string(),
        "--iters",
        &N.to_string(),
        "--warmup",
        "50",
        "--sizes",
        "128",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let b = &doc["results"][0]["breakdown"];
    let all = N * CLIENTS as u64;
    assert_eq!(b["messages"], all);
    let processes = b["processes"].as_array().unwrap();
    assert_eq!(processes.len(), CLIENTS + 1, "{processes:?}");
    let server = &processes[0];
    assert_eq!(server["role"], "server");
    let retired = calls(server, "close");
    assert!(
        retired < CLIENTS as u64,
        "the last client is never retired early"
    );
    assert_eq!(
        calls(server, "epoll_ctl"),
        retired,
        "each retired connection leaves the set"
    );
    assert_eq!(calls(server, "write"), all, "one reply per request");
    for name in ["epoll_pwait", "read"] {
        assert_eq!(calls(server, name), all + retired, "server {name}");
    }
    for client in &processes[1..] {
        assert_eq!(calls(client, "write"), N, "{client}");
        assert_eq!(calls(client, "read"), N, "{client}");
    }
}

#[test]
fn pipe_pub_sub_is_counted_exactly() {
    require_root();
    // N streamed and N paced messages, written once per subscriber over its own pipe; each
    // subscriber acknowledges the end of each phase. A 20,000/s pace is a 50 µs interval,
    // shorter than the publisher's sleep threshold: it spins on the clock, no syscall.
    const N: u64 = 800;
    const SUBSCRIBERS: usize = 3;
    let doc = run_json(&[
        "trace",
        "--mech",
        "pipe",
        "--pattern",
        "pub-sub",
        "--subscribers",
        &SUBSCRIBERS.to_string(),
        "--iters",
        &N.to_string(),
        "--warmup",
        "20",
        "--rate",
        "20000",
        "--sizes",
        "128",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let b = &doc["results"][0]["breakdown"];
    assert_eq!(b["messages"], 2 * N);
    let processes = b["processes"].as_array().unwrap();
    assert_eq!(processes.len(), SUBSCRIBERS + 1, "{processes:?}");
    let publisher = &processes[0];
    assert_eq!(publisher["role"], "publisher");
    assert_eq!(calls(publisher, "write"), 2 * N * SUBSCRIBERS as u64);
    assert_eq!(
        calls(publisher, "read"),
        2 * SUBSCRIBERS as u64,
        "two acks each"
    );
    for subscriber in &processes[1..] {
        assert_eq!(calls(subscriber, "read"), 2 * N, "{subscriber}");
        assert_eq!(calls(subscriber, "write"), 2, "{subscriber}");
    }
}

#[test]
fn cpu_migrations_are_counted_and_pinned_workers_have_none() {
    require_root();
    // sh moves itself to CPU 1 and back to CPU 0: at least one migration each way, counted
    // by sched_migrate_task (tp_btf by default, the tracepoint with --attach tp).
    let script = "taskset -pc 1 $$ >/dev/null; sleep 0.01; taskset -pc 0 $$ >/dev/null; sleep 0.01";
    for attach in ["auto", "tp"] {
        let output = run(&[
            "trace",
            "--attach",
            attach,
            "--format",
            "json",
            "-o",
            "/dev/stdout",
            "--",
            "taskset",
            "-c",
            "0",
            "sh",
            "-c",
            script,
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        let sh = doc["breakdown"]["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["role"] == "sh")
            .cloned()
            .unwrap_or_else(|| panic!("no line for sh: {doc}"));
        let moved = sh["per_message"]["migrations"].as_f64().unwrap();
        assert!(moved >= 2.0, "{attach}: sh moved {moved} times: {sh}");
    }
    // Workers are pinned before their measured phase: the scheduler never moves them in it.
    let doc = run_json(&[
        "trace", "--mech", "pipe", "--iters", "2000", "--format", "json",
    ]);
    for p in doc["results"][0]["breakdown"]["processes"]
        .as_array()
        .unwrap()
    {
        assert_eq!(p["per_message"]["migrations"], 0.0, "{p}");
    }
}

#[test]
fn a_traced_command_runs_as_the_user_named() {
    require_root();
    // As strace -u: the command gets that user's ids, groups and login variables; the tracer
    // stays root.
    let output = run(&[
        "trace",
        "--user",
        "nobody",
        "--",
        "sh",
        "-c",
        "id -u; id -g; id -G; echo $HOME $USER",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let nobody = std::process::Command::new("getent")
        .args(["passwd", "nobody"])
        .output()
        .unwrap();
    let entry = String::from_utf8(nobody.stdout).unwrap();
    let fields: Vec<&str> = entry.trim().split(':').collect();
    let (uid, gid, home) = (fields[2], fields[3], fields[5]);
    let printed = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], uid, "{printed}");
    assert_eq!(lines[1], gid, "{printed}");
    assert!(
        !lines[2].split(' ').any(|g| g == "0"),
        "root's group kept: {printed}"
    );
    assert_eq!(lines[3], format!("{home} nobody"), "{printed}");
    // Without --user the command is root's, as with strace and perf.
    let output = run(&["trace", "--", "id", "-u"]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "0\n");
    // A user that does not exist is a usage error.
    let output = run(&["trace", "--user", "no-such-user-here", "--", "true"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("no user is called no-such-user-here"));
}

#[test]
fn a_report_of_traced_runs_draws_where_each_side_s_time_goes_with_the_json_s_counts() {
    require_root();
    let doc = run_json(&[
        "trace",
        "--mech",
        "pipe,shm-futex",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--format",
        "json",
    ]);
    let dir = common::private_dir();
    let json = dir.path().join("traced.json");
    std::fs::write(&json, doc.to_string()).unwrap();
    let page = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--from",
        json.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("Where a round trip&#39;s time goes")
            || html.contains("Where a round trip's time goes")
    );
    // Each side's label on the chart carries its syscalls and context switches per round trip,
    // as the JSON's breakdown has them.
    for result in doc["results"].as_array().unwrap() {
        for process in result["breakdown"]["processes"].as_array().unwrap() {
            let per = &process["per_message"];
            let label = format!(
                "{:.1} syscalls · {:.1} switches",
                per["syscalls"].as_f64().unwrap(),
                per["context_switches"].as_f64().unwrap_or(0.0)
            );
            assert!(
                html.contains(&label),
                "{} {}: no label {label}",
                result["mechanism"],
                process["role"]
            );
        }
    }
    // The overhead table now counts in the kernel.
    let md = dir.path().join("report.markdown");
    let out = run(&[
        "report",
        "--from",
        json.to_str().unwrap(),
        "-o",
        md.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("| pipe |") && text.contains("eBPF (trace)"),
        "{text}"
    );
}

#[test]
fn a_benchmark_sides_on_cpu_time_is_its_kernel_time_plus_its_user_time() {
    require_root();
    // The README's first command: on-CPU = kernel + user for each side.
    let doc = run_json(&[
        "trace", "--mech", "uds", "--iters", "2000", "--warmup", "100", "--format", "json",
    ]);
    let processes = doc["results"][0]["breakdown"]["processes"]
        .as_array()
        .unwrap();
    assert_eq!(processes.len(), 2, "{processes:?}");
    for p in processes {
        let m = &p["per_message"];
        let on_cpu = m["on_cpu_ns"].as_f64().unwrap();
        let user = m["user_ns"].as_f64().unwrap();
        let kernel = m["kernel_ns"].as_f64().unwrap();
        assert!(
            (kernel + user - on_cpu).abs() <= 1.0 || (user == 0.0 && kernel >= on_cpu),
            "on-CPU {on_cpu} is not kernel {kernel} + user {user}: {p}"
        );
    }
}

/// `command` started as from an interactive shell, but with `ignored` signals ignored (as a
/// background job of a script starts with SIGINT and SIGQUIT ignored): a shell asks each
/// signal's disposition and counts differently.
fn ignoring(command: std::process::Command, ignored: &[i32]) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut command = common::with_default_signals(command);
    let ignored = ignored.to_vec();
    // SAFETY: signal() is async-signal-safe; the closure allocates nothing.
    unsafe {
        command.pre_exec(move || {
            for &signal in &ignored {
                libc::signal(signal, libc::SIG_IGN);
            }
            Ok(())
        });
    }
    command
}

/// Every syscall `strace -f -c` counts for `command`: name -> (calls, errors).
fn strace_counts(
    command: &[&str],
    ignored: &[i32],
) -> std::collections::BTreeMap<String, (u64, u64)> {
    let dir = common::private_dir();
    let out = dir.path().join("strace.txt");
    // Its output into a pipe, as `run` gives the traced command (a program may ask whether
    // its output is a terminal, and count differently).
    let mut strace = std::process::Command::new("strace");
    strace.args(["-f", "-c", "-o"]).arg(&out).args(command);
    let status = ignoring(strace, ignored)
        .output()
        .expect("strace runs")
        .status;
    assert!(status.success(), "strace {command:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let numeric = f.first()?.chars().next()?.is_ascii_digit();
            (numeric && f.len() >= 5 && *f.last()? != "total").then(|| {
                let errors = if f.len() == 6 {
                    f[4].parse().unwrap()
                } else {
                    0
                };
                (
                    f.last().unwrap().to_string(),
                    (f[3].parse().unwrap(), errors),
                )
            })
        })
        .collect()
}

/// Every syscall `trace -- command` counts, over all its processes: name -> (calls, errors).
fn traced_counts(
    command: &[&str],
    ignored: &[i32],
) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut args = vec!["trace", "--format", "json", "--"];
    args.extend(command);
    let mut profiler = common::profiler();
    profiler.args(&args);
    let output = ignoring(profiler, ignored)
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: Value = serde_json::from_slice(&output.stderr).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for process in doc["breakdown"]["processes"].as_array().unwrap() {
        for s in process["syscalls"].as_array().unwrap() {
            let entry: &mut (u64, u64) = counts
                .entry(s["name"].as_str().unwrap().to_string())
                .or_default();
            entry.0 += s["count"].as_u64().unwrap();
            entry.1 += s["errors"].as_u64().unwrap();
        }
    }
    counts
}

#[test]
fn a_started_command_is_counted_from_its_own_execve_as_strace_counts_it() {
    require_root();
    // Found through PATH (a search by the traced child would be failed execve calls that are
    // not the program's), started by a fork whose own calls before the program must not count.
    for command in [
        &["true"][..],
        &["ls", "/"],
        &["sh", "-c", "echo hi > /dev/null"],
    ] {
        assert_eq!(
            traced_counts(command, &[]),
            strace_counts(command, &[]),
            "trace -- {command:?} against strace -f -c"
        );
    }
    // Started as a background job of a script is started (SIGINT and SIGQUIT ignored): the
    // command keeps those dispositions, as under strace (sh then makes 5 rt_sigaction calls,
    // not 7).
    let command = &["sh", "-c", "echo hi > /dev/null"];
    let ignored = [libc::SIGINT, libc::SIGQUIT];
    assert_eq!(
        traced_counts(command, &ignored),
        strace_counts(command, &ignored),
        "trace -- {command:?} with SIGINT and SIGQUIT ignored, against strace -f -c"
    );
}

/// Removes the IPC objects `tests/programs/leaks.py` printed, whatever the test found.
struct LeftBehind(Vec<(String, String, u64)>);

impl Drop for LeftBehind {
    fn drop(&mut self) {
        for (kind, name, ident) in &self.0 {
            match kind.as_str() {
                "posix-mq" => {
                    let _ = std::fs::remove_file(format!("/dev/mqueue/{name}"));
                }
                "posix-shm" => {
                    let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
                }
                "sysv-sem" => {
                    // SAFETY: IPC_RMID on a set's id: no memory is read or written.
                    unsafe { libc::semctl(*ident as i32, 0, libc::IPC_RMID) };
                }
                _ => {
                    // SAFETY: IPC_RMID on an id with a null buffer reads and writes no memory.
                    unsafe { libc::shmctl(*ident as i32, libc::IPC_RMID, std::ptr::null_mut()) };
                }
            }
        }
    }
}

#[test]
fn objects_a_program_leaves_behind_are_found_with_what_ties_them_to_it() {
    require_root();
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/programs/leaks.py");
    let (report, stdout) = trace_command_to_file("json", &["python3", program]);
    let left = LeftBehind(
        stdout
            .lines()
            .filter_map(
                |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                    [kind, name, ident] => Some((kind.into(), name.into(), ident.parse().ok()?)),
                    _ => None,
                },
            )
            .collect(),
    );
    assert_eq!(
        left.0.len(),
        4,
        "a queue, a /dev/shm file, a segment, a semaphore set: {stdout}"
    );
    let doc: Value = serde_json::from_str(&report).unwrap();
    let leaks: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "leaked-object")
        .map(|f| f["evidence"].as_str().unwrap())
        .collect();
    for (kind, name, ident) in &left.0 {
        let named = match kind.as_str() {
            "posix-mq" => format!("/dev/mqueue/{name} is still there"),
            "posix-shm" => format!("/dev/shm/{name} is still there"),
            _ => format!("{kind} id {ident} "),
        };
        assert!(
            leaks.iter().any(|e| e.starts_with(&named)),
            "no leaked-object finding for {kind} {name} {ident}: {:#}",
            doc["findings"]
        );
    }
    assert_eq!(leaks.len(), 4, "{:#}", doc["findings"]);
    // The semaphore set is a channel too: its one post a send, its one wait a receive.
    let (_, _, semid) = left.0.iter().find(|(kind, ..)| kind == "sysv-sem").unwrap();
    let channels = doc["channels"].as_array().unwrap();
    let set = channels
        .iter()
        .find(|c| c["kind"] == "sysv-sem" && c["inodes"][0].as_u64() == Some(*semid))
        .unwrap_or_else(|| panic!("no sysv-sem channel {semid}: {channels:#?}"));
    let d = &set["directions"][0];
    assert_eq!(
        (&d["sends"], &d["receives"]),
        (&Value::from(1), &Value::from(1)),
        "{set:#}"
    );
}

#[test]
fn a_process_spinning_on_shared_memory_is_a_busy_wait_and_one_computing_is_not() {
    require_root();
    let busy_waits = |report: &str| -> Vec<Value> {
        let doc: Value = serde_json::from_str(report).unwrap();
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "busy-wait")
            .cloned()
            .collect()
    };
    // The benchmark's shm-spin workers poll an ipc-core ring in a memfd, running `pause` while
    // they wait (on one CPU too: they take turns spinning).
    let bench = env!("CARGO_BIN_EXE_ipc-profiler");
    let (report, _) = trace_command_to_file(
        "json",
        &[
            bench,
            "bench",
            "--mech",
            "shm-spin",
            "--duration",
            "1",
            "--format",
            "json",
        ],
    );
    let spinning = busy_waits(&report);
    assert!(
        !spinning.is_empty()
            && spinning.iter().all(|f| f["evidence"]
                .as_str()
                .unwrap()
                .contains("at a pause instruction")),
        "shm-spin's workers: {report}"
    );
    // A C child polling a flag in a tight loop with no pause: found at its handful of
    // addresses, and only the child (its parent sleeps). Its what-if measures spinning against
    // a futex and gives back the CPU it polled: some, and no more than it was traced.
    let dir = common::private_dir();
    let poller = dir.path().join("poll_without_pause");
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/programs/poll_without_pause.c"
    );
    let compiled = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&poller)
        .arg(source)
        .status()
        .expect("cc (build-essential, installed by cargo xtask setup)");
    assert!(compiled.success(), "cc could not build {source}");
    let (report, _) =
        trace_with_options_to_file(&["--what-if"], "json", &[poller.to_str().unwrap()]);
    let polling = busy_waits(&report);
    assert_eq!(polling.len(), 1, "only the polling child: {report}");
    assert!(
        polling[0]["evidence"]
            .as_str()
            .unwrap()
            .contains("(a loop polling without pause"),
        "{report}"
    );
    let what_if = &polling[0]["what_if"];
    assert_eq!(
        (&what_if["current"], &what_if["alternative"]),
        (&Value::from("shm-spin"), &Value::from("shm-futex")),
        "{report}"
    );
    let (saved, traced) = (
        what_if["saving_ns"].as_i64().unwrap(),
        what_if["traced_ns"].as_i64().unwrap(),
    );
    assert!(0 < saved && saved <= traced, "{what_if:#}");
    assert!(
        what_if["cpu"]["alternative_ns"].as_u64().unwrap() > 0,
        "{what_if:#}"
    );
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/programs/compute.py");
    let (report, _) = trace_command_to_file("json", &["python3", program]);
    assert_eq!(
        busy_waits(&report),
        Vec::<Value>::new(),
        "computing is not polling"
    );
}

#[test]
fn python_multiprocessing_s_queue_pipe_and_shared_memory_are_found() {
    require_root();
    let program = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/programs/multiprocessing_demo.py"
    );
    let (report, stdout) = trace_command_to_file("json", &["python3", program]);
    let doc: Value = serde_json::from_str(&report).unwrap();
    let channels = doc["channels"].as_array().unwrap();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let printed = |label: &str| -> String {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{label} ")))
            .unwrap_or_else(|| panic!("the program printed no {label}: {stdout}"))
            .to_string()
    };
    // The Queue: a pipe its child's feeder thread writes each item on (and None after them).
    let queue = channels
        .iter()
        .find(|c| c["kind"] == "pipe" && n(&c["messages"]) >= 201)
        .unwrap_or_else(|| panic!("no pipe carried the Queue's 201 items: {channels:#?}"));
    assert_eq!(
        queue["directions"][0]["from"].as_array().unwrap().len(),
        1,
        "{queue:#}"
    );
    // The Pipe: a Unix stream pair, 150 requests answered.
    let inode: u64 = printed("pipe").parse().unwrap();
    let pipe = common::channel_with_inode(channels, inode)
        .unwrap_or_else(|| panic!("no channel for the Pipe's socket {inode}: {channels:#?}"));
    assert_eq!(pipe["kind"], "unix-stream", "{pipe:#}");
    for d in pipe["directions"].as_array().unwrap() {
        assert!(n(&d["sends"]) >= 150, "{pipe:#}");
    }
    // The SharedMemory block, in /dev/shm, mapped by the parent and the child.
    let name = printed("shm");
    let block = channels
        .iter()
        .find(|c| c["kind"] == "posix-shm" && c["name"].as_str().unwrap().contains(&name))
        .unwrap_or_else(|| panic!("no posix-shm channel named {name}: {channels:#?}"));
    let pids = common::channel_pids(block);
    assert_eq!(pids.len(), 2, "{block:#}");
    assert!(block["messages"].is_null(), "{block:#}");
}

/// The test program with a known number of messages on each kind of channel.
const CHANNELS_PROGRAM: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/programs/channels.py");

/// One channel the channel program made: its socket's (or pipe's) inode and, for TCP and UDP,
/// its own address.
#[derive(Clone, Debug)]
struct Labelled {
    inode: u64,
    address: Option<String>,
}

/// The `label inode [address]` lines the channel program printed.
fn channel_labels(stdout: &str) -> std::collections::BTreeMap<String, Labelled> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let label = words.next()?.to_string();
            let inode = words.next()?.parse().ok()?;
            let address = words.next().map(str::to_string);
            Some((label, Labelled { inode, address }))
        })
        .collect()
}

/// Per channel label: the calls `strace -ff -yy` saw move something on the labelled socket (or
/// pipe, or FIFO) as (sends, receives), and under "peer of LABEL" those on its peer socket;
/// under [`SHARED_FUTEX`] the shared (not private) futex waits and wakes it saw, and under
/// [`SHARED_FUTEX_COUNTED`] those the program counted itself in that run (its `shm` lines).
fn strace_channel_calls() -> std::collections::BTreeMap<String, (u64, u64)> {
    let dir = common::private_dir();
    // One file per process (`-ff`): no call is split by another process's line.
    let out = dir.path().join("strace");
    let output = std::process::Command::new("strace")
        .args(["-ff", "-yy", "-qq", "-s", "0", "-o"])
        .arg(&out)
        .args([
            "-e",
            "trace=read,write,readv,writev,sendto,recvfrom,sendmsg,recvmsg,mq_timedsend,\
             mq_timedreceive,msgsnd,msgrcv,futex",
            "python3",
            CHANNELS_PROGRAM,
        ])
        .output()
        .expect("strace runs");
    assert!(output.status.success(), "strace: {}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let labels = channel_labels(&stdout);
    let mut counts = std::collections::BTreeMap::new();
    counts.insert(SHARED_FUTEX_COUNTED.to_string(), shm_lines_total(&stdout));
    let by_inode = |inode: u64| {
        labels
            .iter()
            .find(|(_, l)| l.inode == inode)
            .map(|(k, _)| k.clone())
    };
    let by_address = |a: &str| {
        labels
            .iter()
            .find(|(_, l)| l.address.as_deref() == Some(a))
            .map(|(k, _)| k.clone())
    };
    let mut text = String::new();
    for file in std::fs::read_dir(dir.path()).unwrap() {
        text += &std::fs::read_to_string(file.unwrap().path()).unwrap();
        text.push('\n');
    }
    for line in text.lines() {
        // `write(5<pipe:[4840200]>, ""..., 64) = 64`
        let Some((call, rest)) = line.split_once('(') else {
            continue;
        };
        // `futex(0x7f..., FUTEX_WAKE, 1) = 1`: the private ones are `FUTEX_WAKE_PRIVATE`.
        if call == "futex" {
            let entry = counts.entry(SHARED_FUTEX.to_string()).or_insert((0, 0));
            if rest.contains(", FUTEX_WAIT,") {
                entry.0 += 1;
            } else if rest.contains(", FUTEX_WAKE,") {
                entry.1 += 1;
            }
            continue;
        }
        let Some(returned) = line
            .rsplit_once(" = ")
            .and_then(|(_, r)| r.split(' ').next())
        else {
            continue;
        };
        // mq_timedsend returns 0 when it sent.
        let sent_a_message = matches!(call, "mq_timedsend" | "msgsnd") && returned == "0";
        if returned.parse::<i64>().map_or(true, |r| r <= 0) && !sent_a_message {
            continue;
        }
        let send = matches!(
            call,
            "write" | "writev" | "sendto" | "sendmsg" | "mq_timedsend" | "msgsnd"
        );
        // A System V queue is named by its id, the first argument; anything else by the file
        // strace shows beside the descriptor.
        let label = if matches!(call, "msgsnd" | "msgrcv") {
            let id: Option<u64> = rest.split(',').next().and_then(|i| i.trim().parse().ok());
            id.and_then(by_inode)
        } else {
            let Some((_, after)) = rest.split_once('<') else {
                continue;
            };
            // `UNIX-STREAM:[4821198->4821199]` and `TCP:[127.0.0.1:1->127.0.0.1:2]` hold a '>'.
            let file = match after.find("]>") {
                Some(end) => &after[..=end],
                None => after.split_once('>').map_or(after, |(f, _)| f),
            };
            let inside = file
                .split_once('[')
                .map(|(_, i)| i.trim_end_matches(']'))
                .unwrap_or_default();
            let (own, peer) = inside.split_once("->").unwrap_or((inside, ""));
            if file.ends_with("/fifo") {
                Some("fifo".to_string())
            } else if file.contains("[eventfd") {
                Some("eventfd".to_string())
            } else if let Some(queue) = by_address(file) {
                Some(queue)
            } else if file.starts_with("TCP") || file.starts_with("UDP") {
                by_address(own).or_else(|| by_address(peer).map(|k| format!("peer of {k}")))
            } else {
                let inode = |i: &str| i.parse::<u64>().ok();
                inode(own).and_then(by_inode).or_else(|| {
                    inode(peer)
                        .and_then(by_inode)
                        .map(|k| format!("peer of {k}"))
                })
            }
        };
        let Some(label) = label else { continue };
        let entry = counts.entry(label).or_insert((0, 0));
        if send {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    counts
}

/// Each shared memory the channel program made (its `shm KIND IDENT WAITS WAKES` lines: the
/// futex calls both processes made in it, counted by themselves) is one channel between two
/// processes, with no messages or bytes, and exactly those futex calls.
fn shared_memory_matches_the_programs_own_count(channels: &[Value], stdout: &str) {
    let n = |v: &Value| v.as_u64().unwrap();
    let made: Vec<Vec<&str>> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|words| words.first() == Some(&"shm"))
        .collect();
    assert_eq!(
        made.len(),
        4,
        "memfd, shared-anon, posix-shm, sysv-shm: {stdout}"
    );
    for words in made {
        let [_, kind, ident, waits, wakes] = words[..] else {
            panic!("a `shm` line has five words: {words:?}");
        };
        let found: Vec<&Value> = channels
            .iter()
            .filter(|c| c["kind"] == kind)
            .filter(|c| ident == "-" || c["inodes"][0].as_u64() == ident.parse().ok())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one {kind} channel ({ident}): {channels:#?}"
        );
        let c = found[0];
        assert!(c["messages"].is_null() && c["bytes"].is_null(), "{c:#}");
        let pids = common::channel_pids(c);
        assert_eq!(pids.len(), 2, "the parent and its child: {c:#}");
        let f = &c["futex"];
        assert_eq!(
            (
                n(&f["waits"]) + n(&f["waits_not_woken"]),
                n(&f["wakes"]) + n(&f["wakes_of_nobody"])
            ),
            (waits.parse().unwrap(), wakes.parse().unwrap()),
            "{kind}: futex waits and wakes as the program counted them: {c:#}"
        );
        assert_eq!(n(&f["woken"]), n(&f["wakes"]), "each wake woke one: {c:#}");
        // The two words, `turn` and `done`, at the start of the object in every kind.
        let words = f["words"].as_array().unwrap();
        let offsets: Vec<u64> = words.iter().map(|w| n(&w["offset"])).collect();
        assert_eq!(offsets, [0, 4], "{kind}: {c:#}");
        let calls: u64 = words.iter().map(|w| n(&w["waits"]) + n(&w["wakes"])).sum();
        assert_eq!(
            calls,
            waits.parse::<u64>().unwrap() + wakes.parse::<u64>().unwrap(),
            "{kind}: every call on one of the two words: {c:#}"
        );
        // Who slept or woke someone depends on timing: whoever did is one of the two.
        for who in ["waiters", "wakers"] {
            for name in f[who].as_array().unwrap() {
                let pid = name
                    .as_str()
                    .and_then(|s| s.rsplit_once('('))
                    .map(|(_, p)| p);
                let pid: Option<u64> = pid.and_then(|p| p.trim_end_matches(')').parse().ok());
                assert!(pid.is_some_and(|p| pids.contains(&p)), "{who}: {c:#}");
            }
        }
    }
}

/// `strace_channel_calls`' key of the shared futex calls strace saw: (waits, wakes).
const SHARED_FUTEX: &str = "shared futex calls";
/// Its key of those the program counted itself in the same run.
const SHARED_FUTEX_COUNTED: &str = "shared futex calls the program counted";

/// The waits and wakes of every `shm KIND IDENT WAITS WAKES` line, added.
fn shm_lines_total(stdout: &str) -> (u64, u64) {
    stdout
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                ["shm", _, _, waits, wakes] => Some((waits.parse().ok()?, wakes.parse().ok()?)),
                _ => None,
            }
        })
        .fold((0, 0), |(a, b), (w, k): (u64, u64)| (a + w, b + k))
}

#[test]
fn a_programs_channels_are_found_paired_and_counted_as_strace_counts_them() {
    require_root();
    let (report, stdout) = trace_command_to_file("json", &["python3", CHANNELS_PROGRAM]);
    let labels = channel_labels(&stdout);
    assert_eq!(labels.len(), 11, "the program's labels: {stdout}");
    let doc: Value = serde_json::from_str(&report).unwrap();
    assert!(
        doc["channels_unavailable"].is_null(),
        "{}",
        doc["channels_unavailable"]
    );
    let channels = doc["channels"].as_array().unwrap();
    let channel = |label: &str| -> &Value {
        let inode = labels[label].inode;
        common::channel_with_inode(channels, inode)
            .unwrap_or_else(|| panic!("no channel for {label} (inode {inode}): {channels:#?}"))
    };
    let n = |v: &Value| v.as_u64().unwrap();
    // One-way channels: each write read by one read of 64 bytes (8 for the eventfd's counter).
    for (label, kind, messages, size) in [
        ("pipe-a", "pipe", 300, 64),
        ("pipe-b", "pipe", 200, 64),
        ("fifo", "fifo", 120, 64),
        ("pipe-d", "pipe", 80, 64),
        ("eventfd", "eventfd", 70, 8),
        ("mq", "posix-mq", 60, 64),
        ("sysv", "sysv-mq", 50, 64),
    ] {
        let c = channel(label);
        assert_eq!(c["kind"], kind, "{label}: {c:#}");
        let d = &c["directions"][0];
        assert_eq!(
            (
                n(&d["sends"]),
                n(&d["bytes_sent"]),
                n(&d["receives"]),
                n(&d["bytes_received"])
            ),
            (messages, messages * size, messages, messages * size),
            "{label}: {c:#}"
        );
        assert_eq!(
            (n(&d["size_min"]), n(&d["size_max"])),
            (size, size),
            "{label}"
        );
        let (from, to) = (d["from"].as_array().unwrap(), d["to"].as_array().unwrap());
        assert!(
            from.len() == 1 && to.len() == 1 && from != to,
            "{label}: a writer and a reader: {c:#}"
        );
    }
    // pipe-d's writer wrote on the descriptor it received over `passing`, not one it inherited.
    let passed = channel("pipe-d");
    assert!(passed["ends"].as_array().unwrap().len() >= 2, "{passed:#}");
    // The socket pairs and connections: both directions, ends in two processes.
    for (label, kind, round_trips) in [
        ("stream", "unix-stream", 150),
        ("tcp", "tcp", 110),
        ("udp", "udp", 90),
    ] {
        let c = channel(label);
        assert_eq!(c["kind"], kind, "{label}: {c:#}");
        for d in c["directions"].as_array().unwrap() {
            assert_eq!(
                (n(&d["sends"]), n(&d["receives"])),
                (round_trips, round_trips),
                "{label}: {c:#}"
            );
        }
    }
    // Round trips (a send, then the same thread's receive on that descriptor): the labelled
    // side answers (stream: asks) each time; its peer's last send has no answer to wait for.
    for (label, labelled_side, other_side) in
        [("stream", 150, 149), ("tcp", 109, 110), ("udp", 89, 90)]
    {
        let c = channel(label);
        let mine = &labels[label];
        let from_mine = |d: &&Value| match &mine.address {
            Some(address) if label != "stream" => d["from_address"].as_str() == Some(address),
            _ => d["from_inode"].as_u64() == Some(mine.inode),
        };
        let directions = c["directions"].as_array().unwrap();
        let (ours, theirs): (Vec<&Value>, Vec<&Value>) = directions.iter().partition(from_mine);
        assert_eq!(
            (n(&ours[0]["round_trips"]), n(&theirs[0]["round_trips"])),
            (labelled_side, other_side),
            "{label}: {c:#}"
        );
        assert!(
            ours[0]["round_trip_p50_ns_at_most"].as_u64().unwrap() > 0,
            "{c:#}"
        );
    }
    let tcp = channel("tcp");
    let address = labels["tcp"].address.as_deref().unwrap();
    assert!(
        tcp["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == address)
            && tcp["name"].as_str().unwrap().ends_with("(loopback)"),
        "{tcp:#}"
    );
    let passing = channel("passing");
    assert_eq!(passing["kind"], "unix-dgram");
    let sent: u64 = passing["directions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| n(&d["sends"]))
        .sum();
    assert_eq!(sent, 1, "one sendmsg carried the descriptor: {passing:#}");
    shared_memory_matches_the_programs_own_count(channels, &stdout);
    // Its one mistake: TCP and UDP between local processes (docs/diagnosing.md); its pipes,
    // sockets, queues and shared memory are used as the comparison advises.
    let findings: Vec<(&str, &str)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["channel"].as_str().unwrap()))
        .collect();
    let expected: Vec<(&str, &str)> = ["tcp", "udp"]
        .iter()
        .map(|label| ("tcp-loopback", channel(label)["name"].as_str().unwrap()))
        .collect();
    assert_eq!(findings, expected, "{:#}", doc["findings"]);
    // And strace, run on the same program, saw the same calls per channel: per socket (or
    // pipe), the sends leaving from it and the receives arriving at it.
    let mut strace = strace_channel_calls();
    // The program's own futex counts, which the trace matched above, are strace's too.
    let counted = strace.remove(SHARED_FUTEX_COUNTED);
    let seen = strace.remove(SHARED_FUTEX);
    assert!(
        counted.is_some_and(|c| c.0 > 0),
        "the shm lines: {counted:?}"
    );
    assert_eq!(
        counted, seen,
        "shared futex waits and wakes: the program's count against strace -ff"
    );
    for (label, (sends, receives)) in &strace {
        let (name, peer) = match label.strip_prefix("peer of ") {
            Some(name) => (name, true),
            None => (label.as_str(), false),
        };
        let c = channel(name);
        let mine = &labels[name];
        // A direction leaves from (or arrives at) the labelled side when its inode or address
        // is the label's; the peer's side is the other one.
        let inet = c["kind"] == "tcp" || c["kind"] == "udp";
        let at = |d: &Value, end: &str| {
            let here = match &mine.address {
                Some(address) if inet => {
                    d[format!("{end}_address")].as_str() == Some(address.as_str())
                }
                _ => d[format!("{end}_inode")].as_u64() == Some(mine.inode),
            };
            let set =
                !d[format!("{end}_address")].is_null() || !d[format!("{end}_inode")].is_null();
            if peer {
                set && !here
            } else {
                here
            }
        };
        let directions = c["directions"].as_array().unwrap();
        // A pipe's one direction leaves from and arrives at the pipe itself.
        let total = |end: &str, figure: &str| -> u64 {
            directions
                .iter()
                .filter(|d| at(d, end))
                .map(|d| n(&d[figure]))
                .sum()
        };
        let traced = (total("from", "sends"), total("to", "receives"));
        assert_eq!(
            traced,
            (*sends, *receives),
            "{label}: trace against strace -ff -yy ({strace:?}): {c:#}"
        );
    }
    for label in [
        "pipe-a",
        "pipe-b",
        "fifo",
        "pipe-d",
        "stream",
        "peer of stream",
        "passing",
        "peer of passing",
        "tcp",
        "peer of tcp",
        "udp",
        "peer of udp",
        "eventfd",
        "mq",
        "sysv",
    ] {
        assert!(
            strace.contains_key(label),
            "strace saw no calls on {label}: {strace:?}"
        );
    }
}
