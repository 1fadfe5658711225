//! What the test binaries share: where the real rule files are.

use std::path::{Path, PathBuf};

/// The collection of real rule files shared by the project's tests (see its README for the credit): in the
/// workplace's `shared/data`, found through `CLARION_SHARED_DATA`, next to the repository, or at
/// `/work/shared/data` (where a fresh clone elsewhere still finds it).
pub fn corpus() -> PathBuf {
    let below = "prometheus-rules/awesome-prometheus-alerts";
    let candidates = [
        std::env::var_os("CLARION_SHARED_DATA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")),
        Some(PathBuf::from("/work/shared/data")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|d| d.join(below))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(below))
}
