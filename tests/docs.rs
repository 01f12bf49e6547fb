//! The documents tell the truth about the repository: every file they cite exists, every
//! `cargo run` they show names a package and binary that exist, and the cheap documented
//! commands run as written, and the defaults docs/design.md states are the ones `--help` shows.
//! (Every documented `ipc-profiler` command is parsed by a unit test in the profiler's `cli/`.)

mod common;
#[path = "common/doc_commands.rs"]
mod doc_commands;

use std::path::{Path, PathBuf};

use doc_commands::{command_lines, documents, repository};

/// Paths a text cites: markdown link targets, and code spans that look like a repository path
/// (a `/` and a file extension, or a directory ending in `/`).
fn cited_paths(text: &str) -> Vec<String> {
    let mut cited = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        if i % 2 == 1 && looks_like_a_path(span) {
            cited.push(span.to_string());
        }
    }
    for part in text.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or_default();
        if !target.contains("://") && !target.starts_with('#') {
            cited.push(target.split('#').next().unwrap().to_string());
        }
    }
    cited
}

fn looks_like_a_path(span: &str) -> bool {
    let known = [".rs", ".md", ".toml", ".o", ".sh", ".json"];
    // A placeholder such as `mechanism/NAME.rs` stands for a file to write.
    let placeholder = span.split('/').any(|part| {
        let stem = part.split('.').next().unwrap_or_default();
        stem.len() > 1 && stem.chars().all(|c| c.is_ascii_uppercase())
    });
    !placeholder
        && !span.contains(' ')
        && !span.starts_with('/')
        && !span.starts_with("..")
        && span.contains('/')
        && (known.iter().any(|e| span.ends_with(e)) || span.ends_with('/'))
}

/// Where a cited path may be relative to: the citing file's folder, the repository, or a crate.
fn resolves(cited: &str, citing: &Path) -> bool {
    let root = repository();
    let mut bases: Vec<PathBuf> = vec![citing.parent().unwrap().to_path_buf(), root.clone()];
    for krate in [
        "ipc-core",
        "ipc-ebpf",
        "ipc-profiler",
        "xtask",
        "benchmarks",
    ] {
        bases.push(root.join(krate));
    }
    // `ipc-profiler/src/trace/` and `trace/` (inside the profiler's sources) alike.
    bases.push(root.join("ipc-profiler/src"));
    bases.iter().any(|base| base.join(cited).exists())
}

#[test]
fn every_file_the_documents_cite_exists() {
    let mut missing = Vec::new();
    for (path, text) in documents() {
        for cited in cited_paths(&text) {
            if !resolves(&cited, &path) {
                missing.push(format!("{}: {cited}", path.display()));
            }
        }
    }
    assert!(missing.is_empty(), "cited but missing: {missing:#?}");
}

#[test]
fn every_document_the_code_cites_exists() {
    let root = repository();
    let mut missing = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for word in text.split(|c: char| c.is_whitespace() || "`(),;:'\"".contains(c)) {
                let word = word.trim_end_matches('.');
                let a_path = word.len() > 3
                    && !word.contains("//")
                    && word
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c));
                if a_path
                    && word.ends_with(".md")
                    && !root.join(word).exists()
                    && !root.join("docs").join(word).exists()
                {
                    missing.push(format!("{}: {word}", path.display()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "cited but missing: {missing:#?}");
}

#[test]
fn finds_paths_in_links_and_code_spans() {
    let text = "see [design](design.md#flow), `ipc-profiler/src/result/` and `a b/c.rs`, \
                [web](https://example.invalid/x.md)";
    assert_eq!(cited_paths(text), ["ipc-profiler/src/result/", "design.md"]);
}

#[test]
fn every_cargo_run_names_what_exists() {
    let root = repository();
    let mut checked = 0;
    for (document, line) in command_lines() {
        let Some(rest) = line.strip_prefix("cargo run") else {
            continue;
        };
        let words: Vec<&str> = rest
            .split(" -- ")
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let after = |flag: &str| {
            words
                .iter()
                .position(|w| *w == flag)
                .map(|i| words[i + 1].to_string())
        };
        let package = after("-p").expect("a documented cargo run names its package");
        let dir = match package.as_str() {
            "ipc-core-benchmarks" => root.join("benchmarks"),
            other => root.join(other),
        };
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap_or_else(|_| panic!("{document}: no package {package}"));
        if let Some(bin) = after("--bin") {
            assert!(
                dir.join(format!("src/bin/{bin}.rs")).exists(),
                "{document}: {package} has no binary {bin}"
            );
        } else if let Some(example) = after("--example") {
            assert!(
                dir.join(format!("examples/{example}.rs")).exists(),
                "{document}: {package} has no example {example}"
            );
        } else {
            // Without --bin, cargo needs one binary or a default-run.
            let binaries = dir.join("src/bin").read_dir().map_or(0, |d| d.count());
            assert!(
                binaries == 0 || manifest.contains("default-run"),
                "{document}: `{line}` cannot tell which of {package}'s binaries to run"
            );
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} cargo run commands found");
}

#[test]
fn the_cheap_documented_commands_run_as_written() {
    // `ipc-profiler list` (README) needs no privilege and no time.
    let listed = command_lines()
        .iter()
        .any(|(_, line)| line == "ipc-profiler list");
    assert!(listed, "the README no longer shows `ipc-profiler list`");
    let output = common::run(&["list"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    for name in ["pipe", "uds", "shm-spin", "mmap", "cacheline"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{text}");
    }
}

/// The rows of docs/design.md's "Defaults" table: (command, option, default).
fn documented_defaults() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(repository().join("docs/design.md")).unwrap();
    let section = text
        .split("## Defaults")
        .nth(1)
        .expect("docs/design.md has a Defaults section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains('`'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].to_string(),
                cells[1].trim_matches('`').to_string(),
                cells[2].to_string(),
            )
        })
        .collect()
}

#[test]
fn the_documented_defaults_are_the_ones_help_shows() {
    let defaults = documented_defaults();
    assert!(defaults.len() >= 10, "the table was not read: {defaults:?}");
    for (command, option, default) in defaults {
        let help = common::profiler()
            .args([command.as_str(), "--help"])
            .output()
            .expect("the binary runs");
        let help = String::from_utf8(help.stdout).unwrap();
        // The option's entry: from its line (an option line is indented at most 6 spaces and
        // starts with `-`) to the next option's.
        let mut entries: Vec<String> = Vec::new();
        for line in help.lines() {
            let indent = line.len() - line.trim_start().len();
            if indent <= 6 && line.trim_start().starts_with('-') {
                entries.push(String::new());
            }
            if let Some(entry) = entries.last_mut() {
                entry.push_str(line);
                entry.push('\n');
            }
        }
        let entry = entries
            .iter()
            .find(|entry| {
                let head = entry.lines().next().unwrap_or_default();
                head.split([' ', ',', '=']).any(|word| word == option)
            })
            .unwrap_or_else(|| panic!("`{command} --help` has no {option}:\n{help}"));
        assert!(
            entry.contains(&format!("[default: {default}]")),
            "docs/design.md says `{command} {option}` defaults to {default}; --help says:\n{entry}"
        );
    }
}

/// The figures the documents tag as one fact quoted in several places: every
/// `<!-- figure NAME -->VALUE`, as (document, name, value); the value is the number after the
/// tag, with its unit when one follows (`7.5 s`, `0.27x`, `17–30 s`).
fn tagged_figures(documents: &[(PathBuf, String)]) -> Vec<(String, String, String)> {
    const TAG: &str = "<!-- figure ";
    let mut figures = Vec::new();
    for (path, text) in documents {
        let mut rest = text.as_str();
        while let Some(at) = rest.find(TAG) {
            let after = &rest[at + TAG.len()..];
            let Some(close) = after.find("-->") else {
                panic!("{}: a figure tag is not closed", path.display());
            };
            let name = after[..close].trim().to_string();
            let value_and_rest = &after[close + 3..];
            let value = figure_value(value_and_rest);
            assert!(
                !name.is_empty() && !value.is_empty(),
                "{}: a figure tag without a name or a value",
                path.display()
            );
            figures.push((path.display().to_string(), name, value));
            rest = value_and_rest;
        }
    }
    figures
}

/// The figure at the start of `text`: its first word, and the next when that is a unit.
fn figure_value(text: &str) -> String {
    const UNITS: [&str; 12] = [
        "s", "ms", "µs", "ns", "min", "minutes", "seconds", "%", "B", "KiB", "MiB", "GiB",
    ];
    let trim = |word: &str| {
        word.trim_end_matches([',', ';', ':', ')', '|', '.'])
            .to_string()
    };
    let mut words = text.split_whitespace();
    let number = words.next().map(trim).unwrap_or_default();
    match words.next().map(trim) {
        Some(unit) if UNITS.contains(&unit.as_str()) => format!("{number} {unit}"),
        _ => number,
    }
}

/// Different values of the figure `name` among `figures`, if it is quoted with more than one.
fn disagreements(figures: &[(String, String, String)]) -> Vec<String> {
    let mut names: Vec<&str> = figures.iter().map(|(_, name, _)| name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut found = Vec::new();
    for name in names {
        let quotes: Vec<_> = figures.iter().filter(|(_, n, _)| n == name).collect();
        if quotes.iter().any(|(_, _, value)| *value != quotes[0].2) {
            let listed: Vec<String> = quotes
                .iter()
                .map(|(doc, _, value)| format!("{doc}: {value}"))
                .collect();
            found.push(format!("{name} is quoted as {}", listed.join(" / ")));
        }
    }
    found
}

/// A figure quoted in two documents (the time a command takes, say) says the same in both:
/// each quote is tagged `<!-- figure NAME -->` before its value, and the tags of one name must
/// carry one value. The report's times, quoted in the README and measured in docs/report.md,
/// must be among them.
#[test]
fn a_figure_quoted_in_two_documents_has_one_value() {
    let documents = documents();
    let figures = tagged_figures(&documents);
    for name in ["report-quick-time", "report-root-time"] {
        let quoted_in: Vec<&str> = figures
            .iter()
            .filter(|(_, n, _)| n == name)
            .map(|(doc, _, _)| doc.as_str())
            .collect();
        assert!(
            quoted_in.iter().any(|doc| doc.ends_with("README.md"))
                && quoted_in.iter().any(|doc| doc.ends_with("docs/report.md")),
            "the figure {name} should be tagged in the README and in docs/report.md: {quoted_in:?}"
        );
    }
    let wrong = disagreements(&figures);
    assert!(wrong.is_empty(), "one figure, several values: {wrong:#?}");
}

#[test]
fn a_figure_with_two_values_is_found() {
    let documents = vec![
        (
            PathBuf::from("README.md"),
            "takes <!-- figure t -->7.5 s as root; or <!-- figure v -->0.27x, and".to_string(),
        ),
        (
            PathBuf::from("docs/report.md"),
            "| <!-- figure t -->7.2 s | <!-- figure u -->3 s |".to_string(),
        ),
    ];
    let figures = tagged_figures(&documents);
    assert_eq!(
        figures.iter().map(|f| f.2.as_str()).collect::<Vec<_>>(),
        ["7.5 s", "0.27x", "7.2 s", "3 s"]
    );
    let wrong = disagreements(&figures);
    assert_eq!(
        wrong,
        ["t is quoted as README.md: 7.5 s / docs/report.md: 7.2 s"]
    );
}
