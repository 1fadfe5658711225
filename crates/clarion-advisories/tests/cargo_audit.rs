//! Clarion's vulnerability matching checked against RustSec's own `cargo audit`, run offline on the same
//! database (`shared/data/osv/rustsec-advisory-db`, the native layout of the `rustsec/` OSV records Clarion
//! reads): for this repository's `Cargo.lock`, older ones from its history and lockfiles assembled with
//! known-vulnerable versions (`tests/fixtures/cargo-audit/`, see its README), the set of (advisory, package,
//! version) each tool reports is the same — vulnerabilities, and informational advisories (unmaintained,
//! unsound, notice) by kind — except for the differences listed in [`EXPECTED`], each with its reason. A
//! difference not listed fails the test, and so does a listed one that no longer occurs.
//!
//! `cargo-audit` must be on the PATH (`scripts/test` installs it); `CLARION_SKIP_CARGO_AUDIT=1` skips the test.

mod common;

use std::collections::BTreeSet;
use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use clarion_advisories::inventory::{self, Format};
use clarion_advisories::osv::read_records;
use clarion_core::advisory::{affects, Advisory};
use serde_json::Value;

type TestResult = Result<(), Box<dyn Error>>;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// The OSV records Clarion reads.
const OSV_RECORDS: &str = "osv/rustsec";
/// The same database in RustSec's own layout, which `cargo audit` reads.
const ADVISORY_DB: &str = "osv/rustsec-advisory-db";
const FIXTURES: &str = "tests/fixtures/cargo-audit";

/// The lockfiles compared: the name the summary and [`EXPECTED`] use, the path relative to the crate, and
/// whether it was assembled to match advisories (then the tools must agree on at least one match).
/// `Cargo.lock` is the workspace's own, read as it is now.
const LOCKFILES: [(&str, &str, bool); 7] = [
    ("Cargo.lock", "../../Cargo.lock", false),
    ("history-fc4c41c.lock", "tests/fixtures/cargo-audit/history-fc4c41c.lock", false),
    ("history-e9979d9.lock", "tests/fixtures/cargo-audit/history-e9979d9.lock", false),
    ("history-e7cbc32.lock", "tests/fixtures/cargo-audit/history-e7cbc32.lock", false),
    ("several-advisories.lock", "tests/fixtures/cargo-audit/several-advisories.lock", true),
    ("prerelease-and-range-bounds.lock", "tests/fixtures/cargo-audit/prerelease-and-range-bounds.lock", true),
    ("withdrawn-informational-sources.lock", "tests/fixtures/cargo-audit/withdrawn-informational-sources.lock", true),
];

/// Which tool reported a finding the other did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    OnlyClarion,
    OnlyCargoAudit,
}

/// One difference between the tools that is expected, and why.
struct Expected {
    lockfile: &'static str,
    side: Side,
    kind: &'static str,
    advisory: &'static str,
    package: &'static str,
    version: &'static str,
    reason: &'static str,
}

/// The one advisory of the OSV export that RustSec's own layout does not have: the same advisory as
/// RUSTSEC-2025-0065 (matrix-sdk-base, CVE-2025-59047), published under the placeholder id
/// `RUSTSEC-2025-0000` and renumbered 11 minutes later; the export kept both records (identical but for
/// the id, `modified` and the advisory URL), the database only the renumbered one.
const OSV_EXPORT_ONLY: &str = "RUSTSEC-2025-0000";

/// Every difference between the tools, with its reason. Keep it exact: an entry that no longer occurs fails.
const EXPECTED: &[Expected] = &[
    Expected {
        lockfile: "withdrawn-informational-sources.lock",
        side: Side::OnlyClarion,
        kind: "vulnerability",
        advisory: OSV_EXPORT_ONLY,
        package: "matrix-sdk-base",
        version: "0.14.0",
        reason: "the OSV export's stale duplicate of RUSTSEC-2025-0065 (reported by both); cargo audit's \
                 database has no such record. A data difference, not a matching one",
    },
    Expected {
        lockfile: "withdrawn-informational-sources.lock",
        side: Side::OnlyClarion,
        kind: "vulnerability",
        advisory: "RUSTSEC-2021-0003",
        package: "smallvec",
        version: "1.6.0",
        reason: "this smallvec comes from `sparse+https://index.crates.io/`, crates.io's sparse index, which \
                 Clarion counts as crates.io; cargo audit lets it through as the default registry, then its \
                 `Query::matches` (rustsec 0.33, src/database/query.rs) requires the package's source to have the \
                 kind and URL of the advisory's (the git index), so no advisory ever matches a sparse-index \
                 package. Cargo itself writes the git index in lockfiles even with the sparse protocol, so such a \
                 line is rare, but it is valid",
    },
];

/// One reported match: `kind` is `vulnerability`, or the informational kind (`unmaintained`, `unsound`,
/// `notice`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    kind: String,
    advisory: String,
    package: String,
    version: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.kind, self.advisory, self.package, self.version)
    }
}

fn crate_path(relative: &str) -> PathBuf {
    Path::new(MANIFEST_DIR).join(relative)
}

/// Every OSV record of the database.
fn osv_advisories() -> Result<Vec<Advisory>, Box<dyn Error>> {
    let dir = common::shared_data(OSV_RECORDS);
    let mut advisories = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|error| format!("cannot list {}: {error}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).ok_or("file name is not UTF-8")?.to_owned();
        let bytes = std::fs::read(&path)?;
        advisories.extend(read_records(&bytes, &name).map_err(|error| format!("{name} does not read: {error}"))?);
    }
    Ok(advisories)
}

/// The advisory ids of RustSec's own layout: `crates/<package>/<id>.md`.
fn native_advisory_ids() -> Result<BTreeSet<String>, Box<dyn Error>> {
    let crates = common::shared_data(ADVISORY_DB).join("crates");
    let mut ids = BTreeSet::new();
    for package in std::fs::read_dir(&crates).map_err(|error| format!("cannot list {}: {error}", crates.display()))? {
        for file in std::fs::read_dir(package?.path())? {
            let path = file?.path();
            if path.extension().is_some_and(|ext| ext == "md") {
                let stem = path.file_stem().and_then(|s| s.to_str()).ok_or("file name is not UTF-8")?;
                ids.insert(stem.to_owned());
            }
        }
    }
    Ok(ids)
}

/// Clarion's answer: the lockfile read by `inventory::read`, every advisory tried on every package.
/// Returns the findings and the number of packages read.
fn clarion_findings(lockfile: &Path, advisories: &[Advisory]) -> Result<(BTreeSet<Finding>, usize), Box<dyn Error>> {
    let bytes = std::fs::read(lockfile).map_err(|error| format!("reading {}: {error}", lockfile.display()))?;
    let inventory = inventory::read(&bytes, Some(Format::CargoLock), None)
        .map_err(|error| format!("{} does not read: {error}", lockfile.display()))?;
    let mut findings = BTreeSet::new();
    for package in &inventory.packages {
        for advisory in advisories {
            if affects(advisory, package).is_some() {
                findings.insert(Finding {
                    kind: advisory.informational.clone().unwrap_or_else(|| "vulnerability".to_owned()),
                    advisory: advisory.id.clone(),
                    package: package.name.clone(),
                    version: package.version.clone(),
                });
            }
        }
    }
    Ok((findings, inventory.packages.len()))
}

fn string_at<'v>(value: &'v Value, pointer: &str) -> Result<&'v str, Box<dyn Error>> {
    value.pointer(pointer).and_then(Value::as_str).ok_or_else(|| format!("cargo audit's JSON has no {pointer}").into())
}

/// A finding from one entry of cargo audit's `vulnerabilities.list` or `warnings.<kind>`.
fn audit_finding(kind: &str, entry: &Value) -> Result<Finding, Box<dyn Error>> {
    Ok(Finding {
        kind: kind.to_owned(),
        advisory: string_at(entry, "/advisory/id")?.to_owned(),
        package: string_at(entry, "/package/name")?.to_owned(),
        version: string_at(entry, "/package/version")?.to_owned(),
    })
}

/// What `cargo audit` reports on `lockfile`, and the whole JSON report.
fn cargo_audit_findings(lockfile: &Path) -> Result<(BTreeSet<Finding>, Value), Box<dyn Error>> {
    let db = common::shared_data(ADVISORY_DB);
    // Run from the fixtures folder, which has no `.cargo/audit.toml` to change the settings.
    let output = Command::new("cargo-audit")
        .current_dir(crate_path(FIXTURES))
        .arg("audit")
        .arg("--db")
        .arg(&db)
        .args(["--no-fetch", "--stale", "--no-yanked", "--json", "--file"])
        .arg(lockfile)
        .output()?;
    // 0: nothing found; 1: vulnerabilities found. Anything else is a failure to run.
    if !matches!(output.status.code(), Some(0 | 1)) {
        return Err(format!(
            "cargo audit on {} failed ({}): {}",
            lockfile.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let report: Value = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "cargo audit on {} printed no JSON report ({error}): {}",
            lockfile.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;

    // The settings must be the defaults: no ignored advisory, every informational kind, no OS or arch filter.
    let settings = report.get("settings").ok_or("cargo audit's JSON has no settings")?;
    assert_eq!(settings.get("ignore"), Some(&Value::Array(vec![])), "cargo audit was told to ignore advisories");
    assert_eq!(settings.get("target_os"), Some(&Value::Array(vec![])), "cargo audit was given a target OS");
    assert_eq!(settings.get("target_arch"), Some(&Value::Array(vec![])), "cargo audit was given a target arch");
    let warned = settings.get("informational_warnings").and_then(Value::as_array).ok_or("no informational_warnings")?;
    for kind in ["unmaintained", "unsound", "notice"] {
        assert!(warned.iter().any(|k| k == kind), "cargo audit does not warn of {kind} advisories: {warned:?}");
    }

    let mut findings = BTreeSet::new();
    let list = report.pointer("/vulnerabilities/list").and_then(Value::as_array).ok_or("no vulnerabilities.list")?;
    for entry in list {
        findings.insert(audit_finding("vulnerability", entry)?);
    }
    let warnings = report.get("warnings").and_then(Value::as_object).ok_or("no warnings object")?;
    for (kind, entries) in warnings {
        let entries = entries.as_array().ok_or_else(|| format!("warnings.{kind} is not a list"))?;
        match kind.as_str() {
            "unmaintained" | "unsound" | "notice" => {
                for entry in entries {
                    findings.insert(audit_finding(kind, entry)?);
                }
            }
            // `--no-yanked`: there should be none, and yanked is not Clarion's business either.
            "yanked" => {}
            other => return Err(format!("cargo audit reports warnings of an unknown kind {other:?}").into()),
        }
    }
    Ok((findings, report))
}

/// Whether `cargo-audit` runs at all; `Err` when it is not on the PATH.
fn cargo_audit_version() -> Result<String, Box<dyn Error>> {
    match Command::new("cargo-audit").args(["audit", "--version"]).output() {
        Ok(output) if output.status.success() => Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
        Ok(output) => {
            Err(format!("`cargo-audit audit --version` failed: {}", String::from_utf8_lossy(&output.stderr)).into())
        }
        Err(error) => Err(format!(
            "cargo-audit is not on the PATH ({error}): scripts/test installs it (`cargo install --locked \
             cargo-audit@VERSION`, the version it pins); or set CLARION_SKIP_CARGO_AUDIT=1 to skip this test"
        )
        .into()),
    }
}

#[test]
fn clarion_and_cargo_audit_report_the_same_advisories_on_the_same_database() -> TestResult {
    if std::env::var("CLARION_SKIP_CARGO_AUDIT").is_ok_and(|v| v == "1") {
        println!("cargo_audit: skipped (CLARION_SKIP_CARGO_AUDIT=1)");
        return Ok(());
    }
    let version = cargo_audit_version()?;
    println!("cargo_audit: {version}, database {ADVISORY_DB}");
    let advisories = osv_advisories()?;
    let withdrawn: BTreeSet<&str> =
        advisories.iter().filter(|a| a.withdrawn.is_some()).map(|a| a.id.as_str()).collect();
    assert!(!withdrawn.is_empty(), "the database has withdrawn advisories to check");

    // Both tools read the same advisories, but for the OSV export's one extra record.
    let osv_ids: BTreeSet<String> = advisories.iter().map(|a| a.id.clone()).collect();
    let native_ids = native_advisory_ids()?;
    let osv_only: Vec<&String> = osv_ids.difference(&native_ids).collect();
    let native_only: Vec<&String> = native_ids.difference(&osv_ids).collect();
    assert_eq!(osv_only, [OSV_EXPORT_ONLY], "advisories only in the OSV export");
    assert!(native_only.is_empty(), "advisories only in RustSec's own layout: {native_only:?}");

    let mut unexplained = Vec::new();
    let mut seen_expected = BTreeSet::new();
    for (name, relative, assembled) in LOCKFILES {
        let path = crate_path(relative);
        let (clarion, packages) = clarion_findings(&path, &advisories)?;
        let (audit, report) = cargo_audit_findings(&path)?;
        let count = report.pointer("/database/advisory-count").and_then(Value::as_u64);
        assert_eq!(count, Some(native_ids.len() as u64), "cargo audit loaded every advisory of the database");

        for finding in clarion.iter().chain(&audit) {
            assert!(!withdrawn.contains(finding.advisory.as_str()), "{name}: withdrawn advisory reported: {finding}");
        }

        let differences = clarion
            .difference(&audit)
            .map(|f| (Side::OnlyClarion, f))
            .chain(audit.difference(&clarion).map(|f| (Side::OnlyCargoAudit, f)));
        let mut explained = Vec::new();
        for (side, finding) in differences {
            let expected = EXPECTED.iter().position(|e| {
                e.lockfile == name
                    && e.side == side
                    && e.kind == finding.kind
                    && e.advisory == finding.advisory
                    && e.package == finding.package
                    && e.version == finding.version
            });
            match expected {
                Some(index) => {
                    seen_expected.insert(index);
                    let reason = EXPECTED.get(index).map_or("", |e| e.reason);
                    explained.push(format!("  explained, {side:?}: {finding}: {reason}"));
                }
                None => unexplained.push(format!("{name}: {side:?}: {finding}")),
            }
        }
        let agreed = clarion.intersection(&audit).count();
        let vulnerabilities = |set: &BTreeSet<Finding>| set.iter().filter(|f| f.kind == "vulnerability").count();
        println!(
            "{name}: {packages} crates.io packages (cargo audit: {} dependencies); Clarion {} matches ({} \
             vulnerabilities), cargo audit {} ({}); {agreed} agreed, {} explained differences",
            report.pointer("/lockfile/dependency-count").and_then(Value::as_u64).unwrap_or_default(),
            clarion.len(),
            vulnerabilities(&clarion),
            audit.len(),
            vulnerabilities(&audit),
            explained.len(),
        );
        for line in &explained {
            println!("{line}");
        }
        if assembled {
            assert!(agreed > 0, "{name} is assembled to match advisories, and no match was agreed");
        }
    }

    println!(
        "cargo_audit: {} OSV records read by Clarion; {} advisories in RustSec's layout, all loaded by cargo audit",
        advisories.len(),
        native_ids.len()
    );

    let stale: Vec<String> = EXPECTED
        .iter()
        .enumerate()
        .filter(|(index, _)| !seen_expected.contains(index))
        .map(|(_, e)| format!("{}: {:?}: {} {} {} {}", e.lockfile, e.side, e.kind, e.advisory, e.package, e.version))
        .collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "differences not explained in EXPECTED:\n  {}\nEXPECTED entries that no longer occur:\n  {}",
        unexplained.join("\n  "),
        stale.join("\n  ")
    );
    Ok(())
}
