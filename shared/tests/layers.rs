//! The layers stay apart: the domain, the ports and the rules over them (store, tier queues)
//! name no AWS crate and no adapter, the handlers no AWS client, so they run the same on AWS and
//! in memory; and each module imports only the layers its row of [`ALLOWED`] names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const AWS_FREE: [&str; 4] = ["domain", "ports", "store", "queue"];
const FORBIDDEN: [&str; 6] =
    ["aws_sdk_", "aws_config", "aws_smithy", "aws_lambda_events", "crate::aws", "crate::adapters"];

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

/// Lines of `layers`' code (outside their tests) that name one of `forbidden`.
fn naming(layers: &[&str], forbidden: &[&str]) -> (usize, Vec<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for layer in layers {
        let dir = src.join(layer);
        match dir.is_dir() {
            true => rust_files(&dir, &mut files),
            false => files.push(src.join(format!("{layer}.rs"))),
        }
    }
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // A file's unit tests may run it on the in-memory adapters.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            if forbidden.iter().any(|f| line.contains(f)) {
                offences.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    (files.len(), offences)
}

#[test]
fn domain_ports_and_rules_name_no_aws_crate_or_adapter() {
    let (files, offences) = naming(&AWS_FREE, &FORBIDDEN);
    assert!(files >= 20, "the layers' files were found: {files}");
    assert!(offences.is_empty(), "AWS in an AWS-free layer:\n{}", offences.join("\n"));
}

/// The handlers take Lambda's event types, but no AWS client: what they call on AWS goes through
/// a port, so they run the same on the in-memory adapters.
#[test]
fn the_handlers_name_no_aws_client() {
    let sdk = ["aws_sdk_", "aws_config", "aws_smithy", "crate::adapters"];
    let (files, offences) = naming(&["handlers"], &sdk);
    assert!(files >= 20, "the handlers' files were found: {files}");
    assert!(offences.is_empty(), "an AWS client in a handler:\n{}", offences.join("\n"));
}

/// What each module of the library may import from the others (`crate::` paths), lowest layer
/// first. A module not listed may import nothing of the crate. The short aliases of `lib.rs`
/// (`crate::model`, `crate::aws`, ...) count as the module they name.
const ALLOWED: [(&str, &[&str]); 15] = [
    ("domain", &[]),
    ("ports", &["domain"]),
    ("config", &["domain"]),
    ("metrics", &["domain"]),
    ("telemetry", &[]),
    ("store", &["domain", "ports", "config"]),
    ("queue", &["domain", "ports"]),
    ("resources", &["domain", "store"]),
    ("adapters", &["domain", "ports", "config", "store", "queue", "resources"]),
    ("handlers", &["domain", "ports", "config", "store", "queue", "resources", "metrics"]),
    ("api", &["domain", "ports", "config", "store", "handlers", "metrics"]),
    ("wiring", &["domain", "ports", "config", "store", "queue", "resources", "adapters", "handlers"]),
    ("memory_stack", &["domain", "ports", "config", "queue", "adapters", "handlers", "wiring"]),
    ("runtime", &["domain", "config", "adapters", "handlers", "api", "wiring", "telemetry"]),
    ("proptest_support", &["domain", "store"]),
];

/// The types `lib.rs` re-exports at the root, by the module they live in. Modules have one path.
const ALIASES: [(&str, &str); 11] = [
    ("Job", "domain"),
    ("JobFailure", "domain"),
    ("NewJob", "domain"),
    ("PerTier", "domain"),
    ("Priority", "domain"),
    ("PriorityTier", "domain"),
    ("JobEvent", "domain"),
    ("JobStatus", "domain"),
    ("Envelope", "domain"),
    ("Config", "config"),
    ("Ports", "wiring"),
];

/// The library modules a file's code (outside its tests and comments) names with `crate::`.
fn imported_modules(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: Vec<&str> = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
    let code = code.join("\n");
    let mut modules = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let names = match rest.strip_prefix('{') {
            Some(group) => group_heads(group),
            None => vec![rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("")],
        };
        for name in names.into_iter().filter(|n| !n.is_empty()) {
            let module = ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, m)| *m);
            modules.insert(module.to_owned());
        }
    }
    modules
}

/// The first name of each path in a `{...}` group (the text after its `{`), across lines.
fn group_heads(group: &str) -> Vec<&str> {
    let (mut heads, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    heads.into_iter().map(|path| path.trim().split("::").next().unwrap_or("").trim()).collect()
}

/// Every `(file, module)` import of the library that its layer's row does not allow.
fn forbidden_imports(src: &Path) -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src").to_string_lossy().replace('\\', "/");
        let layer = relative.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_owned();
        if layer == "lib" {
            continue;
        }
        let allowed = ALLOWED.iter().find(|(name, _)| *name == layer).map_or(&[][..], |(_, a)| *a);
        let text = std::fs::read_to_string(&file).expect("read");
        for module in imported_modules(&text) {
            if module != layer && !allowed.contains(&module.as_str()) {
                found.insert((relative.clone(), module));
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_what_its_layer_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = forbidden_imports(&src);
    assert!(found.is_empty(), "imports across the layers (see ALLOWED):\n{found:#?}");
}

/// The handlers are built by the wiring and run on any adapters: they may import neither.
#[test]
fn the_handlers_row_allows_neither_the_wiring_nor_an_adapter() {
    let (_, handlers) = ALLOWED.iter().find(|(layer, _)| *layer == "handlers").expect("a handlers row");
    assert!(!handlers.contains(&"wiring") && !handlers.contains(&"adapters"), "{handlers:?}");
}

#[test]
fn the_import_reader_sees_plain_grouped_and_aliased_paths() {
    let text = "use crate::store::keys::PK;\nuse crate::{domain::model::{Job, NewJob},\n    adapters::aws::Clients, JobStatus};\n\
                // crate::wiring in a comment\nfn f() { crate::Ports::memory(); }\n#[cfg(test)]\nuse crate::api;";
    let modules: Vec<String> = imported_modules(text).into_iter().collect();
    assert_eq!(modules, ["adapters", "domain", "store", "wiring"]);
}

/// A module has one path: `lib.rs` declares each module once and re-exports only types.
#[test]
fn the_crate_root_re_exports_no_module() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).expect("lib.rs");
    let modules: BTreeSet<&str> =
        lib.lines().filter_map(|l| l.strip_prefix("pub mod ")).map(|m| m.trim_end_matches(';')).collect();
    let mut reexported = Vec::new();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub use ")) {
        let names = match line.split_once('{') {
            Some((_, group)) => group.trim_end_matches("};").split(',').map(str::trim).collect(),
            None => vec![line.trim_end_matches(';').rsplit("::").next().unwrap_or("")],
        };
        let lower = names.into_iter().filter(|n| n.starts_with(|c: char| c.is_lowercase() || c == '_'));
        reexported.extend(lower.map(str::to_owned));
    }
    assert!(!modules.is_empty(), "lib.rs declares its modules with `pub mod`");
    assert!(reexported.is_empty(), "modules re-exported under a second path: {reexported:?}");
}
