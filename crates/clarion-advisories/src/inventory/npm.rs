//! `package-lock.json` and `npm-shrinkwrap.json`, lockfile versions 2 and 3 (npm 7 and later), into `npm`
//! packages.
//!
//! **Reads the `packages` map: every entry installed under a `node_modules/` folder is a package, named by
//! its `name` field (an alias, `"x": "npm:y@1"`) or else by the key after the last `node_modules/`.** Not
//! listed: the root (`""`) and workspace folders (keys outside `node_modules/`: the service's own code),
//! `link: true` entries (links to those folders); counted as skipped: entries without a `version` and
//! those resolved from git. Lockfile v1 (npm 6) keeps only a nested `dependencies` tree without the
//! project's own dependencies and is refused with how to regenerate it.
//!
//! `direct`: the name is in the `dependencies`, `devDependencies`, `optionalDependencies` or
//! `peerDependencies` of the root or of a workspace folder, and this copy is the one at the top of a
//! `node_modules/` folder of the project (`node_modules/x`, `packages/a/node_modules/x`), not one nested
//! inside another package (`node_modules/y/node_modules/x`).

use std::collections::HashSet;

use serde_json::Value;

use super::syntax::JsonObject;
use super::{Collector, InventoryError};

/// OSV's name for the ecosystem.
const ECOSYSTEM: &str = "npm";

const DEPENDENCY_KINDS: [&str; 4] = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];

const NODE_MODULES: &str = "node_modules/";

/// `resolved` prefixes of packages fetched from git rather than a registry.
const GIT_RESOLVED: [&str; 5] = ["git+", "git:", "github:", "gitlab:", "bitbucket:"];

pub(super) fn read(document: &Value, found: &mut Collector) -> Result<(), InventoryError> {
    let top = JsonObject::root(document)?;
    let version = match top.get("lockfileVersion") {
        None => return Err(InventoryError::field("lockfileVersion", "missing: is this a package-lock.json?")),
        Some(version) => version.as_u64().ok_or_else(|| {
            InventoryError::field("lockfileVersion", format!("expected a whole number, not {version}"))
        })?,
    };
    match version {
        1 => {
            return Err(InventoryError::field(
                "lockfileVersion",
                "lockfile version 1 (npm 6 and older) is not supported: regenerate it with npm 7 or later \
                 (`npm install --package-lock-only`), or upload an SBOM",
            ))
        }
        2 | 3 => {}
        other => {
            return Err(InventoryError::field(
                "lockfileVersion",
                format!("lockfile version {other} is not supported (versions 2 and 3 are)"),
            ))
        }
    }
    let packages = top
        .object("packages")?
        .ok_or_else(|| InventoryError::field("packages", "missing: npm 7 and later write a `packages` map"))?;

    // The names the project itself (root and workspace folders) depends on.
    let mut direct: HashSet<&str> = HashSet::new();
    for (key, entry) in packages.object {
        if key.contains(NODE_MODULES) {
            continue;
        }
        let entry = JsonObject::at(entry, format!("packages[{key:?}]"))?;
        for kind in DEPENDENCY_KINDS {
            if let Some(names) = entry.object(kind)? {
                direct.extend(names.object.keys().map(String::as_str));
            }
        }
    }

    for (key, entry) in packages.object {
        let Some(last) = key.rfind(NODE_MODULES) else { continue };
        let entry = JsonObject::at(entry, format!("packages[{key:?}]"))?;
        if entry.bool("link")? == Some(true) {
            continue;
        }
        let Some(version) = entry.str("version")?.filter(|v| !v.trim().is_empty()) else {
            found.skip();
            continue;
        };
        if entry.str("resolved")?.is_some_and(|resolved| GIT_RESOLVED.iter().any(|git| resolved.starts_with(git))) {
            found.skip();
            continue;
        }
        let folder = &key[last + NODE_MODULES.len()..];
        let name = entry.str("name")?.unwrap_or(folder);
        if name.trim().is_empty() {
            return Err(InventoryError::field(entry.path, "no package name (neither `name` nor a folder)"));
        }
        // At the top of a project's node_modules: the only `node_modules/` in the key is the last one.
        let top_level = key.find(NODE_MODULES) == Some(last);
        let is_direct = top_level && direct.contains(folder);
        found.add(ECOSYSTEM, name.to_string(), version.to_string(), Some(is_direct))?;
    }
    Ok(())
}
