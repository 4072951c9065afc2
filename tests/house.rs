//! The house rules, checked: inside every crate of the workspace, imports
//! between modules point one way (no circle), and no Rust source file is
//! longer than 600 lines. A module's edges are the `crate::` and `super::`
//! paths its file names; a parent's declarations and re-exports of its own
//! children (`mod x; pub use x::Y;`) are not edges, and a path through the
//! crate root's re-exports resolves to the module that defines the item.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

/// Every workspace member's `src` directory (and the root package's).
fn crate_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![root.join("src")];
    for entry in fs::read_dir(root).unwrap() {
        let dir = entry.unwrap().path();
        if dir.join("Cargo.toml").is_file() && dir.join("src").is_dir() {
            out.push(dir.join("src"));
        }
    }
    out.sort();
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src` (`format/entry.rs` ->
/// `format::entry`, `format/mod.rs` -> `format`, `lib.rs` -> ``).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    if rel.starts_with("bin") {
        return None; // each binary is a crate of its own
    }
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    Some(parts.join("::"))
}

/// The paths a file names, as module-path segments after `crate::` or
/// resolved from `super::`, with the item names of braced groups.
fn paths_in(text: &str, module: &str, is_mod_file: bool) -> Vec<Vec<String>> {
    let mut out = vec![];
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    for (start, _) in code.match_indices(['c', 's']) {
        let rest = &code[start..];
        let (base, after) = if let Some(a) = rest.strip_prefix("crate::") {
            (vec![], a)
        } else if let Some(mut a) = rest.strip_prefix("super::") {
            // `super` of a `mod.rs` file is its parent; of a leaf file, the
            // folder module it sits in.
            let mut base: Vec<String> = module
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let _ = is_mod_file;
            base.pop();
            while let Some(b) = a.strip_prefix("super::") {
                base.pop();
                a = b;
            }
            (base, a)
        } else {
            continue;
        };
        if start > 0 && code[..start].ends_with(ident) {
            continue;
        }
        // Segments up to a brace, a space or punctuation.
        let mut segs = base;
        let mut s = after;
        loop {
            let end = s.find(|c: char| !ident(c)).unwrap_or(s.len());
            if end == 0 {
                break;
            }
            segs.push(s[..end].to_string());
            s = &s[end..];
            if let Some(n) = s.strip_prefix("::") {
                if let Some(group) = n.strip_prefix('{') {
                    let close = group.find('}').unwrap_or(group.len());
                    for item in group[..close].split(',') {
                        let item = item.trim().split("::").next().unwrap_or("").trim();
                        if !item.is_empty() {
                            let mut p = segs.clone();
                            p.push(item.to_string());
                            out.push(p);
                        }
                    }
                    segs.clear();
                    break;
                }
                s = n;
            } else {
                break;
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

#[test]
fn no_import_circle_inside_any_crate() {
    let mut problems = vec![];
    for src in crate_sources() {
        let mut files = vec![];
        rust_files(&src, &mut files);
        let mut modules = BTreeMap::new();
        for f in &files {
            if let Some(m) = module_of(&src, f) {
                modules.insert(m, f.clone());
            }
        }
        // The crate root's re-exports: `pub use a::b::{X, Y}` maps X to `a::b`.
        let mut reexports: BTreeMap<String, String> = BTreeMap::new();
        if let Some(root) = modules.get("") {
            let text = fs::read_to_string(root).unwrap();
            for p in paths_in(&text.replace("pub use ", "pub use crate::"), "", true) {
                if p.len() >= 2 {
                    reexports.insert(p.last().unwrap().clone(), p[..p.len() - 1].join("::"));
                }
            }
        }
        let resolve = |path: &[String]| -> Option<String> {
            for n in (1..=path.len()).rev() {
                let m = path[..n].join("::");
                if modules.contains_key(&m) {
                    return Some(m);
                }
            }
            let first = path.first()?;
            reexports
                .get(first)
                .filter(|m| modules.contains_key(*m))
                .cloned()
        };
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (m, f) in &modules {
            let text = fs::read_to_string(f).unwrap();
            let is_mod = f.ends_with("mod.rs") || f.ends_with("lib.rs") || f.ends_with("main.rs");
            for p in paths_in(&text, m, is_mod) {
                let Some(target) = resolve(&p) else { continue };
                let own_child = target.starts_with(m.as_str())
                    && (m.is_empty() || target[m.len()..].starts_with("::"));
                if target == *m || (is_mod && own_child) {
                    continue;
                }
                edges.entry(m.clone()).or_default().insert(target);
            }
        }
        if let Some(cycle) = find_cycle(&edges) {
            problems.push(format!("{}: {}", src.display(), cycle.join(" -> ")));
        }
    }
    assert!(
        problems.is_empty(),
        "import circles:\n{}",
        problems.join("\n")
    );
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for next in edges.get(n).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if !state.contains_key(n.as_str()) {
            if let Some(c) = visit(n, edges, &mut state, &mut vec![]) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let mut edges = BTreeMap::new();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    edges.insert("a".to_string(), set(&["b"]));
    edges.insert("b".to_string(), set(&["c"]));
    assert_eq!(find_cycle(&edges), None);
    edges.insert("c".to_string(), set(&["a"]));
    assert_eq!(find_cycle(&edges).unwrap(), ["a", "b", "c", "a"]);
    let paths = paths_in(
        "use crate::format::{entry, Corruption};\nuse super::x::Y;",
        "format::entry",
        false,
    );
    assert_eq!(
        paths,
        [
            vec!["format", "entry"],
            vec!["format", "Corruption"],
            vec!["format", "x", "Y"]
        ]
    );
}

#[test]
fn no_source_file_is_longer_than_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    for dir in [
        "src",
        "tests",
        "examples",
        "core",
        "fs",
        "host-std",
        "host-wasi",
        "tool",
        "bench",
        "fuzz",
    ] {
        let d = root.join(dir);
        if d.is_dir() {
            rust_files(&d, &mut files);
        }
    }
    assert!(files.len() > 50, "the workspace's sources were not found");
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} has {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}
