//! `poetry.lock` and `uv.lock` into `PyPI` packages, names normalized as PEP 503 says (lowercase, each run
//! of `-`, `_`, `.` as one `-`), which is how OSV's PyPI advisories name them.
//!
//! **poetry.lock: every `[[package]]` is listed with `direct` unknown (the lockfile does not record the
//! project's own requirements), except those from git or a local directory, which are counted as skipped.
//! uv.lock: packages whose source is `editable`, `virtual` or `directory` are the project's workspace and
//! are not listed; what they depend on (`dependencies`, `optional-dependencies`, `dev-dependencies`) is
//! direct; packages from git are counted as skipped.**

use std::collections::HashMap;

use super::syntax::{Toml, TomlTable};
use super::{Collector, InventoryError};

/// OSV's name for the ecosystem.
const ECOSYSTEM: &str = "PyPI";

/// uv.lock versions this reader knows.
const UV_VERSIONS: [i64; 1] = [1];

/// A PyPI name as PEP 503 normalizes it (core's rule, which matching uses too).
pub(super) use clarion_core::advisory::normalize_pypi_name as normalize;

pub(super) fn read_poetry(document: &Toml<'_>, found: &mut Collector) -> Result<(), InventoryError> {
    let top = document.top();
    if !top.contains("package") {
        return Err(top.error("package", "missing: a poetry.lock lists its packages as [[package]] tables"));
    }
    for package in top.tables("package")? {
        let name = package.required_str("name")?;
        let version = package.required_str("version")?;
        let source_kind = match package.table("source")? {
            Some(source) => source.str("type")?,
            None => None,
        };
        if matches!(source_kind, Some("git" | "directory")) {
            found.skip();
            continue;
        }
        found.add(ECOSYSTEM, normalize(name), version.to_string(), None)?;
    }
    Ok(())
}

/// The kinds of uv `source` that are the project's own workspace.
const UV_WORKSPACE_SOURCES: [&str; 3] = ["editable", "virtual", "directory"];

pub(super) fn read_uv(document: &Toml<'_>, found: &mut Collector) -> Result<(), InventoryError> {
    let top = document.top();
    if let Some(version) = top.integer("version")? {
        if !UV_VERSIONS.contains(&version) {
            return Err(top.error("version", format!("uv.lock version {version} is not supported (version 1 is)")));
        }
    }
    if !top.contains("package") {
        return Err(top.error("package", "missing: a uv.lock lists its packages as [[package]] tables"));
    }
    let packages = top.tables("package")?;

    // Workspace packages first, and the names (with the version, when given) they depend on.
    let mut direct: HashMap<String, Vec<Option<&str>>> = HashMap::new();
    let mut listed = Vec::with_capacity(packages.len());
    for package in &packages {
        let source = package.table("source")?;
        let is_workspace = source.as_ref().is_some_and(|s| UV_WORKSPACE_SOURCES.iter().any(|kind| s.contains(kind)));
        if !is_workspace {
            listed.push((package, source.as_ref().is_some_and(|s| s.contains("git"))));
            continue;
        }
        for dependency in workspace_dependencies(package)? {
            let name = dependency.required_str("name")?;
            direct.entry(normalize(name)).or_default().push(dependency.str("version")?);
        }
    }

    for (package, from_git) in listed {
        let name = package.required_str("name")?;
        let version = package.required_str("version")?;
        if from_git {
            found.skip();
            continue;
        }
        let name = normalize(name);
        let is_direct = direct.get(&name).is_some_and(|wanted| wanted.iter().any(|w| w.is_none_or(|w| w == version)));
        found.add(ECOSYSTEM, name, version.to_string(), Some(is_direct))?;
    }
    Ok(())
}

/// A workspace package's `dependencies`, and those of each extra (`[package.optional-dependencies]`) and
/// group (`[package.dev-dependencies]`).
fn workspace_dependencies<'d, 't>(package: &TomlTable<'d, 't>) -> Result<Vec<TomlTable<'d, 't>>, InventoryError> {
    let mut dependencies = package.tables("dependencies")?;
    for grouped in ["optional-dependencies", "dev-dependencies"] {
        if let Some(groups) = package.table(grouped)? {
            for group in groups.keys() {
                dependencies.extend(groups.tables(group)?);
            }
        }
    }
    Ok(dependencies)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_names_as_pep_503_says() {
        let cases = [
            ("Django", "django"),
            ("zope.interface", "zope-interface"),
            ("typing_extensions", "typing-extensions"),
            ("Friendly-Bard", "friendly-bard"),
            ("FRIENDLY-._BARD", "friendly-bard"),
            ("a__b..c--d", "a-b-c-d"),
        ];
        for (name, expected) in cases {
            assert_eq!(normalize(name), expected, "{name}");
        }
    }
}
