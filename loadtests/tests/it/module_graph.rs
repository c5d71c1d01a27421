//! Dependencies between a crate's top-level modules point one way: no module cycles, in any
//! of the workspace's crates, and goose is imported by the engine alone.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Code of a file without its tests and comments (doc links are not dependencies).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or("");
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to (`None` for lib.rs/main.rs).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Module → modules it names as `crate::<module>` (or `super::<module>` from the top level).
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(from) = top_module(src, &file) else {
            continue;
        };
        let top_level = file.parent() == Some(src);
        let text = code(&file);
        let mut names = Vec::new();
        for (prefix, applies) in [("crate::", true), ("super::", top_level)] {
            if !applies {
                continue;
            }
            for (i, _) in text.match_indices(prefix) {
                let rest = &text[i + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
        let deps = graph.entry(from.clone()).or_default();
        for name in names {
            let is_module =
                src.join(format!("{name}.rs")).exists() || src.join(&name).join("mod.rs").exists();
            if is_module && name != from {
                deps.insert(name);
            }
        }
    }
    graph
}

fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut c = path[i..].to_vec();
            c.push(node.to_string());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn no_crate_has_a_module_cycle() {
    for krate in ["loadtests", "reports", "target-server"] {
        let src = workspace().join(krate).join("src");
        let g = graph(&src);
        assert!(g.len() > 3, "{krate}: read only {g:?}");
        if let Some(c) = cycle(&g) {
            panic!("{krate}: module cycle {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g).map(|c| c.len()), Some(4));
}

#[test]
fn only_the_engine_imports_goose() {
    let src = workspace().join("loadtests").join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let in_engine = file.starts_with(src.join("engine"));
        if !in_engine {
            assert!(
                !code(&file).contains("goose::"),
                "{} uses goose outside the engine",
                file.display()
            );
        }
    }
}
