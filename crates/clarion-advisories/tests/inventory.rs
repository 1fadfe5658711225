//! Inventories read from real and hand-written lockfiles and SBOMs (`tests/fixtures/inventory/`, see its
//! README), malformed ones refused with the line or field at fault, and no input that makes the reader panic.

use std::error::Error;
use std::path::PathBuf;

use clarion_advisories::inventory::{self, Format, Inventory, InventoryError, MAX_COMPONENT_DEPTH, MAX_PACKAGES};
use clarion_core::advisory::Package;

type TestResult = Result<(), Box<dyn Error>>;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory").join(name)
}

fn fixture(name: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    std::fs::read(fixture_path(name)).map_err(|error| format!("reading fixture {name}: {error}").into())
}

/// Reads a fixture, its format told by the fixture's own name.
fn read_fixture(name: &str) -> Result<Inventory, Box<dyn Error>> {
    Ok(inventory::read(&fixture(name)?, None, Some(name))?)
}

fn package(ecosystem: &str, name: &str, version: &str, direct: Option<bool>) -> Package {
    Package { ecosystem: ecosystem.to_string(), name: name.to_string(), version: version.to_string(), direct }
}

fn find<'i>(inventory: &'i Inventory, name: &str, version: &str) -> Option<&'i Package> {
    inventory.packages.iter().find(|p| p.name == name && p.version == version)
}

/// The error reading `text` gives, or a test failure naming what was read instead.
fn refusal(text: &str, format: Option<Format>, file_name: Option<&str>) -> Result<InventoryError, Box<dyn Error>> {
    match inventory::read(text.as_bytes(), format, file_name) {
        Ok(inventory) => Err(format!("expected an error, read {inventory:?}").into()),
        Err(error) => Ok(error),
    }
}

// ---- Cargo.lock ----

#[test]
fn reads_this_repositorys_own_cargo_lock() -> TestResult {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let bytes = std::fs::read(&path)?;
    let inventory = inventory::read(&bytes, None, Some("Cargo.lock"))?;
    assert_eq!(inventory.format, Format::CargoLock);

    // Every crates.io package of the lockfile, and nothing else (the workspace members have no source).
    let text = String::from_utf8(bytes)?;
    let registry_entries = text.matches("\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"").count();
    assert_eq!(inventory.packages.len(), registry_entries, "one package per crates.io entry");
    assert_eq!(inventory.skipped, 0);
    assert!(inventory.packages.iter().all(|p| p.ecosystem == "crates.io" && p.direct.is_some()));
    assert!(inventory.packages.iter().all(|p| !p.name.starts_with("clarion")), "workspace members are not listed");

    let serde = inventory.packages.iter().find(|p| p.name == "serde").ok_or("serde is locked")?;
    assert_eq!(serde.direct, Some(true), "clarion-core depends on serde");
    let tokio = inventory.packages.iter().find(|p| p.name == "tokio").ok_or("tokio is locked")?;
    assert_eq!(tokio.direct, Some(true), "clarion-server depends on tokio");
    let aho = inventory.packages.iter().find(|p| p.name == "aho-corasick").ok_or("aho-corasick is locked")?;
    assert_eq!(aho.direct, Some(false), "only regex depends on aho-corasick");

    let mut sorted = inventory.packages.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, inventory.packages, "sorted and deduplicated");
    Ok(())
}

#[test]
fn reads_a_version_1_cargo_lock_with_a_root_table_and_a_git_dependency() -> TestResult {
    let inventory = read_fixture("cargo-v1.lock")?;
    assert_eq!(
        inventory.packages,
        vec![
            package("crates.io", "cfg-if", "0.1.2", Some(false)),
            package("crates.io", "libc", "0.2.40", Some(true)),
            package("crates.io", "log", "0.4.1", Some(true)),
        ]
    );
    assert_eq!(inventory.skipped, 1, "relay-proto comes from git");
    Ok(())
}

#[test]
fn cargo_lock_lists_crates_io_from_both_indexes_and_skips_git_and_other_registries() -> TestResult {
    let inventory = read_fixture("cargo-v3-sources.lock")?;
    assert_eq!(
        inventory.packages,
        vec![
            package("crates.io", "bytes", "1.6.0", Some(true)),
            package("crates.io", "fnv", "1.0.7", Some(false)),
            package("crates.io", "http", "0.2.12", Some(true)),
            package("crates.io", "http", "1.1.0", Some(true)),
            package("crates.io", "itoa", "1.0.11", Some(false)),
            package("crates.io", "serde", "1.0.203", Some(true)),
            package("crates.io", "tokio", "1.38.0", Some(true)),
        ]
    );
    assert_eq!(inventory.skipped, 2, "internal-auth (another registry) and prost (git)");
    Ok(())
}

#[test]
fn a_cargo_dependency_naming_a_version_marks_only_that_version_direct() -> TestResult {
    let text = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["rand 0.8.5"]

[[package]]
name = "rand"
version = "0.7.3"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "rand"
version = "0.8.5"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;
    let inventory = inventory::read(text.as_bytes(), Some(Format::CargoLock), None)?;
    assert_eq!(
        inventory.packages,
        vec![package("crates.io", "rand", "0.7.3", Some(false)), package("crates.io", "rand", "0.8.5", Some(true))]
    );
    Ok(())
}

// ---- package-lock.json ----

#[test]
fn reads_a_real_lockfile_v3_with_a_workspace_an_alias_and_nested_copies() -> TestResult {
    let inventory = read_fixture("package-lock-v3.json")?;
    assert_eq!(inventory.format, Format::PackageLock);
    assert_eq!(
        inventory.packages,
        vec![
            package("npm", "@types/ms", "0.7.34", Some(true)),
            package("npm", "debug", "4.3.4", Some(true)),
            // A dependency of the workspace folder `packages/util`: the project's own code depends on it.
            package("npm", "escape-string-regexp", "4.0.0", Some(true)),
            package("npm", "is-number", "7.0.0", Some(true)),
            package("npm", "ms", "0.7.3", Some(true)),
            // `legacy-ms` is an alias of ms@2.0.0: listed under its real name.
            package("npm", "ms", "2.0.0", Some(true)),
            // node_modules/debug/node_modules/ms: only debug depends on it.
            package("npm", "ms", "2.1.2", Some(false)),
        ]
    );
    assert_eq!(inventory.skipped, 0, "the link to the workspace folder is the service's own code");
    Ok(())
}

#[test]
fn reads_a_real_lockfile_v2_with_scoped_dev_and_peer_dependencies() -> TestResult {
    let inventory = read_fixture("package-lock-v2.json")?;
    assert_eq!(
        inventory.packages,
        vec![
            package("npm", "@sindresorhus/is", "4.6.0", Some(true)),
            package("npm", "debug", "2.6.9", Some(true)),
            package("npm", "escape-string-regexp", "4.0.0", Some(true)),
            package("npm", "is-number", "7.0.0", Some(true)),
            package("npm", "ms", "2.0.0", Some(false)),
            package("npm", "ms", "2.1.3", Some(true)),
        ]
    );
    Ok(())
}

#[test]
fn package_lock_skips_git_packages_and_entries_without_a_version() -> TestResult {
    let text = r#"{
  "name": "x", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": { "name": "x", "dependencies": { "from-git": "github:example/from-git", "a": "^1" } },
    "node_modules/from-git": { "version": "1.0.0", "resolved": "git+ssh://git@github.com/example/from-git.git#0123abcd" },
    "node_modules/a": { "version": "1.2.3", "resolved": "https://registry.npmjs.org/a/-/a-1.2.3.tgz" },
    "node_modules/a/node_modules/@scope/b": { "version": "2.0.0" },
    "node_modules/extraneous": { "resolved": "https://registry.npmjs.org/extraneous/-/extraneous-1.0.0.tgz" }
  }
}"#;
    let inventory = inventory::read(text.as_bytes(), None, Some("package-lock.json"))?;
    assert_eq!(
        inventory.packages,
        vec![package("npm", "@scope/b", "2.0.0", Some(false)), package("npm", "a", "1.2.3", Some(true))]
    );
    assert_eq!(inventory.skipped, 2);
    Ok(())
}

#[test]
fn refuses_lockfile_v1_and_says_to_regenerate_it_with_npm_7() -> TestResult {
    let text = r#"{ "name": "old", "version": "1.0.0", "lockfileVersion": 1, "requires": true,
  "dependencies": { "ms": { "version": "2.1.3", "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.3.tgz" } } }"#;
    let error = refusal(text, None, Some("package-lock.json"))?;
    assert_eq!(error.field.as_deref(), Some("lockfileVersion"));
    assert!(error.message.contains("npm 7"), "{error}");
    Ok(())
}

// ---- Python ----

#[test]
fn reads_a_real_poetry_lock_with_normalized_names_and_unknown_directness() -> TestResult {
    let inventory = read_fixture("poetry.lock")?;
    assert_eq!(inventory.format, Format::PoetryLock);
    let names: Vec<(&str, &str)> = inventory.packages.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect();
    assert!(names.contains(&("requests", "2.31.0")), "{names:?}");
    assert!(names.contains(&("zope-interface", "6.4")), "{names:?}");
    assert!(names.contains(&("typing-extensions", "4.12.2")), "{names:?}");
    assert!(names.contains(&("iniconfig", "2.0.0")), "dev group: {names:?}");
    assert_eq!(inventory.packages.len(), 9, "{names:?}");
    assert!(inventory.packages.iter().all(|p| p.ecosystem == "PyPI" && p.direct.is_none()));
    Ok(())
}

#[test]
fn poetry_lock_normalizes_old_style_names_and_skips_git_and_directory_sources() -> TestResult {
    let text = r#"# This file is automatically @generated by Poetry 1.4.2 and should not be changed by hand.

[[package]]
name = "Zope.Interface"
version = "5.5.2"
description = "Interfaces for Python"
category = "main"
optional = false
python-versions = ">=2.7, !=3.0.*"

[[package]]
name = "typing_extensions"
version = "4.5.0"
category = "main"
optional = false
python-versions = ">=3.7"

[[package]]
name = "in-house"
version = "0.9.0"
category = "main"
optional = false
python-versions = "*"

[package.source]
type = "git"
url = "https://git.example/in-house.git"
reference = "main"
resolved_reference = "9f0e1d2c3b4a"

[[package]]
name = "sibling"
version = "1.0.0"
category = "main"
optional = false
python-versions = "*"

[package.source]
type = "directory"
url = "../sibling"

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "0f2c"
"#;
    let inventory = inventory::read(text.as_bytes(), None, None)?;
    assert_eq!(inventory.format, Format::PoetryLock, "told by [metadata] content-hash");
    assert_eq!(
        inventory.packages,
        vec![package("PyPI", "typing-extensions", "4.5.0", None), package("PyPI", "zope-interface", "5.5.2", None)]
    );
    assert_eq!(inventory.skipped, 2);
    Ok(())
}

#[test]
fn reads_a_real_uv_lock_without_the_project_and_with_its_dependencies_direct() -> TestResult {
    let inventory = read_fixture("uv.lock")?;
    assert_eq!(inventory.format, Format::UvLock);
    assert_eq!(
        inventory.packages,
        vec![
            package("PyPI", "iniconfig", "2.0.0", Some(true)),
            package("PyPI", "jinja2", "3.1.4", Some(true)),
            package("PyPI", "markupsafe", "3.0.4", Some(false)),
            package("PyPI", "pyyaml", "6.0.2", Some(true)),
            package("PyPI", "typing-extensions", "4.12.2", Some(true)),
        ]
    );
    Ok(())
}

// ---- CycloneDX ----

/// What each npm-made SBOM of `projects/package-lock-v3` lists: the workspace package too (the SBOM lists
/// it with a purl), and only the subject's own `dependsOn` as direct.
fn npm_sbom_packages() -> Vec<Package> {
    vec![
        package("npm", "@checkout/util", "0.1.0", Some(true)),
        package("npm", "@types/ms", "0.7.34", Some(true)),
        package("npm", "debug", "4.3.4", Some(true)),
        package("npm", "escape-string-regexp", "4.0.0", Some(false)),
        package("npm", "is-number", "7.0.0", Some(true)),
        package("npm", "ms", "0.7.3", Some(true)),
        package("npm", "ms", "2.0.0", Some(true)),
        package("npm", "ms", "2.1.2", Some(false)),
    ]
}

#[test]
fn reads_real_cyclonedx_1_3_to_1_6_with_nested_components_and_a_dependency_graph() -> TestResult {
    for name in ["npm-1.3.cdx.json", "npm-1.4.cdx.json", "npm-1.5.cdx.json", "npm-1.6.cdx.json"] {
        let inventory = read_fixture(name)?;
        assert_eq!(inventory.format, Format::CycloneDx, "{name}");
        assert_eq!(inventory.packages, npm_sbom_packages(), "{name}");
        assert_eq!(inventory.skipped, 0, "{name}");
    }
    Ok(())
}

#[test]
fn cyclonedx_maps_package_urls_to_osv_ecosystems_and_names() -> TestResult {
    let inventory = read_fixture("polyglot-1.6.cdx.json")?;
    assert_eq!(
        inventory.packages,
        vec![
            package("Debian", "openssl", "3.0.11-1~deb12u2", Some(false)),
            package("Go", "github.com/gorilla/mux", "1.8.0", Some(true)),
            package("Maven", "org.apache.logging.log4j:log4j-api", "2.14.1", Some(false)),
            package("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1", Some(true)),
            package("PyPI", "django", "4.2.1", Some(true)),
            // Nested three deep, its version from the component since its purl has none.
            package("PyPI", "zope-interface", "6.4", Some(false)),
            package("conda", "thing", "1.0", Some(false)),
            package("crates.io", "serde", "1.0.203", Some(true)),
            package("npm", "@types/node", "20.1.0", Some(false)),
        ]
    );
    assert_eq!(inventory.skipped, 2, "the file has no purl, the generic package no version");
    Ok(())
}

#[test]
fn cyclonedx_without_a_dependency_graph_does_not_say_what_is_direct() -> TestResult {
    let mut document: serde_json::Value = serde_json::from_slice(&fixture("polyglot-1.6.cdx.json")?)?;
    document.as_object_mut().ok_or("an object")?.remove("dependencies");
    let inventory = inventory::read(&serde_json::to_vec(&document)?, None, None)?;
    assert_eq!(inventory.packages.len(), 9);
    assert!(inventory.packages.iter().all(|p| p.direct.is_none()), "{:?}", inventory.packages);
    Ok(())
}

#[test]
fn refuses_cyclonedx_versions_it_does_not_know() -> TestResult {
    for version in ["1.2", "1.7", "2.0"] {
        let text = format!(r#"{{ "bomFormat": "CycloneDX", "specVersion": "{version}", "components": [] }}"#);
        let error = refusal(&text, None, None)?;
        assert_eq!(error.field.as_deref(), Some("specVersion"), "{version}: {error}");
        assert!(error.message.contains(version), "{error}");
    }
    Ok(())
}

#[test]
fn refuses_components_nested_deeper_than_the_bound_without_overflowing_the_stack() -> TestResult {
    let nested = |depth: usize| {
        let mut text = String::from(r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":["#);
        for level in 0..depth {
            text.push_str(&format!(
                r#"{{"type":"library","name":"p{level}","purl":"pkg:npm/p{level}@1.0.0","components":["#
            ));
        }
        text.push_str(&"]}".repeat(depth));
        text.push_str("]}");
        text
    };
    let inventory = inventory::read(nested(MAX_COMPONENT_DEPTH).as_bytes(), None, None)?;
    assert_eq!(inventory.packages.len(), MAX_COMPONENT_DEPTH, "the bound itself is read");

    let error = refusal(&nested(MAX_COMPONENT_DEPTH + 1), None, None)?;
    assert!(error.message.contains("nested more than"), "{error}");
    let field = error.field.ok_or("names the component")?;
    assert!(field.starts_with("components[0].components[0]."), "{field}");

    // Far deeper than any bound: refused by the JSON parser's own nesting limit, with the line.
    let error = refusal(&nested(100_000), None, None)?;
    assert_eq!(error.line, Some(1), "{error}");
    Ok(())
}

// ---- SPDX ----

#[test]
fn reads_a_real_spdx_2_3_document_and_its_dependency_relationships() -> TestResult {
    let inventory = read_fixture("npm-2.3.spdx.json")?;
    assert_eq!(inventory.format, Format::Spdx);
    assert_eq!(inventory.packages, npm_sbom_packages());
    assert_eq!(inventory.skipped, 0, "the described package is the service, not skipped");
    Ok(())
}

#[test]
fn reads_spdx_2_2_with_depends_on_and_its_old_category_spelling() -> TestResult {
    let inventory = read_fixture("polyglot-2.2.spdx.json")?;
    assert_eq!(
        inventory.packages,
        vec![
            package("Alpine", "libssl3", "3.0.13-r0", Some(false)),
            package("PyPI", "requests", "2.31.0", Some(true)),
            package("crates.io", "mio", "0.8.11", Some(false)),
            package("crates.io", "tokio", "1.38.0", Some(true)),
        ]
    );
    assert_eq!(inventory.skipped, 1, "vendored-blob has no purl");
    Ok(())
}

#[test]
fn spdx_without_relationships_does_not_say_what_is_direct() -> TestResult {
    let mut document: serde_json::Value = serde_json::from_slice(&fixture("npm-2.3.spdx.json")?)?;
    document.as_object_mut().ok_or("an object")?.remove("relationships");
    let inventory = inventory::read(&serde_json::to_vec(&document)?, None, Some("sbom.spdx.json"))?;
    assert_eq!(inventory.packages.len(), 8);
    assert!(inventory.packages.iter().all(|p| p.direct.is_none()), "{:?}", inventory.packages);
    assert!(find(&inventory, "checkout-service", "1.4.0").is_none(), "documentDescribes still names the service");
    Ok(())
}

#[test]
fn refuses_spdx_3() -> TestResult {
    let error = refusal(r#"{"spdxVersion": "SPDX-3.0", "packages": []}"#, None, None)?;
    assert_eq!(error.field.as_deref(), Some("spdxVersion"));
    Ok(())
}

// ---- telling the format ----

#[test]
fn tells_every_fixtures_format_from_its_content_alone() -> TestResult {
    let cases = [
        ("cargo-v1.lock", Format::CargoLock),
        ("cargo-v3-sources.lock", Format::CargoLock),
        ("package-lock-v2.json", Format::PackageLock),
        ("package-lock-v3.json", Format::PackageLock),
        ("poetry.lock", Format::PoetryLock),
        ("uv.lock", Format::UvLock),
        ("npm-1.3.cdx.json", Format::CycloneDx),
        ("polyglot-1.6.cdx.json", Format::CycloneDx),
        ("npm-2.3.spdx.json", Format::Spdx),
        ("polyglot-2.2.spdx.json", Format::Spdx),
    ];
    for (name, expected) in cases {
        let by_content = inventory::read(&fixture(name)?, None, None)?;
        assert_eq!(by_content.format, expected, "{name}");
        assert_eq!(by_content, read_fixture(name)?, "{name}: the same read by name and by content");
    }
    Ok(())
}

#[test]
fn tells_the_format_from_the_file_name_in_any_directory() {
    let cases = [
        ("services/api/Cargo.lock", Some(Format::CargoLock)),
        ("C:\\src\\web\\package-lock.json", Some(Format::PackageLock)),
        ("npm-shrinkwrap.json", Some(Format::PackageLock)),
        ("poetry.lock", Some(Format::PoetryLock)),
        ("uv.lock", Some(Format::UvLock)),
        ("bom.json", Some(Format::CycloneDx)),
        ("checkout-2026-11.cdx.json", Some(Format::CycloneDx)),
        ("checkout.SPDX.JSON", Some(Format::Spdx)),
        ("package.json", None),
        ("Cargo.toml", None),
    ];
    for (name, expected) in cases {
        assert_eq!(Format::from_file_name(name), expected, "{name}");
    }
}

#[test]
fn a_json_documents_own_marker_wins_over_its_file_name() -> TestResult {
    let inventory = inventory::read(&fixture("npm-2.3.spdx.json")?, None, Some("bom.json"))?;
    assert_eq!(inventory.format, Format::Spdx);
    Ok(())
}

#[test]
fn a_named_format_wins_over_the_file_name() -> TestResult {
    let error = inventory::read(&fixture("npm-2.3.spdx.json")?, Some(Format::CycloneDx), Some("x.spdx.json"))
        .err()
        .ok_or("read SPDX as CycloneDX")?;
    assert_eq!(error.field.as_deref(), Some("bomFormat"), "{error}");
    Ok(())
}

#[test]
fn format_names_round_trip_and_serde_uses_the_same_names() -> TestResult {
    for format in Format::ALL {
        assert_eq!(Format::parse(format.as_str()), Some(format));
        assert_eq!(serde_json::to_value(format)?, serde_json::Value::from(format.as_str()));
        assert_eq!(serde_json::from_value::<Format>(format.as_str().into())?, format);
    }
    assert_eq!(Format::parse("yarn-lock"), None);
    Ok(())
}

#[test]
fn unknown_content_is_refused_with_the_formats_listed() -> TestResult {
    for text in ["name = \"x\"\n", "{\"name\": \"x\"}", "just some words", "[1, 2, 3]"] {
        let error = refusal(text, None, None)?;
        for format in Format::ALL {
            assert!(error.message.contains(format.as_str()), "{text:?}: {error}");
        }
        assert!(error.message.contains("Cargo.lock"), "{error}");
    }
    Ok(())
}

// ---- malformed inputs ----

#[test]
fn broken_toml_names_the_line_and_column() -> TestResult {
    let text = "version = 3\n\n[[package]]\nname = \"a\"\nversion = 1.0.0\n";
    let error = refusal(text, None, Some("Cargo.lock"))?;
    assert_eq!(error.line, Some(5), "{error}");
    assert!(error.column.is_some(), "{error}");
    assert!(error.message.starts_with("not valid TOML"), "{error}");
    Ok(())
}

#[test]
fn broken_json_names_the_line_and_column() -> TestResult {
    let text = "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {},\n  }\n}\n";
    let error = refusal(text, None, Some("package-lock.json"))?;
    assert_eq!((error.line, error.column), (Some(5), Some(3)), "{error}");
    assert!(error.to_string().starts_with("line 5, column 3: not valid JSON: "), "{error}");
    Ok(())
}

#[test]
fn a_missing_version_names_the_package_and_its_line() -> TestResult {
    let text = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n\
                [[package]]\nname = \"serde\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
    let error = refusal(text, None, Some("Cargo.lock"))?;
    assert_eq!(error.field.as_deref(), Some("package[1].version"), "{error}");
    assert_eq!(error.line, Some(7), "the [[package]] header: {error}");
    assert_eq!(error.message, "missing");

    let poetry = "[[package]]\nname = \"requests\"\n\n[metadata]\ncontent-hash = \"x\"\n";
    let error = refusal(poetry, None, Some("poetry.lock"))?;
    assert_eq!(error.field.as_deref(), Some("package[0].version"), "{error}");
    Ok(())
}

#[test]
fn a_wrong_typed_field_is_named_with_its_path() -> TestResult {
    let cargo = "[[package]]\nname = \"serde\"\nversion = 1\nsource = \"sparse+https://index.crates.io/\"\n";
    let error = refusal(cargo, None, Some("Cargo.lock"))?;
    assert_eq!(error.field.as_deref(), Some("package[0].version"));
    assert_eq!((error.line, error.message.as_str()), (Some(3), "expected a string, not an integer"));

    let npm = r#"{"lockfileVersion": 3, "packages": {"": {}, "node_modules/x": {"version": 7}}}"#;
    let error = refusal(npm, None, Some("package-lock.json"))?;
    assert_eq!(error.to_string(), r#"packages["node_modules/x"].version: expected a string, not a number"#);

    let npm = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": ["x"]}}}"#;
    let error = refusal(npm, None, None)?;
    assert_eq!(error.field.as_deref(), Some(r#"packages[""].dependencies"#));

    let cyclonedx = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"name": "a", "purl": "pkg:npm/a@1"}, {"name": "b", "purl": "pkg:npm/b@1"}, {"name": "c", "purl": 3}]}"#;
    let error = refusal(cyclonedx, None, None)?;
    assert_eq!(error.field.as_deref(), Some("components[2].purl"));

    let nested = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"name": "a", "components": [{"name": "b"}, {"name": "c", "purl": "npm/c@1"}]}]}"#;
    let error = refusal(nested, None, None)?;
    assert_eq!(error.field.as_deref(), Some("components[0].components[1].purl"));
    assert!(error.message.contains("pkg:"), "{error}");

    let spdx = r#"{"spdxVersion": "SPDX-2.3", "packages": [{"SPDXID": "a", "externalRefs": [
        {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": ["pkg:npm/a@1"]}]}]}"#;
    let error = refusal(spdx, None, None)?;
    assert_eq!(error.field.as_deref(), Some("packages[0].externalRefs[0].referenceLocator"));
    Ok(())
}

#[test]
fn refuses_lockfile_versions_it_does_not_know() -> TestResult {
    let error = refusal("version = 5\n[[package]]\nname = \"a\"\nversion = \"1\"\n", None, Some("Cargo.lock"))?;
    assert_eq!((error.field.as_deref(), error.line), (Some("version"), Some(1)), "{error}");
    let error = refusal("version = 2\nrevision = 1\n[[package]]\nname = \"a\"\nversion = \"1\"\n", None, None)?;
    assert_eq!(error.field.as_deref(), Some("version"), "uv.lock: {error}");
    let error = refusal(r#"{"lockfileVersion": 4, "packages": {}}"#, None, None)?;
    assert_eq!(error.field.as_deref(), Some("lockfileVersion"), "{error}");
    Ok(())
}

#[test]
fn refuses_empty_and_blank_files() -> TestResult {
    for text in ["", "   \n\t\n"] {
        for format in [None, Some(Format::CargoLock), Some(Format::Spdx)] {
            let error = refusal(text, format, None)?;
            assert_eq!(error.message, "the file is empty", "{format:?}");
        }
    }
    Ok(())
}

#[test]
fn refuses_binary_garbage_with_where_it_stops_being_text() -> TestResult {
    let mut bytes = b"[[package]]\nname = \"a\"\n".to_vec();
    bytes.extend([0x00, 0xFF, 0xC3, 0x28, 0x1F, 0x8B]);
    let error = inventory::read(&bytes, None, None).err().ok_or("garbage read")?;
    assert_eq!(error.line, Some(3), "{error}");
    assert!(error.message.contains("not UTF-8"), "{error}");

    let gzip = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
    assert!(inventory::read(&gzip, None, Some("Cargo.lock")).is_err());
    Ok(())
}

#[test]
fn utf16_files_are_refused_with_how_to_fix_them() -> TestResult {
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("{}".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let error = inventory::read(&utf16, None, Some("bom.json")).err().ok_or("UTF-16 read")?;
    assert!(error.message.contains("UTF-8"), "{error}");
    Ok(())
}

#[test]
fn a_byte_order_mark_is_ignored() -> TestResult {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(fixture("polyglot-2.2.spdx.json")?);
    assert_eq!(inventory::read(&bytes, None, None)?.packages.len(), 4);
    Ok(())
}

/// A package-lock with `count` distinct packages.
fn package_lock_with(count: usize) -> String {
    let mut text = String::from(r#"{"lockfileVersion": 3, "packages": {"": {}"#);
    for index in 0..count {
        text.push_str(&format!(r#","node_modules/p{index}": {{"version": "1.0.{index}"}}"#));
    }
    text.push_str("}}");
    text
}

#[test]
fn reads_max_packages_and_refuses_one_more() -> TestResult {
    let inventory = inventory::read(package_lock_with(MAX_PACKAGES).as_bytes(), None, None)?;
    assert_eq!(inventory.packages.len(), MAX_PACKAGES);
    let error = refusal(&package_lock_with(MAX_PACKAGES + 1), None, None)?;
    assert!(error.message.contains(&MAX_PACKAGES.to_string()), "{error}");
    Ok(())
}

#[test]
fn duplicate_copies_count_once_and_direct_wins() -> TestResult {
    let text = r#"{"lockfileVersion": 2, "packages": {
        "": {"dependencies": {"ms": "2.1.3"}},
        "node_modules/a/node_modules/ms": {"version": "2.1.3"},
        "node_modules/ms": {"version": "2.1.3"},
        "node_modules/b/node_modules/ms": {"version": "2.1.3"}}}"#;
    let inventory = inventory::read(text.as_bytes(), None, None)?;
    assert_eq!(inventory.packages, vec![package("npm", "ms", "2.1.3", Some(true))]);
    Ok(())
}

#[test]
fn deeply_nested_toml_is_refused_without_overflowing_the_stack() -> TestResult {
    let arrays = format!("[[package]]\nname = \"a\"\nversion = \"1\"\nx = {}", "[".repeat(100_000));
    let error = refusal(&arrays, None, Some("Cargo.lock"))?;
    assert_eq!(error.line, Some(4), "{error}");
    let tables = format!("[[package]]\nx = {}", "{ a = ".repeat(100_000));
    assert!(refusal(&tables, None, Some("uv.lock"))?.message.starts_with("not valid TOML"));
    Ok(())
}

// ---- no input panics ----

/// xorshift64*: a small seeded generator, so a failure reproduces.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// Bytes that matter to the parsers: structure, quotes, escapes, digits, a multi-byte character's pieces.
const INTERESTING: &[u8] = b"{}[]\",:=\\\n#@/%.-_0123456789ntf \x00\xC3\xA9\xFF";

fn mutate(random: &mut Random, original: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..=random.below(4) {
        let at = random.below(bytes.len() + 1);
        match random.below(5) {
            0 if at < bytes.len() => bytes[at] = INTERESTING[random.below(INTERESTING.len())],
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, INTERESTING[random.below(INTERESTING.len())]),
            3 => bytes.truncate(at),
            _ => {
                // Duplicate a slice: repeated keys, doubled nesting.
                let end = (at + random.below(64)).min(bytes.len());
                let slice = bytes[at..end].to_vec();
                bytes.splice(at..at, slice);
            }
        }
    }
    bytes
}

#[test]
fn mutated_fixtures_and_random_bytes_never_panic() -> TestResult {
    let fixtures = [
        "cargo-v1.lock",
        "cargo-v3-sources.lock",
        "package-lock-v2.json",
        "package-lock-v3.json",
        "poetry.lock",
        "uv.lock",
        "npm-1.3.cdx.json",
        "npm-1.5.cdx.json",
        "polyglot-1.6.cdx.json",
        "npm-2.3.spdx.json",
        "polyglot-2.2.spdx.json",
    ];
    let mut random = Random(0x5EED_C1A2_1017_0001);
    let (mut read, mut refused) = (0, 0);
    for name in fixtures {
        let original = fixture(name)?;
        for _ in 0..400 {
            let bytes = mutate(&mut random, &original);
            let format = Format::ALL.get(random.below(Format::ALL.len() + 3)).copied();
            let file_name = [None, Some(name), Some("bom.json")][random.below(3)];
            match inventory::read(&bytes, format, file_name) {
                Ok(inventory) => {
                    read += 1;
                    assert!(inventory.packages.len() <= MAX_PACKAGES);
                    assert!(inventory.packages.windows(2).all(|pair| pair[0] < pair[1]), "sorted, unique");
                }
                Err(error) => {
                    refused += 1;
                    assert!(!error.to_string().is_empty());
                }
            }
        }
    }
    for _ in 0..2_000 {
        let length = random.below(256);
        let bytes: Vec<u8> =
            (0..length)
                .map(|_| {
                    if random.below(2) == 0 {
                        INTERESTING[random.below(INTERESTING.len())]
                    } else {
                        random.next() as u8
                    }
                })
                .collect();
        let format = Format::ALL.get(random.below(Format::ALL.len() + 3)).copied();
        if inventory::read(&bytes, format, None).is_err() {
            refused += 1;
        }
    }
    assert!(read > 0 && refused > 0, "the mutations both kept and broke files: read {read}, refused {refused}");
    Ok(())
}
