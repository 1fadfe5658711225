//! `Cargo.lock`, lockfile versions 1 to 4, into `crates.io` packages.
//!
//! **Lists exactly the packages whose `source` is the crates.io index (`registry+` git protocol or
//! `sparse+`).** A package without `source` is the service's own code (a workspace member, or a path
//! dependency, which the lockfile does not tell apart) and is not listed. Any other source — git, another
//! registry — is counted as skipped, as RustSec's `cargo audit` does not match advisories to them either:
//! its query refuses a package whose source is not the advisory's registry.
//!
//! `direct`: the package is named in a workspace member's `dependencies`, written `name`, `name version`
//! (v2 and later, when several versions are locked) or `name version (source)` (v1, or several sources). A
//! lockfile does not tell normal, dev- and build-dependencies apart, so all three count as direct.

use std::collections::HashMap;

use super::syntax::Toml;
use super::{Collector, InventoryError};

/// OSV's name for the ecosystem.
const ECOSYSTEM: &str = "crates.io";

/// The crates.io index as a lockfile's `source` writes it (git and sparse protocols).
const CRATES_IO_SOURCES: [&str; 2] =
    ["registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"];

/// The lockfile versions this reader knows (v1 and v2 do not write `version`).
const VERSIONS: std::ops::RangeInclusive<i64> = 1..=4;

/// One entry of a `dependencies` list: `name`, `name version` or `name version (source)`.
#[derive(Debug)]
struct Dependency<'d> {
    version: Option<&'d str>,
    source: Option<&'d str>,
}

impl<'d> Dependency<'d> {
    fn parse(entry: &'d str) -> (&'d str, Dependency<'d>) {
        let mut parts = entry.splitn(3, ' ');
        let name = parts.next().unwrap_or_default();
        let version = parts.next();
        let source = parts.next().map(|source| source.trim_start_matches('(').trim_end_matches(')'));
        (name, Dependency { version, source })
    }

    fn names(&self, version: &str, source: &str) -> bool {
        self.version.is_none_or(|wanted| wanted == version) && self.source.is_none_or(|wanted| wanted == source)
    }
}

fn is_crates_io(source: &str) -> bool {
    let source = source.trim_end_matches('/');
    CRATES_IO_SOURCES.iter().any(|known| known.trim_end_matches('/') == source)
}

pub(super) fn read(document: &Toml<'_>, found: &mut Collector) -> Result<(), InventoryError> {
    let top = document.top();
    if let Some(version) = top.integer("version")? {
        if !VERSIONS.contains(&version) {
            return Err(top.error(
                "version",
                format!(
                    "Cargo.lock version {version} is not supported (versions {} to {} are): regenerate it with \
                     the Cargo this reader knows, or upload an SBOM",
                    VERSIONS.start(),
                    VERSIONS.end()
                ),
            ));
        }
    }
    if !top.contains("package") {
        return Err(top.error("package", "missing: a Cargo.lock lists its packages as [[package]] tables"));
    }
    let packages = top.tables("package")?;

    // First the workspace members (no `source`; v1's `[root]` too) and what they depend on.
    let mut direct: HashMap<&str, Vec<Dependency<'_>>> = HashMap::new();
    let mut members = Vec::new();
    if let Some(root) = top.table("root")? {
        members.push(root);
    }
    let mut registry = Vec::with_capacity(packages.len());
    for package in &packages {
        let name = package.required_str("name")?;
        let version = package.required_str("version")?;
        match package.str("source")? {
            None => members.push(package.clone()),
            Some(source) => registry.push((name, version, source)),
        }
    }
    for member in &members {
        for entry in member.strings("dependencies")? {
            let (name, dependency) = Dependency::parse(entry);
            direct.entry(name).or_default().push(dependency);
        }
    }

    for (name, version, source) in registry {
        if !is_crates_io(source) {
            found.skip();
            continue;
        }
        let is_direct = direct.get(name).is_some_and(|entries| entries.iter().any(|d| d.names(version, source)));
        found.add(ECOSYSTEM, name.to_string(), version.to_string(), Some(is_direct))?;
    }
    Ok(())
}
