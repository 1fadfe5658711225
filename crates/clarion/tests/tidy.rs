//! House rules checked with a plain `cargo test`: every Rust source file starts with a `//!` line saying
//! what it is for, and ARCHITECTURE.md's code map names every crate.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

#[test]
fn every_source_file_starts_with_a_module_doc_line() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files)?;
    assert!(files.len() > 10, "found only {} files", files.len());
    let undocumented: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).map(|t| t.starts_with("//!")).unwrap_or(false))
        .map(|f| f.display().to_string())
        .collect();
    assert!(undocumented.is_empty(), "files without a leading //! line: {undocumented:#?}");
    Ok(())
}

#[test]
fn the_architecture_code_map_names_every_crate() -> Result<(), Box<dyn std::error::Error>> {
    let root = workspace_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    for entry in std::fs::read_dir(root.join("crates"))? {
        let name = entry?.file_name().to_string_lossy().to_string();
        assert!(map.contains(&format!("`{name}`")), "ARCHITECTURE.md does not describe crates/{name}");
    }
    Ok(())
}
