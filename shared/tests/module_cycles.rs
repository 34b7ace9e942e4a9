//! No two files of the library import each other. A pair that does has no order to read (or
//! change) them in; what both need belongs in a third module that neither imports back.
//!
//! The test reads every `crate::`, `super::` and `self::` path of `src` (in `use` lines and
//! inline), outside the files' `#[cfg(test)]` modules, and resolves it to the file that defines
//! what it names: a path through a re-export (`pub use`, e.g. `crate::worker` for
//! `crate::handlers::worker`) is followed to where the item is defined, so a facade `mod.rs` is
//! no hiding place. A re-export itself is no import: a `mod.rs` publishing its children's items
//! and a child using its parent's are not a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path, `crate` first: `["crate", "handlers", "worker", "engine"]`.
type ModPath = Vec<String>;

/// What one file names.
#[derive(Debug, Default)]
struct FileRefs {
    /// Paths the file's code names, made absolute (`crate` first).
    uses: Vec<ModPath>,
    /// `pub use` re-exports: the name they publish and the absolute path it stands for.
    reexports: Vec<(String, ModPath)>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file under `src` is: `lib.rs` is `crate`, `a/mod.rs` and `a.rs` are `crate::a`.
fn module_of(relative: &Path) -> ModPath {
    let mut path = vec!["crate".to_owned()];
    let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 < parts.len() {
            path.push(part.clone());
        } else if let Some(stem) = part.strip_suffix(".rs")
            && stem != "mod"
            && stem != "lib"
        {
            path.push(stem.to_owned());
        }
    }
    path
}

/// The code of a line: without its `//` comment (a `//` inside a string, as in a URL, stays).
fn code_of(line: &str) -> &str {
    let mut in_string = false;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `path` as seen from `module`, made absolute: `super` and `self` resolved, a path starting at a
/// child module (`use decision::x` in its parent) put under it; `None` for another crate's path.
fn absolute(module: &[String], path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut base: ModPath = module.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => return Some(path.to_vec()),
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) => {
            let mut child = base.clone();
            child.push(first.to_owned());
            if !modules.contains(&child) {
                return None;
            }
        }
        None => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The paths a `use` tree names, each with the name it is known by: `a::{b, c::{d, e as f}}`
/// gives `a::b` (b), `a::c::d` (d) and `a::c::e` (f).
fn expand_use(tree: &str) -> Vec<(ModPath, String)> {
    let words: Vec<&str> = tree.split_whitespace().collect();
    let tree = words.join(" ");
    let tree = ["::", "{", "}", ","]
        .iter()
        .fold(tree, |t, p| t.replace(&format!(" {p}"), p).replace(&format!("{p} "), p));
    let mut out = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand_into(tree: &str, prefix: &mut ModPath, out: &mut Vec<(ModPath, String)>) {
    let Some(open) = tree.find('{') else {
        let (path, alias) = tree.split_once(" as ").map_or((tree, None), |(p, a)| (p, Some(a)));
        let mut full = prefix.clone();
        // `a::{self, b}`: the `self` is `a` itself; a leading `self::` stays, to be made absolute.
        let inner_self = |s: &&str| !(s.is_empty() || *s == "self" && !prefix.is_empty());
        full.extend(path.split("::").filter(inner_self).map(str::to_owned));
        let name = alias.map(str::to_owned).or_else(|| full.last().cloned()).unwrap_or_default();
        if !full.is_empty() {
            out.push((full, name));
        }
        return;
    };
    let depth_before = prefix.len();
    prefix.extend(tree[..open].split("::").filter(|s| !s.is_empty()).map(str::to_owned));
    let body = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    for part in split_top_level(body).into_iter().filter(|p| !p.is_empty()) {
        expand_into(part, prefix, out);
    }
    prefix.truncate(depth_before);
}

/// `b, c::{d, e}` split at its top-level commas.
fn split_top_level(body: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
}

/// The `crate::`, `super::` and `self::` paths named inline in `code` (outside `use` lines).
fn inline_paths(code: &str) -> Vec<ModPath> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
        if !starts_word || !is_ident(chars[i]) {
            i += 1;
            continue;
        }
        let mut segments = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            segments.push(chars[start..j].iter().collect::<String>());
            if chars.get(j) == Some(&':')
                && chars.get(j + 1) == Some(&':')
                && chars.get(j + 2).is_some_and(|c| is_ident(*c))
            {
                j += 2;
            } else {
                break;
            }
        }
        if segments.len() > 1 && ["crate", "super", "self"].contains(&segments[0].as_str()) {
            out.push(segments);
        }
        i = j.max(i + 1);
    }
    out
}

/// Reads one file: the paths its code names and its re-exports, made absolute. `modules` are the
/// modules files define, to tell `use child::x` (a module of this crate) from `use std::x`.
fn read_file(file: &Path, module: &ModPath, modules: &BTreeSet<ModPath>) -> FileRefs {
    let text = std::fs::read_to_string(file).expect("read");
    let mut refs = FileRefs::default();
    // Inline modules (`mod option { .. }`) under way, with the brace depth they opened at.
    let (mut inline, mut depth): (Vec<(String, i32)>, i32) = (Vec::new(), 0);
    let mut statement = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        // A file's test module ends it (as `scripts/check-sizes.sh` counts); another item for
        // tests only (`#[cfg(test)] mod proptest_support;`) is one line skipped.
        if line.starts_with("#[cfg(test)]") {
            match lines.next() {
                Some(item) if item.ends_with('{') => break,
                _ => continue,
            }
        }
        let code = code_of(line);
        let mut here = module.clone();
        here.extend(inline.iter().map(|(name, _)| name.clone()));
        let trimmed = code.trim_start();
        if statement.is_empty()
            && let Some(name) = inline_module(trimmed)
        {
            inline.push((name, depth));
        }
        depth += brace_balance(code);
        inline.retain(|(_, opened)| *opened < depth);
        let is_use =
            ["use ", "pub use ", "pub(crate) use ", "pub(super) use "].iter().any(|p| trimmed.starts_with(p));
        if is_use || !statement.is_empty() {
            statement.push_str(code);
            statement.push(' ');
            if code.contains(';') {
                let (reexport, tree) = statement.trim().split_once("use ").expect("a use statement");
                let tree = tree.trim_end().trim_end_matches(';');
                for (path, name) in expand_use(tree) {
                    if let Some(path) = absolute(&here, &path, modules) {
                        if reexport.starts_with("pub") {
                            refs.reexports.push((name, path));
                        } else {
                            refs.uses.push(path);
                        }
                    }
                }
                statement.clear();
            }
            continue;
        }
        refs.uses.extend(inline_paths(code).iter().filter_map(|p| absolute(&here, p, modules)));
    }
    refs
}

/// The name of an inline module this line opens (`mod name {`), if it opens one.
fn inline_module(trimmed: &str) -> Option<String> {
    let rest = trimmed.strip_prefix("pub ").unwrap_or(trimmed).strip_prefix("mod ")?;
    let (name, after) = rest.split_once(' ')?;
    after.starts_with('{').then(|| name.to_owned())
}

fn brace_balance(code: &str) -> i32 {
    code.chars().map(|c| i32::from(c == '{') - i32::from(c == '}')).sum()
}

/// The library's files, each with its module and what it names.
#[derive(Debug)]
struct Library {
    /// Module → the file that defines it.
    files: BTreeMap<ModPath, String>,
    /// Module → its re-exports (published name → absolute path).
    reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>>,
    /// File → the absolute paths its code names.
    uses: BTreeMap<String, Vec<ModPath>>,
}

impl Library {
    fn read(src: &Path) -> Self {
        let mut paths = Vec::new();
        rust_files(src, &mut paths);
        let name = |p: &Path| p.strip_prefix(src).expect("under src").to_path_buf();
        let files: BTreeMap<ModPath, String> =
            paths.iter().map(|p| (module_of(&name(p)), name(p).display().to_string())).collect();
        let modules: BTreeSet<ModPath> = files.keys().cloned().collect();
        let (mut reexports, mut uses) = (BTreeMap::new(), BTreeMap::new());
        for path in &paths {
            let module = module_of(&name(path));
            let refs = read_file(path, &module, &modules);
            reexports.insert(module, refs.reexports.into_iter().collect::<BTreeMap<_, _>>());
            uses.insert(name(path).display().to_string(), refs.uses);
        }
        Library { files, reexports, uses }
    }

    /// The file that defines what `path` names: its longest prefix that is a module, followed
    /// through that module's re-exports (a chain of at most 8).
    fn defining_file(&self, path: &[String], hops: usize) -> Option<&String> {
        let module_len = (1..=path.len()).rev().find(|n| self.files.contains_key(&path[..*n]))?;
        let (module, rest) = path.split_at(module_len);
        let followed = rest.first().and_then(|name| self.reexports.get(module)?.get(name));
        match followed {
            Some(target) if hops < 8 => {
                let mut next = target.clone();
                next.extend(rest[1..].iter().cloned());
                self.defining_file(&next, hops + 1)
            }
            _ => self.files.get(module),
        }
    }

    /// File → the other files it imports from.
    fn imports(&self) -> BTreeMap<&String, BTreeSet<&String>> {
        let mut graph: BTreeMap<&String, BTreeSet<&String>> = BTreeMap::new();
        for (file, paths) in &self.uses {
            let targets = paths.iter().filter_map(|p| self.defining_file(p, 0)).filter(|t| *t != file);
            graph.entry(file).or_default().extend(targets);
        }
        graph
    }
}

/// Every pair of files that import each other, each pair once.
fn mutual_imports(graph: &BTreeMap<&String, BTreeSet<&String>>) -> Vec<String> {
    let mut pairs = Vec::new();
    for (a, targets) in graph {
        for b in targets.iter().filter(|b| a < *b) {
            if graph.get(b).is_some_and(|back| back.contains(a)) {
                pairs.push(format!("{a} <-> {b}"));
            }
        }
    }
    pairs
}

/// Pairs that import each other still, each with why it is left. None today: the test fails when
/// a pair here no longer imports each other, so the list only shrinks.
const LEFT_FOR_NOW: [(&str, &str); 0] = [];

#[test]
fn no_two_files_of_the_library_import_each_other() {
    let library = Library::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = library.imports();
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        graph.len() >= 100 && edges >= 300,
        "the library was read: {} files, {edges} imports",
        graph.len()
    );
    let pairs = mutual_imports(&graph);
    let left: Vec<&str> = LEFT_FOR_NOW.iter().map(|(pair, _)| *pair).collect();
    let new: Vec<&String> = pairs.iter().filter(|p| !left.contains(&p.as_str())).collect();
    assert!(
        new.is_empty(),
        "files that import each other:\n{}",
        new.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("\n")
    );
    let gone: Vec<&&str> = left.iter().filter(|l| !pairs.iter().any(|p| p == **l)).collect();
    assert!(gone.is_empty(), "no longer import each other, take them off LEFT_FOR_NOW: {gone:?}");
}

#[test]
fn the_reading_follows_use_trees_relative_paths_and_re_exports() {
    let tree = expand_use("super::{decision::{self, lease_span as span}, Worker}");
    let names: Vec<String> = tree.iter().map(|(p, n)| format!("{}={n}", p.join("::"))).collect();
    assert_eq!(
        names,
        ["super::decision=decision", "super::decision::lease_span=span", "super::Worker=Worker"]
    );
    let module: ModPath = ["crate", "handlers", "worker", "engine"].map(String::from).to_vec();
    let modules = BTreeSet::new();
    let up = absolute(&module, &["super".into(), "super".into(), "x".into()], &modules);
    assert_eq!(up.map(|p| p.join("::")), Some("crate::handlers::x".to_owned()));
    assert_eq!(absolute(&module, &["std".into(), "sync".into()], &modules), None, "another crate's");
    let found = inline_paths("let d = super::settle::Done::default(); crate::wiring::Ports::aws(c)");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(code_of(r#"let u = "http://x"; // a comment"#).trim_end(), r#"let u = "http://x";"#);

    let library = Library::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let through_reexport = ["crate", "Ports"].map(String::from);
    let defined = library.defining_file(&through_reexport, 0).map(String::as_str);
    assert_eq!(defined, Some("wiring.rs"), "`crate::Ports` is `crate::wiring::Ports`");
}
