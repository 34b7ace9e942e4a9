//! Deployment size of each function: the bootstrap zip `make package` builds (cargo-lambda),
//! when it is there; otherwise the stripped release binary (`"zip": false`), which is what the
//! zip holds, uncompressed.

use serde_json::{Value, json};

use crate::cold_start::FUNCTIONS;
use crate::figure::{Result, binary_dir, emit, round};

pub const TARGET_MB: f64 = 8.0;

pub fn run() {
    let line = match measure() {
        Ok(line) => line,
        Err(err) => crate::figure::failed("bootstrap_size", &err),
    };
    emit(&line);
}

fn measure() -> Result<Value> {
    let release = binary_dir()?;
    let target = release.parent().map(std::path::Path::to_path_buf).unwrap_or_else(|| release.clone());
    let mut rows = serde_json::Map::new();
    let mut all_met = true;
    let mut zips = 0;
    for function in FUNCTIONS {
        let name = format!("jobq-{function}");
        let zip = target.join("lambda").join(&name).join("bootstrap.zip");
        let binary = release.join(&name);
        let size = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| m.len());
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let row = match (size(&zip), size(&binary)) {
            (Some(bytes), binary_bytes) => {
                zips += 1;
                // A zip from an earlier `make package` than the last release build may be stale.
                let older = modified(&zip).zip(modified(&binary)).map(|(z, b)| z < b);
                json!({
                    "zip": true,
                    "bytes": bytes,
                    "mb": round(bytes as f64 / 1e6),
                    "binary_bytes": binary_bytes,
                    "zip_older_than_release_binary": older,
                })
            }
            (None, Some(bytes)) => json!({"zip": false, "bytes": bytes, "mb": round(bytes as f64 / 1e6)}),
            (None, None) => {
                json!({"error": "neither target/lambda/<fn>/bootstrap.zip nor the release binary"})
            }
        };
        all_met &= row["bytes"].as_u64().is_some_and(|b| (b as f64) < TARGET_MB * 1e6);
        rows.insert(name, row);
    }
    Ok(json!({
        "figure": "bootstrap_size",
        "functions": rows,
        "zip": zips == FUNCTIONS.len(),
        "source": if zips == FUNCTIONS.len() {
            "target/lambda/<fn>/bootstrap.zip (make package)"
        } else {
            "stripped release binaries where no zip was found (make package builds the zips)"
        },
        "unit": "MB (10^6 bytes)",
        "target": format!("< {TARGET_MB} MB each"),
        "met": all_met,
    }))
}
