//! Dependencies between a crate's top-level modules point one way, and so do those between the
//! files of each module: no cycles, in any of the workspace's crates; goose is imported by the
//! engine alone.
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

/// The module directly under `dir` that a file belongs to: a file's own stem, or the
/// subdirectory it is in (`None` for lib.rs, main.rs and `dir`'s own mod.rs).
fn child_module(dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(dir).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (!["lib", "main", "mod"].contains(&name.as_str()) || rel.components().count() > 1)
        .then_some(name)
}

/// The names a path prefix reaches in `text`: `prefix::a` gives `a`, `prefix::{a, b::c}`
/// gives `a` and `b`.
fn names_after(text: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (i, _) in text.match_indices(prefix) {
        // `crate::a` inside `other_crate::a`, or `super::a` inside `super::super::a`.
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &text[i + prefix.len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                names.extend(group.split(',').map(ident));
            }
            None => names.push(ident(rest)),
        }
    }
    names
}

/// The modules directly under `dir` (module path `path`, `""` for the crate root), each with
/// the sibling modules it names: as `crate::<path>::<module>`, or as `super::<module>` from a
/// file directly in `dir`. For the crate root these are the top-level modules; for
/// `src/users` the files of `users`, so two files that import each other form a cycle.
fn graph_in(dir: &Path, path: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let absolute = if path.is_empty() {
        "crate::".to_string()
    } else {
        format!("crate::{path}::")
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(from) = child_module(dir, &file) else {
            continue;
        };
        let directly_in = file.parent() == Some(dir);
        let text = code(&file);
        let mut names = names_after(&text, &absolute);
        if directly_in {
            names.extend(names_after(&text, "super::"));
        }
        let deps = graph.entry(from.clone()).or_default();
        for name in names {
            let is_module =
                dir.join(format!("{name}.rs")).exists() || dir.join(&name).join("mod.rs").exists();
            if is_module && name != from {
                deps.insert(name);
            }
        }
    }
    graph
}

/// Module → modules it names, for the crate's top-level modules.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    graph_in(src, "")
}

/// Every directory of modules under `src` with its module path.
fn module_dirs(src: &Path) -> Vec<(PathBuf, String)> {
    let mut dirs = vec![(src.to_path_buf(), String::new())];
    let mut i = 0;
    while i < dirs.len() {
        let (dir, path) = dirs[i].clone();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let sub = entry.unwrap().path();
            if sub.is_dir() {
                let name = sub.file_name().unwrap().to_string_lossy().to_string();
                let sub_path = if path.is_empty() {
                    name
                } else {
                    format!("{path}::{name}")
                };
                dirs.push((sub, sub_path));
            }
        }
        i += 1;
    }
    dirs
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
fn no_two_files_of_a_module_import_each_other() {
    let mut checked = 0;
    for krate in ["loadtests", "reports", "target-server"] {
        let src = workspace().join(krate).join("src");
        for (dir, path) in module_dirs(&src).into_iter().skip(1) {
            let g = graph_in(&dir, &path);
            if let Some(c) = cycle(&g) {
                panic!(
                    "{krate}: cycle between the files of `{path}`: {}",
                    c.join(" -> ")
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 5, "read only {checked} module directories");
}

#[test]
fn the_graph_reads_grouped_and_absolute_imports() {
    let text = "use super::{declared::X, file};\nuse crate::users::class::Y;\nother_crate::z;";
    assert_eq!(names_after(text, "super::"), ["declared", "file"]);
    assert_eq!(names_after(text, "crate::users::"), ["class"]);
    assert_eq!(names_after(text, "crate::"), ["users"]);
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
