//! The command line as a user meets it: contract output, and one clear sentence with exit code
//! 2 for every kind of bad input, never a panic.

mod common;

use common::{assert_contract, run, run_json, stderr};

/// CPUs this run may use: its affinity mask, as the profiler itself counts them.
fn cpus_here() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The first CPU this run may use (CPU 0 is not one under `taskset -c 1`).
fn first_cpu() -> usize {
    let set = rustix::thread::sched_getaffinity(None).expect("sched_getaffinity");
    (0..rustix::thread::CpuSet::MAX_CPU)
        .find(|&c| set.is_set(c))
        .expect("this process may use some CPU")
}

/// Checks a refusal of a spinning mechanism (`shm-spin`, `cacheline`) in a run of `processes`
/// processes, derived from the CPUs this run may use: more spinners than CPUs would measure
/// the scheduler's time slice; with enough CPUs `cacheline` is still refused (it moves no
/// payload), and `shm-spin` is not refused at all (false: check it as any other mechanism).
fn spinner_refused_as_expected(r: &serde_json::Value, processes: usize) -> bool {
    let mechanism = r["mechanism"].as_str().unwrap();
    let reason = r["unsupported"].as_str();
    if processes > cpus_here() {
        assert!(
            reason.is_some_and(|t| t.contains("time slice")),
            "{processes} spinners on {} CPUs: {r}",
            cpus_here()
        );
        true
    } else if mechanism == "cacheline" {
        assert!(reason.is_some_and(|t| t.contains("no payload")), "{r}");
        true
    } else {
        assert!(
            reason.is_none(),
            "{processes} spinners fit {} CPUs: {r}",
            cpus_here()
        );
        false
    }
}

#[test]
fn bench_pipe_prints_the_json_contract() {
    let doc = run_json(&[
        "bench", "--mech", "pipe", "--iters", "2000", "--warmup", "100", "--format", "json",
    ]);
    assert_contract(&doc);
    let r = &doc["results"][0];
    assert_eq!(r["mechanism"], "pipe");
    assert_eq!(r["pattern"], "latency");
    assert_eq!(r["message_size"], 128);
    assert_eq!(r["messages"], 2000);
    assert_eq!(r["processes"], 2);
    let one_cpu = format!("same-core (cpu {})", first_cpu());
    assert!(
        r["placement"].as_str().unwrap().starts_with("cross-core") || r["placement"] == one_cpu,
        "{r}"
    );
    assert!(r["breakdown"].is_null(), "bench does not trace");
}

#[test]
fn bench_honours_size_and_placement() {
    let cpu = first_cpu().to_string();
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe",
        "--size",
        "64K",
        "--iters",
        "200",
        "--placement",
        "same-core",
        "--cpus",
        &cpu,
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let r = &doc["results"][0];
    assert_eq!(r["message_size"], 65536);
    assert_eq!(r["placement"], format!("same-core (cpu {cpu})"));
}

#[test]
fn bench_table_is_the_default() {
    let output = run(&["bench", "--mech", "pipe", "--iters", "500"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    for heading in ["mechanism", "p50", "p99.9", "vs fastest", "pipe"] {
        assert!(text.contains(heading), "table lacks {heading}:\n{text}");
    }
}

#[test]
fn output_goes_to_a_file_when_asked() {
    let dir = common::private_dir();
    let file = dir.path().join("result.json");
    let output = run(&[
        "bench",
        "--mech",
        "pipe",
        "--iters",
        "300",
        "--format",
        "json",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_contract(&doc);
}

#[test]
fn list_names_every_mechanism_and_whether_it_runs() {
    let output = run(&["list"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("pipe") && l.ends_with("available")),
        "{text}"
    );
}

/// Bad input: exit code 2, one clear sentence naming the problem, no panic.
fn assert_refused(args: &[&str], expected: &str) {
    let output = run(args);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?} should exit 2; stderr: {err}"
    );
    assert!(
        err.contains(expected),
        "{args:?}: stderr lacks `{expected}`: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn an_unknown_mechanism_lists_the_valid_names() {
    assert_refused(
        &["bench", "--mech", "carrier-pigeon"],
        "valid names: all, pipe, fifo, vmsplice, uds",
    );
}

#[test]
fn zero_absurd_and_garbled_sizes_are_refused() {
    assert_refused(
        &["bench", "--mech", "pipe", "--size", "0"],
        "at least 1 byte",
    );
    assert_refused(&["bench", "--mech", "pipe", "--size", "1G"], "not a size");
    assert_refused(
        &["bench", "--mech", "pipe", "--size", "100M"],
        "larger than",
    );
}

#[test]
fn options_belong_to_the_commands_they_affect() {
    // --attach chooses how trace's eBPF programs attach: bench has none.
    assert_refused(
        &["bench", "--mech", "pipe", "--attach", "tp"],
        "unexpected argument '--attach'",
    );
}

#[test]
fn what_if_without_a_program_to_trace_is_refused() {
    // It measures a traced program's findings: a benchmark run has none.
    assert_refused(
        &["trace", "--what-if"],
        "--what-if measures a traced program",
    );
    assert_refused(
        &["trace", "--mech", "uds", "--what-if"],
        "--what-if measures a traced program",
    );
}

#[test]
fn zero_iterations_are_refused() {
    assert_refused(&["bench", "--mech", "pipe", "--iters", "0"], "--iters");
}

#[test]
fn bad_cpu_lists_are_refused() {
    assert_refused(
        &["bench", "--mech", "pipe", "--cpus", "4000,4001"],
        "CPU 4000 is not available",
    );
    let cpu = first_cpu();
    assert_refused(
        &["bench", "--mech", "pipe", "--cpus", &format!("{cpu},{cpu}")],
        &format!("CPU {cpu} is listed twice"),
    );
    assert_refused(&["bench", "--mech", "pipe", "--cpus", "x"], "--cpus");
    assert_refused(
        &[
            "bench",
            "--mech",
            "pipe",
            "--placement",
            "unpinned",
            "--cpus",
            &cpu.to_string(),
        ],
        "unpinned",
    );
}

#[test]
fn throughput_streams_are_verified_and_reported_per_size() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex,udp",
        "--pattern",
        "throughput",
        "--sizes",
        "64,64K",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 6, "three mechanisms at two sizes");
    for r in results {
        assert_eq!(r["pattern"], "throughput");
        if r["mechanism"] == "udp" {
            assert!(
                r["unsupported"]
                    .as_str()
                    .unwrap()
                    .contains("no flow control"),
                "{r}"
            );
            continue;
        }
        let t = &r["throughput"];
        let (rate, bytes) = (
            t["messages_per_sec"].as_f64().unwrap(),
            t["bytes_per_sec"].as_f64().unwrap(),
        );
        assert!(rate > 0.0);
        let size = r["message_size"].as_f64().unwrap();
        assert!(
            (bytes - rate * size).abs() <= 1e-6 * bytes,
            "bytes/s = messages/s x size: {t}"
        );
        assert!(r["latency_ns"].is_null());
        assert_eq!(roles(r), ["writer", "reader"], "a stream's sides: {r}");
    }
    // The table gives bytes per second in the report's units (MB/s, GB/s), not MiB/s.
    let table = run(&[
        "bench",
        "--mech",
        "pipe",
        "--pattern",
        "throughput",
        "--sizes",
        "64K",
        "--iters",
        "500",
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("MB/s") || text.contains("GB/s"), "{text}");
    assert!(!text.contains("MiB/s") && !text.contains("GiB/s"), "{text}");
}

#[test]
fn csv_and_markdown_carry_the_same_figures() {
    let output = run(&[
        "bench", "--mech", "pipe,uds", "--iters", "300", "--format", "csv",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one row per result:\n{text}");
    assert!(lines[0].starts_with("mechanism,pattern,wake,message_size"));
    assert!(lines[1].starts_with("pipe,latency,blocking,128,300,2,"));
    let output = run(&[
        "bench", "--mech", "pipe", "--iters", "300", "--format", "markdown",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("| mechanism |") && text.contains("| pipe "),
        "{text}"
    );
}

#[test]
fn an_unsupported_size_is_said_not_silently_changed() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "udp,sysv-mq",
        "--size",
        "1M",
        "--iters",
        "10",
        "--format",
        "json",
    ]);
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["message_size"], 1 << 20, "{r}");
        assert!(r["unsupported"].is_string(), "{r}");
    }
}

#[test]
fn fan_in_checks_every_writer_and_says_what_it_cannot_do() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex,uds,udp",
        "--pattern",
        "fan-in",
        "--procs",
        "3",
        "--sizes",
        "128,8K",
        "--iters",
        "500",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["pattern"], "fan-in");
        assert_eq!(r["processes"], 4, "three writers and a reader: {r}");
        let (mechanism, size) = (
            r["mechanism"].as_str().unwrap(),
            r["message_size"].as_u64().unwrap(),
        );
        match (mechanism, size) {
            ("udp", _) => assert!(r["unsupported"]
                .as_str()
                .unwrap()
                .contains("no flow control")),
            ("pipe", 8192) => assert!(r["unsupported"].as_str().unwrap().contains("PIPE_BUF")),
            _ => {
                assert_eq!(r["messages"], 1500, "{r}");
                assert!(r["throughput"]["messages_per_sec"].as_f64().unwrap() > 0.0);
            }
        }
    }
}

#[test]
fn a_pipeline_verifies_every_stage_for_every_mechanism_and_says_what_it_cannot_do() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "all",
        "--pattern",
        "pipeline",
        "--stages",
        "3",
        "--sizes",
        "128",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        common::mechanism_count(),
        "every mechanism, run or refused"
    );
    for r in results {
        assert_eq!(r["pattern"], "pipeline");
        assert_eq!(
            (r["processes"].as_u64(), r["stages"].as_u64()),
            (Some(3), Some(3))
        );
        match r["mechanism"].as_str().unwrap() {
            "shm-spin" | "io-uring-sqpoll" | "cacheline" if spinner_refused_as_expected(r, 3) => {}
            "dbus" => assert!(
                r["unsupported"]
                    .as_str()
                    .unwrap()
                    .contains("no flow control"),
                "{r}"
            ),
            _ => {
                assert_eq!(r["verified"], true, "{r}");
                assert_eq!(r["messages"], 600, "300 timed and 300 streamed: {r}");
                assert_eq!(r["warmup_messages"], 20);
                assert!(r["throughput"]["messages_per_sec"].as_f64().unwrap() > 0.0);
                let roles = roles(r);
                assert_eq!(roles, ["stage 0 (source)", "stage 1", "stage 2 (sink)"]);
            }
        }
    }
}

#[test]
fn request_response_serves_every_client_for_every_mechanism_and_says_what_it_cannot_do() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "all",
        "--pattern",
        "request-response",
        "--clients",
        "3",
        "--sizes",
        "128",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        common::mechanism_count(),
        "every mechanism, run or refused"
    );
    for r in results {
        assert_eq!(r["pattern"], "request-response");
        assert_eq!(
            (r["processes"].as_u64(), r["clients"].as_u64()),
            (Some(4), Some(3))
        );
        match r["mechanism"].as_str().unwrap() {
            "shm-spin" | "io-uring-sqpoll" | "cacheline" if spinner_refused_as_expected(r, 4) => {}
            // The tokio mechanisms have one connection per pair, no many-writer channel;
            // io-uring-futex a pair of rings.
            "shm-tokio" | "uds-tokio" | "io-uring-futex" => {
                assert!(
                    r["unsupported"]
                        .as_str()
                        .unwrap()
                        .contains("no many-writer"),
                    "{r}"
                )
            }
            _ => {
                assert_eq!(r["verified"], true, "{r}");
                assert_eq!(r["messages"], 900, "300 round trips per client: {r}");
                assert_eq!(r["warmup_messages"], 60);
                assert!(r["throughput"]["messages_per_sec"].as_f64().unwrap() > 0.0);
                let roles = roles(r);
                // D-Bus's broker is a process of the run: its CPU is counted beside theirs.
                let broker = (r["mechanism"] == "dbus").then_some("broker");
                let expected: Vec<&str> = ["server", "client 0", "client 1", "client 2"]
                    .into_iter()
                    .chain(broker)
                    .collect();
                assert_eq!(roles, expected, "{r}");
            }
        }
    }
}

#[test]
fn a_list_of_process_counts_runs_each_of_them() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex",
        "--pattern",
        "request-response",
        "--clients",
        "1,2,5",
        "--sizes",
        "128",
        "--iters",
        "200",
        "--warmup",
        "10",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let runs: Vec<(String, u64, u64)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["mechanism"].as_str().unwrap().to_string(),
                r["clients"].as_u64().unwrap(),
                r["messages"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64, u64)> = ["pipe", "shm-futex"]
        .iter()
        .flat_map(|m| [1, 2, 5].map(|n| (m.to_string(), n, 200 * n)))
        .collect();
    assert_eq!(runs, expected);
    let stages = run_json(&[
        "bench",
        "--mech",
        "pipe",
        "--pattern",
        "pipeline",
        "--stages",
        "2,5",
        "--sizes",
        "128",
        "--iters",
        "100",
        "--warmup",
        "10",
        "--format",
        "json",
    ]);
    let counts: Vec<u64> = stages["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stages"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 5]);
}

#[test]
fn every_subscriber_gets_every_message_for_every_mechanism_and_the_rest_say_why_not() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "all",
        "--pattern",
        "pub-sub",
        "--subscribers",
        "3",
        "--sizes",
        "128",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--rate",
        "20000",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        common::mechanism_count(),
        "every mechanism, run or refused"
    );
    for r in results {
        assert_eq!(r["pattern"], "pub-sub");
        assert_eq!(
            (r["processes"].as_u64(), r["subscribers"].as_u64()),
            (Some(4), Some(3))
        );
        let placement = r["placement"].as_str().unwrap();
        match r["mechanism"].as_str().unwrap() {
            "shm-spin" | "io-uring-sqpoll" | "cacheline" if spinner_refused_as_expected(r, 4) => {}
            mechanism => {
                assert_eq!(r["verified"], true, "{r}");
                assert_eq!(r["messages"], 600, "300 streamed and 300 paced: {r}");
                let paced = r["paced_per_sec"].as_f64().unwrap();
                assert!(
                    paced > 1_000.0 && paced < 21_000.0,
                    "paced at --rate: {paced}"
                );
                let shared = ["shm-futex", "mmap", "shm-tokio", "dbus"].contains(&mechanism);
                assert_eq!(
                    placement.ends_with("one broadcast channel"),
                    shared,
                    "ipc-core publishes once through its broadcast ring (from tokio too), D-Bus \
                     once as a signal: {placement}"
                );
                let roles = roles(r);
                let broker = (mechanism == "dbus").then_some("broker");
                let expected: Vec<&str> =
                    ["publisher", "subscriber 0", "subscriber 1", "subscriber 2"]
                        .into_iter()
                        .chain(broker)
                        .collect();
                assert_eq!(roles, expected, "{r}");
            }
        }
    }
}

#[test]
fn lossy_pub_sub_counts_what_each_subscriber_lost_and_only_ipc_core_has_it() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "shm-futex,shm-tokio,pipe",
        "--pattern",
        "pub-sub",
        "--lossy",
        "--subscribers",
        "2",
        "--sizes",
        "128",
        "--iters",
        "2000",
        "--warmup",
        "50",
        "--format",
        "json",
    ]);
    assert_contract(&doc);
    let results = doc["results"].as_array().unwrap();
    for ring in &results[..2] {
        assert_eq!(ring["verified"], true, "{ring}");
        assert!(ring["placement"].as_str().unwrap().ends_with("lossy"));
        let lost = ring["lost"]
            .as_u64()
            .expect("a lossy result says how many were lost");
        assert!(
            lost <= 2 * 2 * 2000,
            "at most every measured message of both subscribers"
        );
    }
    let pipe = &results[2];
    assert!(pipe["unsupported"]
        .as_str()
        .unwrap()
        .contains("mode of ipc-core's broadcast ring"));
    assert_refused(
        &["bench", "--mech", "pipe", "--lossy"],
        "--lossy is a mode of --pattern pub-sub",
    );
}

/// The roles of a result's processes, in order.
fn roles(r: &serde_json::Value) -> Vec<&str> {
    r["cpu"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect()
}

#[test]
fn too_many_processes_are_refused() {
    assert_refused(
        &[
            "bench",
            "--mech",
            "pipe",
            "--pattern",
            "fan-in",
            "--procs",
            "129",
        ],
        "--procs",
    );
    assert_refused(
        &[
            "bench",
            "--mech",
            "pipe",
            "--pattern",
            "fan-in",
            "--procs",
            "0",
        ],
        "--procs",
    );
    for clients in ["0", "129"] {
        assert_refused(
            &[
                "bench",
                "--mech",
                "pipe",
                "--pattern",
                "request-response",
                "--clients",
                clients,
            ],
            "--clients",
        );
    }
    for subscribers in ["0", "129"] {
        assert_refused(
            &[
                "bench",
                "--mech",
                "pipe",
                "--pattern",
                "pub-sub",
                "--subscribers",
                subscribers,
            ],
            "--subscribers",
        );
    }
    for stages in ["1", "17"] {
        assert_refused(
            &[
                "bench",
                "--mech",
                "pipe",
                "--pattern",
                "pipeline",
                "--stages",
                stages,
            ],
            "--stages",
        );
    }
}

#[test]
fn an_open_file_limit_too_low_for_the_clients_is_named_not_a_failure() {
    // 40 clients' sockets need more than 64 descriptors: the result says which limit and how to
    // raise it, and the run still succeeds for what fits.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec {} bench --mech uds --pattern request-response --clients 2,40 \
             --sizes 128 --iters 50 --warmup 5 --format json",
            env!("CARGO_BIN_EXE_ipc-profiler")
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results[0]["verified"], true, "2 clients fit");
    let reason = results[1]["unsupported"].as_str().unwrap();
    assert!(
        reason.contains("RLIMIT_NOFILE") && reason.contains("ulimit -n"),
        "{reason}"
    );
}

#[test]
fn compare_fails_on_a_regression_surely_beyond_the_threshold_and_passes_otherwise() {
    let doc = run_json(&[
        "bench", "--mech", "pipe", "--iters", "300", "--warmup", "20", "--repeat", "4", "--format",
        "json",
    ]);
    assert_contract(&doc);
    let results = doc["results"].as_array().unwrap();
    let repeats: Vec<_> = results.iter().map(|r| r["repeat"].as_u64()).collect();
    assert_eq!(
        repeats,
        [Some(1), Some(2), Some(3), Some(4)],
        "every run kept and numbered"
    );
    let dir = common::private_dir();
    let old = dir.path().join("old.json");
    std::fs::write(&old, doc.to_string()).unwrap();
    // The same runs with every latency `factor` times higher, written to `name`.
    let scaled = |factor: u64, name: &str| {
        let mut slower = doc.clone();
        for r in slower["results"].as_array_mut().unwrap() {
            for p in ["p50", "p99"] {
                let v = r["latency_ns"][p].as_u64().unwrap();
                r["latency_ns"][p] = (v * factor).into();
            }
        }
        let path = dir.path().join(name);
        std::fs::write(&path, slower.to_string()).unwrap();
        path
    };
    // A thousand times slower: beyond any spread of the repeats, even a loaded machine's p99;
    // twice as slow, for a threshold above the change.
    let new = scaled(1000, "new.json");
    let twice_path = scaled(2, "twice.json");
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());

    let regressed = run(&["compare", old, new]);
    let out = String::from_utf8_lossy(&regressed.stdout).to_string();
    assert_eq!(regressed.status.code(), Some(3), "{out}");
    assert!(
        out.contains("REGRESSED") && out.contains("2 regression(s) surely beyond 10%"),
        "{out}"
    );
    assert!(stderr(&regressed).contains("regressed beyond the threshold"));

    let same = run(&["compare", old, old]);
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).contains("0 regression(s)"));
    // Faster is better, not a failure; and a threshold above the change lets it pass.
    assert_eq!(run(&["compare", new, old]).status.code(), Some(0));
    assert_eq!(
        run(&[
            "compare",
            old,
            twice_path.to_str().unwrap(),
            "--threshold",
            "1000%"
        ])
        .status
        .code(),
        Some(0)
    );

    // A baseline from another machine: said, since every change then mixes the two.
    let mut elsewhere = doc.clone();
    elsewhere["environment"]["cpu_model"] = "Another CPU @ 1.0GHz".into();
    let elsewhere_path = dir.path().join("elsewhere.json");
    std::fs::write(&elsewhere_path, elsewhere.to_string()).unwrap();
    let across = run(&["compare", elsewhere_path.to_str().unwrap(), old]);
    let across_out = String::from_utf8_lossy(&across.stdout).to_string();
    assert!(
        across_out.contains("measured on different machines (Another CPU @ 1.0GHz"),
        "{across_out}"
    );
    assert!(
        !String::from_utf8_lossy(&run(&["compare", old, old]).stdout)
            .contains("different machines")
    );

    let json = run(&["compare", old, new, "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let p50 = value["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["figure"] == "p50")
        .unwrap();
    assert_eq!(p50["verdict"], "regressed");
    assert_eq!(p50["samples"], serde_json::json!([4, 4]));
    // Four runs a side: judged by the 95% interval, which lies wholly beyond the threshold.
    let low = p50["interval"][0].as_f64().unwrap();
    assert!(low > 0.1, "{p50}");
    assert!(
        out.contains("95% interval") && !out.contains("threshold alone"),
        "{out}"
    );
    assert!(
        (p50["change"].as_f64().unwrap() - 999.0).abs() < 1e-6,
        "{p50}"
    );
}

#[test]
fn repeats_alternate_and_come_back_grouped() {
    let out = run(&[
        "bench",
        "--mech",
        "pipe,uds",
        "--iters",
        "200",
        "--warmup",
        "20",
        "--repeat",
        "2",
        "--format",
        "json",
        "--verbose",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Run in rounds: each mechanism once, then again.
    let order: Vec<(String, String)> = stderr(&out)
        .lines()
        .filter(|l| l.contains(" messages "))
        .map(|l| {
            let mechanism = l.split_whitespace().next().unwrap().to_string();
            let run = l
                .split(", run ")
                .nth(1)
                .unwrap_or("")
                .split(')')
                .next()
                .unwrap_or("");
            (
                mechanism,
                run.split_whitespace().next().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> =
        [("pipe", "1"), ("uds", "1"), ("pipe", "2"), ("uds", "2")]
            .iter()
            .map(|(m, r)| (m.to_string(), r.to_string()))
            .collect();
    assert_eq!(order, expected, "{}", stderr(&out));
    // Reported grouped: pipe's runs, then uds's, each in order.
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs: Vec<(String, u64)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["mechanism"].as_str().unwrap().to_string(),
                r["repeat"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("pipe".to_string(), 1),
            ("pipe".to_string(), 2),
            ("uds".to_string(), 1),
            ("uds".to_string(), 2)
        ]
    );
}

#[test]
fn compare_of_files_with_no_run_in_common_is_an_error() {
    let dir = common::private_dir();
    let mut paths = Vec::new();
    for mechanism in ["pipe", "uds"] {
        let doc = run_json(&[
            "bench", "--mech", mechanism, "--iters", "200", "--warmup", "20", "--format", "json",
        ]);
        let path = dir.path().join(format!("{mechanism}.json"));
        std::fs::write(&path, doc.to_string()).unwrap();
        paths.push(path.to_str().unwrap().to_string());
    }
    let out = run(&["compare", &paths[0], &paths[1]]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let message = stderr(&out);
    assert!(
        message.contains("nothing to compare")
            && message.contains("pipe latency 128 B")
            && message.contains("uds latency 128 B"),
        "{message}"
    );
    assert!(out.stdout.is_empty(), "no table for nothing");
}

#[test]
fn compare_of_single_runs_says_the_threshold_alone_judged_and_refuses_foreign_files() {
    let doc = run_json(&[
        "bench", "--mech", "pipe", "--iters", "300", "--warmup", "20", "--format", "json",
    ]);
    let dir = common::private_dir();
    let one = dir.path().join("one.json");
    std::fs::write(&one, doc.to_string()).unwrap();
    let one = one.to_str().unwrap();
    let out = run(&["compare", one, one]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the threshold alone judged them"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, r#"{"results": []}"#).unwrap();
    let refused = run(&["compare", one, foreign.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("is not an ipc-profiler report"),
        "{}",
        stderr(&refused)
    );
    let missing = run(&["compare", one, "/nonexistent/run.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("could not read /nonexistent/run.json"));
    let bad_threshold = run(&["compare", one, one, "--threshold", "lots"]);
    assert_eq!(bad_threshold.status.code(), Some(2));
}

#[test]
fn recommend_ranks_what_it_measured_and_says_why_it_excluded_the_rest() {
    let doc = run_json(&[
        "recommend",
        "--mech",
        "pipe,shm-futex,shm-spin",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--format",
        "json",
    ]);
    let ranking = doc["ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 3, "{doc}");
    for entry in ranking {
        assert!(entry["reason"].as_str().unwrap().contains("p50"), "{entry}");
        assert!(entry["figures"]["p50_ns"].as_f64().unwrap() > 0.0);
    }
    assert!(ranking[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("the choice"));
    assert_eq!(doc["inputs"]["pattern"], "latency");
    assert_eq!(doc["inputs"]["message_size"], 128);
    assert!(doc["excluded"].as_array().unwrap().is_empty());
    // With two CPUs the run is cross-core and the leaders are measured again on one CPU; with
    // one, the run is same-core and there is no other placement to measure.
    let other = &doc["other_placement"];
    if cpus_here() >= 2 {
        assert!(
            other["placement"]
                .as_str()
                .unwrap()
                .starts_with("same-core"),
            "{other}"
        );
        assert_eq!(other["ranking"].as_array().unwrap().len(), 3);
    } else {
        assert!(other.is_null(), "one CPU has no other placement: {other}");
        assert!(doc["inputs"]["placement"]
            .as_str()
            .unwrap()
            .starts_with("same-core"));
    }
}

#[test]
fn recommend_from_a_report_applies_each_constraint_with_its_reason() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex,shm-spin,tcp",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--format",
        "json",
    ]);
    let dir = common::private_dir();
    let file = dir.path().join("run.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let excluded = |doc: &serde_json::Value, mechanism: &str| -> String {
        doc["excluded"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["mechanism"] == mechanism)
            .map(|e| e["reason"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let no_spin = run_json(&[
        "recommend",
        "--from",
        file,
        "--no-busy-poll",
        "--format",
        "json",
    ]);
    assert!(
        excluded(&no_spin, "shm-spin").contains("busy-poll"),
        "{no_spin}"
    );
    assert!(
        no_spin.get("other_placement").is_none(),
        "nothing is measured with --from"
    );
    let networked = run_json(&[
        "recommend",
        "--from",
        file,
        "--cross-host",
        "--format",
        "json",
    ]);
    let names: Vec<_> = networked["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mechanism"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tcp"]);
    assert!(excluded(&networked, "pipe").contains("cannot cross hosts"));
    let bounded = run_json(&[
        "recommend",
        "--from",
        file,
        "--p99",
        "1ns",
        "--format",
        "json",
    ]);
    assert!(bounded["ranking"].as_array().unwrap().is_empty());
    assert!(
        excluded(&bounded, "pipe").contains("over the bound of 1.00 ns"),
        "{bounded}"
    );
    let text = run(&["recommend", "--from", file, "--p99", "1ns"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("no mechanism qualifies"));

    let other_size = run(&["recommend", "--from", file, "--size", "4K"]);
    assert_eq!(other_size.status.code(), Some(1));
    assert!(
        stderr(&other_size).contains("has no latency run of 4 KiB"),
        "{}",
        stderr(&other_size)
    );
    let two_sizes = run(&["recommend", "--from", file, "--sizes", "128,4K"]);
    assert_eq!(two_sizes.status.code(), Some(2));
    let bad_bound = run(&["recommend", "--from", file, "--p99", "fast"]);
    assert_eq!(bad_bound.status.code(), Some(2));
}

#[test]
fn recommend_across_hosts_measures_only_what_can_cross_and_names_the_rest() {
    let out = run(&[
        "recommend",
        "--mech",
        "pipe,tcp,shm-spin",
        "--cross-host",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--placement",
        "unpinned",
        "--format",
        "json",
        "-v",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ranked: Vec<_> = doc["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mechanism"].as_str().unwrap())
        .collect();
    assert_eq!(ranked, ["tcp"]);
    for e in doc["excluded"].as_array().unwrap() {
        assert!(
            e["reason"].as_str().unwrap().contains("cannot cross hosts"),
            "{e}"
        );
    }
    // -v lists each run: only tcp was measured.
    let log = stderr(&out);
    assert!(
        log.contains("tcp latency") && !log.contains("pipe latency"),
        "{log}"
    );
}

/// Every command the tool has, as its top-level help lists them.
fn commands() -> Vec<String> {
    let help = run(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout).to_string();
    let listed = text
        .split("Commands:")
        .nth(1)
        .expect("the help lists its commands")
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let names: Vec<String> = listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 8, "too few commands in the help: {names:?}");
    names
}

#[test]
fn completion_scripts_cover_every_command_and_bash_parses_its_own() {
    let names = commands();
    for (shell, first_line, mech) in [
        ("bash", "complete -F _ipc__profiler", "--mech"),
        ("zsh", "#compdef ipc-profiler", "--mech"),
        ("fish", "# Print an optspec for argparse", "-l mech"),
    ] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(script.contains(first_line), "{shell}: {script:.300}");
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "{shell} completes no `{name}`"
            );
        }
        assert!(script.contains(mech), "{shell} completes no --mech");
    }
    let bash = run(&["completions", "bash"]);
    let mut check = std::process::Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("bash runs");
    use std::io::Write;
    check.stdin.take().unwrap().write_all(&bash.stdout).unwrap();
    assert!(
        check.wait().unwrap().success(),
        "bash -n refuses the script"
    );
    let refused = run(&["completions", "tcsh"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_manual_has_a_page_for_the_tool_and_one_per_command_with_its_options() {
    let names = commands();
    let tool = run(&["man"]);
    assert!(tool.status.success(), "{}", stderr(&tool));
    let page = String::from_utf8_lossy(&tool.stdout).to_string();
    assert!(page.contains(".TH ipc-profiler 1"), "{page:.300}");
    for name in &names {
        let roff_name = format!("ipc\\-profiler\\-{}(1)", name.replace('-', "\\-"));
        assert!(
            page.contains(&roff_name),
            "the tool's page lists no {roff_name}"
        );
        let out = run(&["man", name]);
        assert!(out.status.success(), "man {name}: {}", stderr(&out));
        let page = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            page.contains(&format!(".TH ipc-profiler-{name} 1")),
            "{name}: {page:.300}"
        );
    }
    let bench = String::from_utf8_lossy(&run(&["man", "bench"]).stdout).to_string();
    for option in [
        "\\-\\-mech",
        "\\-\\-pattern",
        "\\-\\-placement",
        "\\-\\-repeat",
    ] {
        assert!(bench.contains(option), "bench's page lacks {option}");
    }
    let unknown = run(&["man", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("the commands: bench, trace"));
}

#[test]
fn output_into_a_reader_that_stops_early_ends_quietly() {
    // `ipc-profiler list | head -1`, and the same for the long outputs of completions and man.
    for args in [&["list"][..], &["completions", "bash"], &["man", "bench"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ipc-profiler"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // The reader is gone before anything is written.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.is_empty(),
            "{args:?}: {:?}, {err}",
            out.status
        );
    }
}

#[test]
fn recommend_refuses_a_p99_bound_on_a_stream_and_says_what_loopback_leaves_out() {
    for pattern in ["throughput", "fan-in"] {
        let out = run(&[
            "recommend",
            "--pattern",
            pattern,
            "--p99",
            "50us",
            "--mech",
            "pipe",
        ]);
        assert_eq!(out.status.code(), Some(2), "{pattern}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("ranked by messages per second"),
            "{pattern}: {}",
            stderr(&out)
        );
    }
    let out = run(&[
        "recommend",
        "--cross-host",
        "--mech",
        "tcp,udp,pipe",
        "--iters",
        "200",
        "--warmup",
        "10",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Measured over loopback"), "{text}");
    assert!(text.contains("pipe: cannot cross hosts"), "{text}");
    if text.contains("use udp") {
        assert!(
            text.contains("no flow control and no delivery guarantee"),
            "{text}"
        );
    }
}

#[test]
fn an_unwritable_output_is_refused_before_measuring_and_an_interrupted_sweep_keeps_its_runs() {
    for args in [
        &["bench", "--mech", "all", "-o", "/nonexistent/dir/x.json"][..],
        &["trace", "-o", "/nonexistent/dir/x.json", "--", "true"],
        &["report", "-o", "/nonexistent/dir/report.html"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("there is no directory /nonexistent/dir"),
            "{args:?}"
        );
    }
    // Ctrl-C once a run has finished: the runs that finished are written, and the exit status
    // says a signal ended it.
    use std::io::{BufRead, BufReader};
    let dir = common::private_dir();
    let file = dir.path().join("partial.json");
    let mut child = common::profiler()
        .args([
            "bench",
            "--mech",
            "all",
            "--verbose",
            "--format",
            "json",
            "-o",
        ])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let finished = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains(" messages "));
    assert!(finished.is_some(), "no run finished");
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let said = rest.join("\n");
    assert!(
        said.contains("interrupted after") && said.contains("that finished are written to"),
        "{said}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert!(
        !results.is_empty() && results.len() < common::mechanism_count(),
        "{} results",
        results.len()
    );
    assert!(results.iter().all(|r| r["verified"] == true), "{doc}");
}

#[test]
fn an_empty_user_name_is_refused_by_what_it_is() {
    let out = run(&["trace", "--user", "", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--user needs a user name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn one_client_is_one_client() {
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe",
        "--pattern",
        "request-response",
        "--clients",
        "1",
        "--iters",
        "200",
        "--warmup",
        "10",
        "--format",
        "json",
    ]);
    let placement = doc["results"][0]["placement"].as_str().unwrap();
    assert!(placement.ends_with(", 1 client"), "{placement}");
}

#[test]
fn a_run_that_would_take_hours_is_refused_before_it_starts() {
    let out = run(&["bench", "--mech", "uds", "--sizes", "64M"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("would move about") && said.contains("give --iters"),
        "{said}"
    );
}

#[test]
fn clean_leaves_alone_the_records_of_a_run_directory_that_is_not_private() {
    use std::os::unix::fs::PermissionsExt;
    // A run directory others may enter (or one planted by another user): its records could be
    // anyone's, so clean says so and removes nothing on their word.
    let dir = common::private_dir();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    std::fs::set_permissions(&runs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let record = runs.join("1-1.json");
    std::fs::write(
        &record,
        r#"{"pid": 1, "start_time": 1, "boot_id": "x", "objects": [{"kind": "sysv-queue", "id": 0, "cuid": 0, "ctime": 0}]}"#,
    )
    .unwrap();
    let out = common::profiler()
        .arg("clean")
        .env("IPC_PROFILER_RUN_DIR", &runs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("not a private directory") && text.contains("its records left alone"),
        "{text}"
    );
    assert!(
        record.exists(),
        "a record from a shared directory was acted on"
    );
}
