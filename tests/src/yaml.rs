//! Reading the repository's YAML (the SAM template, the OIDC stack, the workflows) for the offline
//! checks of `tests/template.rs` and `tests/deploy.rs`.

use serde_norway::Value;

/// A YAML file of the repository, by its path from the repository root.
pub fn load(path: &str) -> Value {
    let path = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The string of a `!Sub "..."`, or a plain string.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "Sub" => {
            t.value.as_str().map(str::to_owned)
        }
        _ => None,
    }
}

/// The resources of a template of type `kind`, by logical name.
pub fn resources<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(k, r)| (k.as_str().unwrap_or_default().to_owned(), r))
        .collect()
}

/// `X` of `!Ref X`.
pub fn reference(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "Ref" => {
            t.value.as_str().map(str::to_owned)
        }
        _ => None,
    }
}
