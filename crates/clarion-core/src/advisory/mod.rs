//! Vulnerability watch, the pure part: advisories (OSV's model), the packages a service ships, and
//! whether an advisory affects a package — evaluated exactly as the OSV specification says
//! (<https://ossf.github.io/osv-schema/#evaluation>).
//!
//! Versions are compared per ecosystem (`version`): crates.io and npm by SemVer 2.0 precedence (a
//! pre-release sorts before its release), PyPI by PEP 440. **A withdrawn advisory affects nothing; a range that
//! cannot be evaluated (`GIT`, an `ECOSYSTEM` range in an ecosystem Clarion cannot order, a version that cannot
//! be read) includes nothing, while `versions` lists still match by exact string.** No JSON here:
//! `clarion-advisories` reads OSV records and lockfiles into these types.

pub mod version;
pub mod watch;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use version::{Scheme, Version};

/// One package a service ships, from its inventory (a lockfile or an SBOM).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Package {
    /// OSV's ecosystem name: `crates.io`, `npm`, `PyPI`, …
    pub ecosystem: String,
    /// The name as the ecosystem spells it (PyPI names normalized per PEP 503: lowercase, runs of
    /// `-_.` as one `-`).
    pub name: String,
    pub version: String,
    /// Whether the service depends on it directly (`Some(true)`), only through others (`Some(false)`),
    /// or the inventory does not say (`None`).
    pub direct: Option<bool>,
}

/// An advisory, as OSV describes it (only what matching and the message need).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub details: String,
    pub modified: Timestamp,
    pub published: Option<Timestamp>,
    /// Set when the advisory was withdrawn: it then affects nothing.
    pub withdrawn: Option<Timestamp>,
    /// `critical`, `high`, `medium`, `low` or `none` (from a CVSS base score, or the database's own
    /// rating); `None` when the record gives neither.
    pub severity: Option<String>,
    /// The CVSS vector as given (`CVSS:3.1/AV:N/…`), for the message.
    pub cvss: Option<String>,
    /// An informational advisory (RustSec's `unmaintained`, `unsound`, `notice`): not a vulnerability.
    pub informational: Option<String>,
    pub affected: Vec<Affected>,
    /// Reference URLs (advisory pages first).
    pub references: Vec<String>,
}

/// One `affected[]` entry: a package and the versions of it the advisory concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    pub ecosystem: String,
    pub name: String,
    pub ranges: Vec<Range>,
    /// Versions listed one by one (`affected[].versions`).
    pub versions: Vec<String>,
}

/// One `ranges[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    /// Commit hashes: never matches a package version.
    Git,
    Other(String),
}

/// One event of a range, with its version as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

/// Why an advisory affects a package, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The `fixed` versions above the package's version in the ranges that matched, lowest first: the
    /// upgrade to propose. Empty when no fix is known.
    pub fixed: Vec<String>,
}

/// Whether `advisory` affects `package`, by the OSV specification's `IsVulnerable`: not withdrawn, and for an
/// `affected[]` entry naming the package (same ecosystem string, same name — PyPI names compared after PEP 503
/// normalization), the version is listed in `versions` (exact string) or falls in one of its `ranges`.
///
/// A range is evaluated as the specification's `IncludedInRanges` says: its version is below one of its
/// `limit`s (none means no limit; a limit containing `*` is no limit), then its other events are sorted by
/// version (`introduced: "0"` lowest; equal versions keep their order in the record) and walked in order —
/// `introduced` at or below the version makes it vulnerable, `fixed` at or below makes it not, and
/// `last_affected` strictly below makes it not. The range includes the version when the walk ends vulnerable.
/// Versions are ordered by SemVer in a `SEMVER` range and by the ecosystem's ordering in an `ECOSYSTEM` one.
/// A range is not evaluated (it includes nothing) when it is `GIT` or of an unknown type, when it is
/// `ECOSYSTEM` in an ecosystem Clarion cannot order, or when one of its versions or the package's cannot be
/// read — except that a range whose only bounds are `introduced: "0"` (and `*` limits) includes every version,
/// as it says, without reading any.
pub fn affects(advisory: &Advisory, package: &Package) -> Option<Hit> {
    if advisory.withdrawn.is_some() {
        return None;
    }
    let mut affected = false;
    let mut fixes: Vec<(Version, &str)> = Vec::new();
    for entry in advisory.affected.iter().filter(|entry| names_package(entry, package)) {
        if entry.versions.contains(&package.version) {
            affected = true;
        }
        for range in &entry.ranges {
            if let Some(fixes_above) = included_in_range(range, &entry.ecosystem, &package.version) {
                affected = true;
                fixes.extend(fixes_above);
            }
        }
    }
    if !affected {
        return None;
    }
    fixes.sort();
    fixes.dedup_by(|later, earlier| later.0 == earlier.0);
    Some(Hit { fixed: fixes.into_iter().map(|(_, text)| text.to_owned()).collect() })
}

/// A PyPI project name normalized as PEP 503 says: lowercase, each run of `-`, `_` and `.` as one `-`.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                normalized.push('-');
            }
            in_separator_run = true;
        } else {
            normalized.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    normalized
}

/// OSV's `affected.package == pkg`.
fn names_package(entry: &Affected, package: &Package) -> bool {
    if entry.ecosystem != package.ecosystem {
        return false;
    }
    if Scheme::for_ecosystem(&entry.ecosystem) == Some(Scheme::Pep440) {
        normalize_pypi_name(&entry.name) == normalize_pypi_name(&package.name)
    } else {
        entry.name == package.name
    }
}

/// Where an event sits on the version line: `introduced: "0"` below every version, or at a version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bound {
    Zero,
    At(Version),
}

/// What an event does when the walk reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step<'a> {
    Introduced,
    Fixed(&'a str),
    LastAffected,
}

/// `IncludedInRanges` for one range: `Some(the range's fixed versions above the package's)` when the range
/// includes `version`, `None` when it does not or cannot be evaluated.
fn included_in_range<'a>(range: &'a Range, ecosystem: &str, version: &str) -> Option<Vec<(Version, &'a str)>> {
    let scheme = match range.kind {
        RangeKind::Semver => Some(Scheme::SemVer),
        RangeKind::Ecosystem => Scheme::for_ecosystem(ecosystem),
        RangeKind::Git | RangeKind::Other(_) => return None,
    };
    let read = |text: &str| scheme.and_then(|scheme| scheme.parse(text));

    // Every bound read first: one that cannot be read leaves the whole range unevaluated.
    let mut timeline: Vec<(Bound, Step<'a>)> = Vec::with_capacity(range.events.len());
    let mut limits: Vec<Option<Version>> = Vec::new(); // `None` is a `*` limit: no limit.
    for event in &range.events {
        match event {
            Event::Introduced(text) if text == "0" => timeline.push((Bound::Zero, Step::Introduced)),
            Event::Introduced(text) => timeline.push((Bound::At(read(text)?), Step::Introduced)),
            Event::Fixed(text) => timeline.push((Bound::At(read(text)?), Step::Fixed(text))),
            Event::LastAffected(text) => timeline.push((Bound::At(read(text)?), Step::LastAffected)),
            Event::Limit(text) if text.contains('*') => limits.push(None),
            Event::Limit(text) => limits.push(Some(read(text)?)),
        }
    }
    let compares_versions =
        timeline.iter().any(|(bound, _)| matches!(bound, Bound::At(_))) || limits.iter().any(Option::is_some);
    let version = if compares_versions { Some(read(version)?) } else { None };
    // `version >= bound` and `version > bound`; a bound at a version is only met when `version` was read,
    // which it was whenever there is one.
    let at_or_above = |bound: &Bound| match (bound, &version) {
        (Bound::Zero, _) => true,
        (Bound::At(at), Some(version)) => version >= at,
        (Bound::At(_), None) => false,
    };
    let above = |bound: &Bound| match (bound, &version) {
        (Bound::Zero, _) => true,
        (Bound::At(at), Some(version)) => version > at,
        (Bound::At(_), None) => false,
    };

    // BeforeLimits.
    let before_limits = limits.is_empty()
        || limits.iter().any(|limit| match (limit, &version) {
            (None, _) => true,
            (Some(limit), Some(version)) => version < limit,
            (Some(_), None) => false,
        });
    if !before_limits {
        return None;
    }

    // The walk over the sorted events (a stable sort: equal versions keep the record's order).
    timeline.sort_by(|a, b| a.0.cmp(&b.0));
    let mut vulnerable = false;
    for (bound, step) in &timeline {
        match step {
            Step::Introduced if at_or_above(bound) => vulnerable = true,
            Step::Fixed(_) if at_or_above(bound) => vulnerable = false,
            Step::LastAffected if above(bound) => vulnerable = false,
            _ => {}
        }
    }
    if !vulnerable {
        return None;
    }
    Some(
        timeline
            .into_iter()
            .filter_map(|(bound, step)| match (bound, step) {
                (Bound::At(fixed), Step::Fixed(text)) if version.as_ref().is_some_and(|version| fixed > *version) => {
                    Some((fixed, text))
                }
                _ => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests;
