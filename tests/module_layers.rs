//! The profiler's top-level modules form layers, with no import circle: the result model at
//! the bottom, `bench/`, `trace/` and `mechanism/` producing it, `render/` rendering it,
//! `commands/` at the top running each command. This reads every `crate::` path in
//! `ipc-profiler/src` and fails when a layer is crossed upwards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module -> the top-level modules it names through `crate::`.
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let used = edges.entry(module.clone()).or_default();
        for target in crate_paths(&text) {
            if target != module {
                used.insert(target);
            }
        }
    }
    edges
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The first segment after every `crate::`, including those inside `use crate::{a, b::c}`.
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with('$') {
            continue; // `$crate::` in a macro is this crate's own path, written out below it
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

#[test]
fn finds_crate_paths_in_every_form() {
    let text =
        "use crate::a::B;\nuse crate::{c, d::E};\n// crate::commented\nlet x = crate::f::g();";
    assert_eq!(crate_paths(text), ["a", "c", "d", "f"]);
}

#[test]
fn the_result_model_and_the_configuration_sit_at_the_bottom() {
    let edges = edges();
    assert!(
        edges["result"].is_empty(),
        "result imports {:?}",
        edges["result"]
    );
    let config: Vec<_> = edges["config"].iter().filter(|m| *m != "result").collect();
    assert!(config.is_empty(), "config imports {config:?}");
}

#[test]
fn render_only_renders_the_model() {
    let edges = edges();
    let allowed = ["result", "units"];
    let extra: Vec<_> = edges["render"]
        .iter()
        .filter(|m| !allowed.contains(&m.as_str()))
        .collect();
    assert!(extra.is_empty(), "render imports {extra:?}");
    for producer in ["bench", "trace", "mechanism"] {
        assert!(
            !edges[producer].contains("render"),
            "{producer} imports render"
        );
    }
}

#[test]
fn commands_sit_at_the_top_and_the_command_line_only_defines_them() {
    let edges = edges();
    for (module, used) in &edges {
        assert!(
            !used.contains("commands"),
            "{module} imports commands (only main runs them)"
        );
    }
    let lower_modules = [
        "bench",
        "trace",
        "mechanism",
        "render",
        "report",
        "result",
        "config",
        "recommend",
    ];
    for lower in lower_modules {
        assert!(
            !edges[lower].contains("cli"),
            "{lower} imports cli: the command line is known to commands/ alone"
        );
    }
}

#[test]
fn no_import_circle_among_top_level_modules() {
    let edges = edges();
    // Depth-first search for a back edge; the path to it is the circle.
    fn visit(
        module: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(start) = path.iter().position(|m| m == module) {
            panic!("import circle: {} -> {module}", path[start..].join(" -> "));
        }
        if done.contains(module) {
            return;
        }
        path.push(module.to_string());
        for next in edges.get(module).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(module.to_string());
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done);
    }
}
