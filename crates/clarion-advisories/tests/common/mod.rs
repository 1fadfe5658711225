//! Where the workplace's real-world data is: `CLARION_SHARED_DATA`, next to the repository, or
//! `/work/shared/data` (a fresh clone elsewhere finds it there).

use std::path::{Path, PathBuf};

/// The folder `below` of the shared data (`osv/rustsec`), wherever it is found first.
pub fn shared_data(below: &str) -> PathBuf {
    [
        std::env::var_os("CLARION_SHARED_DATA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")),
        Some(PathBuf::from("/work/shared/data")),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join(below))
    .find(|p| p.is_dir())
    .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(below))
}
