//! The commands the README and docs/ show, as they are written there: shared by the test that
//! parses every documented `ipc-profiler` command and the one that runs the cheap ones.

#![allow(dead_code)] // each user takes the helpers it needs

use std::path::{Path, PathBuf};

/// The repository's root (this file is compiled from `ipc-profiler`'s tests and unit tests).
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// README.md and every document under docs/, with their text.
pub fn documents() -> Vec<(PathBuf, String)> {
    let root = repository();
    let mut paths = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// Every command line of the documents: each line of a code block (less a `$ ` prompt and a
/// trailing `# comment`) and each inline code span.
pub fn command_lines() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, text) in documents() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut in_block = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            if in_block {
                let line = line.trim().trim_start_matches("$ ");
                let line = line.split("  #").next().unwrap().trim();
                found.push((name.clone(), line.to_string()));
            } else {
                for (i, span) in line.split('`').enumerate() {
                    if i % 2 == 1 {
                        found.push((name.clone(), span.to_string()));
                    }
                }
            }
        }
    }
    found
}

/// The arguments of every documented `ipc-profiler` command that has no placeholder in it
/// (`PID`, `CMD`, `[--duration S]`, …): (document, arguments after the program name).
pub fn profiler_commands() -> Vec<(String, Vec<String>)> {
    let mut commands = Vec::new();
    for (document, line) in command_lines() {
        let line = line.trim_start_matches("sudo ");
        let args = if let Some(rest) = line.strip_prefix("ipc-profiler ") {
            rest
        } else if let Some((cargo, rest)) = line.split_once(" -- ") {
            if !cargo.starts_with("cargo run") || !cargo.contains("-p ipc-profiler") {
                continue;
            }
            rest
        } else {
            continue;
        };
        // What the shell does with the output (`> file`, `| pager`) is not the tool's.
        let args = args.split(['>', '|']).next().unwrap_or_default();
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        let placeholder = args.iter().any(|a| {
            a.contains('[')
                || a.contains('…')
                || (a.len() > 1 && a.chars().all(|c| c.is_ascii_uppercase()))
        });
        if !placeholder {
            commands.push((document, args));
        }
    }
    commands
}
