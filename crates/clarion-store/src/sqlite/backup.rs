//! `clarion backup`: a consistent copy of a live database with `VACUUM INTO`, checked before it is called
//! a backup.
//!
//! Invariant: the copy is one read transaction's view of the database — every commit before it, none
//! after — written to a file that did not exist, and it passes `PRAGMA integrity_check` before
//! [`backup`] returns. The server need not stop: in WAL mode its writes go on while the copy is read.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// What a backup holds, for the operator to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The schema version (the last migration applied).
    pub schema_version: i64,
    /// Rows per table, tables by name.
    pub rows: Vec<(String, i64)>,
    /// The size of the copy in bytes.
    pub bytes: u64,
}

/// Copies the database at `db` to `to` (which must not exist) and checks the copy.
pub fn backup(db: &Path, to: &Path) -> Result<BackupSummary, StoreError> {
    if !db.exists() {
        return Err(StoreError::Io(format!("there is no database at {}", db.display())));
    }
    if to.exists() {
        return Err(StoreError::Io(format!("{} already exists; a backup never overwrites a file", to.display())));
    }
    let target = to.to_str().ok_or_else(|| StoreError::Io(format!("{} is not a UTF-8 path", to.display())))?;
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // The server holds the write lock only for the length of a commit.
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    drop(conn);
    summarize(to)
}

/// Checks a database file and counts what it holds.
pub fn summarize(path: &Path) -> Result<BackupSummary, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Corrupt { table: "(backup)", reason: format!("integrity check: {check}") });
    }
    let schema_version = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::with_capacity(tables.len());
    for t in tables {
        // Table names come from the schema itself, quoted as identifiers.
        let n: i64 =
            conn.query_row(&format!("SELECT COUNT(*) FROM \"{}\"", t.replace('"', "\"\"")), [], |r| r.get(0))?;
        rows.push((t, n));
    }
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupSummary { schema_version, rows, bytes })
}
