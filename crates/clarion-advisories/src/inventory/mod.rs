//! Inventories: the packages a service ships, read from what it already has — `Cargo.lock`,
//! `package-lock.json` (lockfile v2 and v3), `poetry.lock`, `uv.lock`, CycloneDX JSON 1.3–1.6 and SPDX 2.2/2.3
//! JSON — into `clarion_core::advisory::Package`s.
//!
//! **Any bytes give an `Inventory` or an `InventoryError`, never a panic; the result is bounded
//! ([`MAX_PACKAGES`], [`MAX_COMPONENT_DEPTH`]), deduplicated and sorted.** The format is the one named, else
//! told by the file's name, else by the content. A broken file is refused with the line and column (TOML,
//! JSON syntax; TOML fields too) and the field (`package[3].version`, `packages["node_modules/x"].version`,
//! `components[2].purl`; indexes count from 0) of what is wrong.
//!
//! What is listed: the packages a service gets from its ecosystem's registry, as OSV names them
//! (`crates.io`, `npm`, `PyPI`, and from an SBOM's package URLs any ecosystem). The service's own code
//! (workspace members, the SBOM's subject) is not listed. Packages that cannot be checked against advisories
//! — from git or another registry, SBOM entries without a package URL or version — are not listed either,
//! only counted in [`Inventory::skipped`]. A package is direct when the service (or one of its workspace
//! members) depends on it by name; when several copies of one version are found, direct wins.

mod cargo;
mod cyclonedx;
mod npm;
mod purl;
mod python;
mod spdx;
mod syntax;

use std::collections::BTreeMap;
use std::fmt;

use clarion_core::advisory::Package;

/// At most this many packages in one inventory.
pub const MAX_PACKAGES: usize = 100_000;

/// CycloneDX components nest at most this deep (`components[0].components[0]…`).
pub const MAX_COMPONENT_DEPTH: usize = 32;

/// What an inventory was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    CargoLock,
    PackageLock,
    PoetryLock,
    UvLock,
    /// `cyclonedx` (kebab-case would say `cyclone-dx`, unlike [`Format::as_str`]).
    #[serde(rename = "cyclonedx")]
    CycloneDx,
    Spdx,
}

impl Format {
    /// Every format, in the order errors list them.
    pub const ALL: [Format; 6] =
        [Format::CargoLock, Format::PackageLock, Format::PoetryLock, Format::UvLock, Format::CycloneDx, Format::Spdx];

    /// The name used in the API and CLI (`?format=`): `cargo-lock`, `package-lock`, `poetry-lock`,
    /// `uv-lock`, `cyclonedx`, `spdx`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::CargoLock => "cargo-lock",
            Format::PackageLock => "package-lock",
            Format::PoetryLock => "poetry-lock",
            Format::UvLock => "uv-lock",
            Format::CycloneDx => "cyclonedx",
            Format::Spdx => "spdx",
        }
    }

    /// The format named `name` (as [`Format::as_str`]).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The format a file of this name is in: `Cargo.lock`, `package-lock.json`, `npm-shrinkwrap.json`,
    /// `poetry.lock`, `uv.lock`, `bom.json` or `*.cdx.json`, `*.spdx.json` (any directory, any case).
    pub fn from_file_name(file_name: &str) -> Option<Format> {
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name).to_ascii_lowercase();
        match base.as_str() {
            "cargo.lock" => Some(Format::CargoLock),
            "package-lock.json" | "npm-shrinkwrap.json" => Some(Format::PackageLock),
            "poetry.lock" => Some(Format::PoetryLock),
            "uv.lock" => Some(Format::UvLock),
            "bom.json" => Some(Format::CycloneDx),
            _ if base.ends_with(".cdx.json") => Some(Format::CycloneDx),
            _ if base.ends_with(".spdx.json") => Some(Format::Spdx),
            _ => None,
        }
    }

    fn is_json(self) -> bool {
        matches!(self, Format::PackageLock | Format::CycloneDx | Format::Spdx)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service's packages, deduplicated and sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub format: Format,
    pub packages: Vec<Package>,
    /// Entries the file lists that are not in `packages` because no advisory can be matched to them: from
    /// git or a registry other than the ecosystem's own, a local directory (`poetry.lock`), or without a
    /// package URL or version (SBOMs). The service's own workspace members are not counted.
    pub skipped: usize,
}

/// Why an inventory could not be read: where (line and column, when known; the field, when one is at
/// fault) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError {
    /// 1-based line of the input.
    pub line: Option<usize>,
    /// 1-based column (in characters) on `line`.
    pub column: Option<usize>,
    /// The field at fault, as a path: `package[3].version`, `packages["node_modules/x"].version`.
    pub field: Option<String>,
    /// What is wrong, in lowercase, often with what to do.
    pub message: String,
}

impl InventoryError {
    /// An error about the whole input.
    pub(crate) fn new(message: impl Into<String>) -> InventoryError {
        InventoryError { line: None, column: None, field: None, message: message.into() }
    }

    /// An error about one field.
    pub(crate) fn field(field: impl Into<String>, message: impl Into<String>) -> InventoryError {
        InventoryError { line: None, column: None, field: Some(field.into()), message: message.into() }
    }
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for InventoryError {}

/// Reads an inventory. `format` as given (`?format=`), else told by `file_name` (see
/// [`Format::from_file_name`]), else by the content: JSON with `lockfileVersion`, `bomFormat` or
/// `spdxVersion`; TOML with Poetry's `[metadata] content-hash`, uv's top-level `requires-python` or
/// `revision`, or Cargo's `[[package]]` with a registry `source` or `checksum`.
///
/// For a JSON file name, the content's own marker wins over the name (an SPDX document saved as
/// `bom.json` is read as SPDX).
pub fn read(bytes: &[u8], format: Option<Format>, file_name: Option<&str>) -> Result<Inventory, InventoryError> {
    let text = syntax::text(bytes)?;
    let by_name = file_name.and_then(Format::from_file_name);
    let json_expected = match format.or(by_name) {
        Some(format) => format.is_json(),
        None => looks_like_json(text),
    };
    let mut found = Collector::default();
    let format = if json_expected {
        let document = syntax::json(text)?;
        let format = match format {
            Some(format) => format,
            None => detect_json(&document).or(by_name).ok_or_else(unknown_format)?,
        };
        match format {
            Format::PackageLock => npm::read(&document, &mut found)?,
            Format::CycloneDx => cyclonedx::read(&document, &mut found)?,
            Format::Spdx => spdx::read(&document, &mut found)?,
            Format::CargoLock | Format::PoetryLock | Format::UvLock => return Err(not_toml(format)),
        }
        format
    } else {
        if format.or(by_name).is_none() && !text.contains("[[package]]") && !text.contains("package = [") {
            return Err(unknown_format());
        }
        let document = syntax::Toml::parse(text)?;
        let format = match format.or(by_name) {
            Some(format) => format,
            None => detect_toml(&document).ok_or_else(unknown_format)?,
        };
        match format {
            Format::CargoLock => cargo::read(&document, &mut found)?,
            Format::PoetryLock => python::read_poetry(&document, &mut found)?,
            Format::UvLock => python::read_uv(&document, &mut found)?,
            Format::PackageLock | Format::CycloneDx | Format::Spdx => {
                return Err(InventoryError::new(format!("a {format} inventory is JSON, and this is not")))
            }
        }
        format
    };
    Ok(found.finish(format))
}

fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn detect_json(document: &serde_json::Value) -> Option<Format> {
    let object = document.as_object()?;
    if object.contains_key("bomFormat") {
        Some(Format::CycloneDx)
    } else if object.contains_key("spdxVersion") {
        Some(Format::Spdx)
    } else if object.contains_key("lockfileVersion") {
        Some(Format::PackageLock)
    } else {
        None
    }
}

fn detect_toml(document: &syntax::Toml<'_>) -> Option<Format> {
    let root = document.root();
    let poetry_metadata =
        root.get("metadata").and_then(|m| m.get_ref().as_table()).is_some_and(|m| m.contains_key("content-hash"));
    if poetry_metadata || document.text().starts_with("# This file is automatically @generated by Poetry") {
        return Some(Format::PoetryLock);
    }
    if root.contains_key("requires-python") || root.contains_key("revision") {
        return Some(Format::UvLock);
    }
    let cargo_package = root.get("package").and_then(|p| p.get_ref().as_array()).is_some_and(|packages| {
        packages.iter().filter_map(|p| p.get_ref().as_table()).any(|p| {
            p.contains_key("checksum")
                || p.get("source")
                    .and_then(|s| s.get_ref().as_str())
                    .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+") || s.starts_with("git+"))
        })
    });
    if cargo_package || document.text().starts_with("# This file is automatically @generated by Cargo") {
        return Some(Format::CargoLock);
    }
    None
}

fn unknown_format() -> InventoryError {
    let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
    InventoryError::new(format!(
        "cannot tell what inventory this is: name the format ({}) or the file (Cargo.lock, package-lock.json, \
         npm-shrinkwrap.json, poetry.lock, uv.lock, bom.json or *.cdx.json, *.spdx.json)",
        names.join(", ")
    ))
}

fn not_toml(format: Format) -> InventoryError {
    InventoryError::new(format!("a {format} inventory is TOML, and this is JSON"))
}

/// The packages found so far, deduplicated by (ecosystem, name, version), and the count of entries skipped.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    packages: BTreeMap<(String, String, String), Option<bool>>,
    skipped: usize,
}

impl Collector {
    /// Adds a package; a second copy of one version merges `direct` (`true` wins over `false`, which wins
    /// over not knowing). Refuses the package after [`MAX_PACKAGES`] distinct ones.
    pub(crate) fn add(
        &mut self,
        ecosystem: &str,
        name: String,
        version: String,
        direct: Option<bool>,
    ) -> Result<(), InventoryError> {
        let key = (ecosystem.to_string(), name, version);
        if let Some(known) = self.packages.get_mut(&key) {
            *known = match (*known, direct) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), _) | (_, Some(false)) => Some(false),
                (None, None) => None,
            };
            return Ok(());
        }
        if self.packages.len() >= MAX_PACKAGES {
            return Err(InventoryError::new(format!(
                "more than {MAX_PACKAGES} packages: split the inventory (one per service)"
            )));
        }
        self.packages.insert(key, direct);
        Ok(())
    }

    /// Counts an entry that is not listed (see [`Inventory::skipped`]).
    pub(crate) fn skip(&mut self) {
        self.skipped = self.skipped.saturating_add(1);
    }

    fn finish(self, format: Format) -> Inventory {
        let packages = self
            .packages
            .into_iter()
            .map(|((ecosystem, name, version), direct)| Package { ecosystem, name, version, direct })
            .collect();
        Inventory { format, packages, skipped: self.skipped }
    }
}
