//! Vulnerability watch's readers: OSV advisory records (`osv`) and the inventories services upload
//! (`inventory`), into `clarion_core::advisory`'s types.
//!
//! **Pure: bytes in, types or a located error out (the line or field of what is wrong); no file, network
//! or clock; every input bounded (`MAX_PACKAGES`, `MAX_RECORDS`); unknown fields and new ecosystems are
//! read, not refused.**
#![forbid(unsafe_code)]

pub mod inventory;
mod json;
pub mod osv;
