//! `report`: the Markdown's tables carry the JSON's numbers, the HTML page is self-contained
//! with its charts, and bad input is a clear error.

mod common;

use common::{run, run_json, stderr};

/// Writes `docs` (bench reports) into `dir`, renders them with `report --from` into `name`
/// and returns the rendered text.
fn report_from(dir: &std::path::Path, docs: &[&serde_json::Value], name: &str) -> String {
    let mut args = vec!["report".to_string(), "--from".to_string()];
    for (i, doc) in docs.iter().enumerate() {
        let path = dir.join(format!("run{i}.json"));
        std::fs::write(&path, doc.to_string()).unwrap();
        args.push(path.display().to_string());
    }
    let out_path = dir.join(name);
    args.extend(["-o".to_string(), out_path.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read_to_string(out_path).unwrap()
}

/// Nanoseconds from a cell such as `812 ns`, `22.4 µs`, `1.05 ms`.
fn nanos(cell: &str) -> f64 {
    let (number, unit) = cell.trim().split_once(' ').expect("a number and a unit");
    let scale = match unit {
        "ns" => 1.0,
        "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        other => panic!("unit {other}"),
    };
    number.parse::<f64>().unwrap() * scale
}

/// Bytes per second from `1.32 GB/s` or `667 MB/s`.
fn rate(cell: &str) -> f64 {
    let (number, unit) = cell.trim().split_once(' ').expect("a number and a unit");
    let scale = match unit {
        "GB/s" => 1e9,
        "MB/s" => 1e6,
        other => panic!("unit {other}"),
    };
    number.parse::<f64>().unwrap() * scale
}

/// The rows of the Markdown table under the heading that starts with `title`: header, then
/// cells, the separator row checked and left out.
fn table(markdown: &str, title: &str) -> Vec<Vec<String>> {
    let start = markdown
        .find(&format!("## {title}"))
        .unwrap_or_else(|| panic!("no table {title}"));
    let lines: Vec<&str> = markdown[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(lines.len() >= 3, "{title}: a header, a separator and rows");
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = cells(lines[0]);
    assert!(
        lines[1].chars().all(|c| c == '|' || c == '-'),
        "{title}: separator {}",
        lines[1]
    );
    let mut rows = vec![header.clone()];
    for line in &lines[2..] {
        let row = cells(line);
        assert_eq!(row.len(), header.len(), "{title}: {line}");
        rows.push(row);
    }
    rows
}

#[test]
fn the_markdown_tables_carry_the_numbers_of_the_json_they_come_from() {
    let dir = common::private_dir();
    let latency = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex,posix-mq",
        "--iters",
        "500",
        "--warmup",
        "50",
        "--format",
        "json",
    ]);
    let streams = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex",
        "--pattern",
        "throughput",
        "--sizes",
        "64,4K",
        "--iters",
        "500",
        "--warmup",
        "50",
        "--format",
        "json",
    ]);
    let markdown = report_from(dir.path(), &[&latency, &streams], "report.md");
    assert!(markdown.contains("AMD") || markdown.contains("Intel") || markdown.contains("CPUs"));

    let rows = table(&markdown, "Latency");
    assert_eq!(rows.len(), 4, "three mechanisms");
    let (p50, p99) = (
        rows[0].iter().position(|h| h == "p50").unwrap(),
        rows[0].iter().position(|h| h == "p99").unwrap(),
    );
    for result in latency["results"].as_array().unwrap() {
        let name = result["mechanism"].as_str().unwrap();
        let row = rows.iter().find(|r| r[0] == name).unwrap();
        for (column, key) in [(p50, "p50"), (p99, "p99")] {
            let json = result["latency_ns"][key].as_f64().unwrap();
            let shown = nanos(&row[column]);
            assert!(
                (shown - json).abs() <= json * 0.006 + 0.5,
                "{name} {key}: table {shown}, JSON {json}"
            );
        }
    }
    let pipe = rows.iter().find(|r| r[0] == "pipe").unwrap();
    assert!(
        pipe.iter().any(|c| c.contains("Anonymous Pipe")),
        "the claim beside it: {pipe:?}"
    );

    let rows = table(&markdown, "Throughput");
    assert_eq!(rows[0][1..3], ["64 B", "4 KiB"]);
    for result in streams["results"].as_array().unwrap() {
        let name = result["mechanism"].as_str().unwrap();
        let column = match result["message_size"].as_u64().unwrap() {
            64 => 1,
            _ => 2,
        };
        let row = rows.iter().find(|r| r[0] == name).unwrap();
        let json = result["throughput"]["bytes_per_sec"].as_f64().unwrap();
        let shown = rate(&row[column]);
        assert!(
            (shown - json).abs() <= json * 0.006 + 0.5e6,
            "{name}: table {shown}, JSON {json}"
        );
    }
    assert!(markdown.contains("## The comparison document's rows and our mechanisms"));
    assert!(markdown.contains("## Features"));

    // The decision table applies recommend's rules to these runs: the lowest p50 wins.
    let fastest = latency["results"]
        .as_array()
        .unwrap()
        .iter()
        .min_by_key(|r| r["latency_ns"]["p50"].as_u64().unwrap())
        .unwrap()["mechanism"]
        .as_str()
        .unwrap();
    let rows = table(&markdown, "Which to use");
    let lowest = rows
        .iter()
        .find(|r| r[0].starts_with("lowest latency ("))
        .unwrap();
    assert_eq!(lowest[1], fastest, "{lowest:?}");
    assert!(
        lowest[2].starts_with("p50 "),
        "the deciding figure: {lowest:?}"
    );
    let bulk = rows
        .iter()
        .find(|r| r[0].starts_with("bulk transfer"))
        .unwrap();
    assert_eq!(bulk[0], "bulk transfer (throughput, 4 KiB)");
}

#[test]
fn the_html_page_is_one_file_with_its_charts_and_no_network() {
    let dir = common::private_dir();
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex",
        "--pattern",
        "throughput",
        "--sizes",
        "64,4K",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--format",
        "json",
    ]);
    let latency = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex",
        "--iters",
        "300",
        "--warmup",
        "20",
        "--format",
        "json",
    ]);
    let html = report_from(dir.path(), &[&doc, &latency], "report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "latency, throughput and CPU per GiB charts"
    );
    for outside in ["<script src", "<link", "@import", "url(http"] {
        assert!(!html.contains(outside), "fetches {outside}");
    }
    assert!(html.contains("name=\"viewport\""), "readable on a phone");
}

#[test]
fn bad_input_to_report_is_a_clear_error() {
    let dir = common::private_dir();
    let out = dir.path().join("out.markdown");
    let out = out.to_str().unwrap();
    let missing = run(&["report", "--from", "/nonexistent/run.json", "-o", out]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("could not read /nonexistent/run.json"));
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, "[1, 2, 3]").unwrap();
    let refused = run(&["report", "--from", foreign.to_str().unwrap(), "-o", out]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("is not an ipc-profiler report"));
    let garbled = dir.path().join("garbled.json");
    std::fs::write(&garbled, "{ not json").unwrap();
    let refused = run(&["report", "--from", garbled.to_str().unwrap(), "-o", out]);
    assert!(stderr(&refused).contains("is not JSON"));
    let unknown = run(&[
        "report",
        "--from",
        foreign.to_str().unwrap(),
        "-o",
        "/tmp/r.pdf",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("say which format"));
    let bad_format = run(&["report", "--quick", "--format", "pdf", "-o", out]);
    assert_eq!(bad_format.status.code(), Some(2));
    assert!(
        !std::path::Path::new(out).exists(),
        "nothing written on an error"
    );
}

/// The `cx` of each `<circle … r="5" … fill="COLOUR">` in the page, in drawing order.
fn circles(html: &str, colour: &str) -> Vec<f64> {
    html.split("<circle ")
        .skip(1)
        .filter(|c| c.contains("r=\"5\"") && c.contains(&format!("fill=\"{colour}\"")))
        .map(|c| {
            let at = c.find("cx=\"").unwrap() + 4;
            c[at..].split('"').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
fn chromium_draws_the_page_without_errors_and_the_marks_sit_where_the_json_puts_them() {
    let dir = common::private_dir();
    let doc = run_json(&[
        "bench",
        "--mech",
        "pipe,shm-futex,uds,shm-spin",
        "--iters",
        "500",
        "--warmup",
        "50",
        "--format",
        "json",
    ]);
    let json = dir.path().join("run.json");
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
    let url = format!("file://{}", page.display());
    let chromium = |args: &[&str]| {
        std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
            ])
            .args(args)
            .arg(&url)
            .output()
            .expect("chromium (Debian's package; `cargo xtask setup` installs it)")
    };
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let shot = chromium(&[
        &format!("--screenshot={}", screenshot.display()),
        "--window-size=1000,2000",
    ]);
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 20_000,
        "a screenshot with content"
    );
    let dom = chromium(&["--dump-dom"]);
    let log = String::from_utf8_lossy(&dom.stderr);
    for line in log.lines().filter(|l| l.contains("CONSOLE")) {
        assert!(
            !line.contains("ERROR") && !line.contains("Uncaught"),
            "console: {line}"
        );
    }
    let drawn = String::from_utf8_lossy(&dom.stdout).to_string();
    assert!(
        drawn.contains("<figure class=\"chart\">"),
        "the chart is in the rendered DOM"
    );

    // The latency chart: one row per mechanism, fastest p50 first, its p50 and p99 marks on a
    // logarithmic axis. Fit the axis on the fastest and slowest p50, then every other mark must
    // sit where its value says, to the pixel.
    let mut rows: Vec<(f64, f64)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let l = &r["latency_ns"];
            (l["p50"].as_f64().unwrap(), l["p99"].as_f64().unwrap())
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let p50_x = circles(&drawn, "#1F77B4");
    let p99_x = circles(&drawn, "#2CA02C");
    assert!(
        p50_x.len() >= rows.len() && p99_x.len() >= rows.len(),
        "a mark per mechanism"
    );
    let (first, last) = (rows[0].0.ln(), rows[rows.len() - 1].0.ln());
    let scale = (p50_x[rows.len() - 1] - p50_x[0]) / (last - first);
    assert!(scale > 0.0, "slower is further right");
    let x_of = |value: f64| p50_x[0] + (value.ln() - first) * scale;
    for (i, (p50, p99)) in rows.iter().enumerate() {
        assert!(
            (p50_x[i] - x_of(*p50)).abs() <= 1.5,
            "row {i}: p50 {p50} drawn at {}",
            p50_x[i]
        );
        assert!(
            (p99_x[i] - x_of(*p99)).abs() <= 1.5,
            "row {i}: p99 {p99} drawn at {}",
            p99_x[i]
        );
    }
}

#[test]
fn several_inputs_are_one_machines_suite_and_files_from_two_machines_are_refused() {
    let doc = run_json(&[
        "bench", "--mech", "pipe,uds", "--iters", "300", "--warmup", "20", "--repeat", "3",
        "--format", "json",
    ]);
    let dir = common::private_dir();
    let here = dir.path().join("here.json");
    std::fs::write(&here, doc.to_string()).unwrap();
    let mut elsewhere = doc.clone();
    elsewhere["environment"]["cpu_model"] = "Some Other CPU".into();
    let there = dir.path().join("there.json");
    std::fs::write(&there, elsewhere.to_string()).unwrap();
    let page = dir.path().join("page");
    let out = common::run(&[
        "report",
        "--from",
        here.to_str().unwrap(),
        there.to_str().unwrap(),
        "--format",
        "markdown",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("measured on different machines"),
        "{}",
        common::stderr(&out)
    );
    // One machine's repeats: the page says how they stand, and shows pipe's median run.
    let out = common::run(&[
        "report",
        "--from",
        here.to_str().unwrap(),
        "--format",
        "markdown",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains("its median run stands for it"), "{text}");
    let mut p50s: Vec<u64> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mechanism"] == "pipe")
        .map(|r| r["latency_ns"]["p50"].as_u64().unwrap())
        .collect();
    p50s.sort();
    let median = ipc_profiler_duration(p50s[1]);
    let pipe_row = text
        .lines()
        .find(|l| l.starts_with("| pipe |"))
        .unwrap_or_else(|| panic!("no pipe row: {text}"));
    assert!(
        pipe_row.contains(&median),
        "median {median} not in {pipe_row}"
    );
}

/// A duration as the report writes it (three significant digits).
fn ipc_profiler_duration(ns: u64) -> String {
    let ns = ns as f64;
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else {
        (ns / 1e6, "ms")
    };
    let text = if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    format!("{text} {unit}")
}
