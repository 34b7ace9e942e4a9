//! Deployment size of the bootstrap zip every function deploys: the one `make package` builds
//! (cargo-lambda) when it is there and not older than the release binary; otherwise the stripped
//! release binary zipped here as cargo-lambda packages it (one entry `bootstrap`, deflate, 0755).

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::cold_start::BINARY;
use crate::figure::{BenchError, Result, binary_dir, emit, round};

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
    let target = release.parent().map(Path::to_path_buf).unwrap_or_else(|| release.clone());
    let packaged = target.join("lambda").join(BINARY).join("bootstrap.zip");
    let binary = release.join(BINARY);
    let binary_bytes = std::fs::metadata(&binary).map_err(BenchError::io(format!("reading {BINARY}")))?.len();
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    // A zip from an earlier `make package` than the last release build would be stale.
    let fresh = modified(&packaged).zip(modified(&binary)).is_some_and(|(z, b)| z >= b);
    let (bytes, source) = if fresh {
        let bytes = std::fs::metadata(&packaged).map_err(BenchError::io("reading a bootstrap.zip"))?.len();
        (bytes, "make package")
    } else {
        (zipped(&binary)?.len() as u64, "release binary, zipped here")
    };
    Ok(json!({
        "figure": "bootstrap_size",
        "binary": BINARY,
        "deployed_by": "every function of the template (one build, one zip)",
        "bytes": bytes,
        "mb": round(bytes as f64 / 1e6),
        "binary_bytes": binary_bytes,
        "source": source,
        "unit": "MB (10^6 bytes) of bootstrap.zip",
        "target": format!("< {TARGET_MB} MB"),
        "met": (bytes as f64) < TARGET_MB * 1e6,
    }))
}

/// `binary` zipped as the single entry `bootstrap`, as cargo-lambda does.
fn zipped(binary: &Path) -> Result<Vec<u8>> {
    let what = || format!("zipping {}", binary.display());
    let bytes = std::fs::read(binary).map_err(BenchError::io(what()))?;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options).map_err(|e| BenchError::unexpected(what(), e))?;
    writer.write_all(&bytes).map_err(BenchError::io(what()))?;
    let zipped = writer.finish().map_err(|e| BenchError::unexpected(what(), e))?;
    Ok(zipped.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_is_zipped_as_an_executable_bootstrap() {
        let dir = std::env::temp_dir().join(format!("jobq-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("bin");
        let content: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        std::fs::write(&path, &content).expect("write");
        let bytes = zipped(&path).expect("zipped");
        std::fs::remove_dir_all(&dir).ok();
        assert!(bytes.len() < content.len() / 4, "deflated: {} of {}", bytes.len(), content.len());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).expect("entry");
        assert_eq!(entry.name(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut unpacked).expect("unzip");
        assert!(unpacked == content, "the entry holds the binary");
    }
}
