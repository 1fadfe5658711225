//! `affects` against the OSV specification's evaluation section and its examples, one case per sentence.

use super::*;

fn introduced(v: &str) -> Event {
    Event::Introduced(v.to_owned())
}
fn fixed(v: &str) -> Event {
    Event::Fixed(v.to_owned())
}
fn last_affected(v: &str) -> Event {
    Event::LastAffected(v.to_owned())
}
fn limit(v: &str) -> Event {
    Event::Limit(v.to_owned())
}

fn range(kind: RangeKind, events: Vec<Event>) -> Range {
    Range { kind, events }
}

fn record(affected: Vec<Affected>) -> Advisory {
    Advisory {
        id: "TEST-0001".to_owned(),
        aliases: Vec::new(),
        summary: String::new(),
        details: String::new(),
        modified: Timestamp::default(),
        published: None,
        withdrawn: None,
        severity: None,
        cvss: None,
        informational: None,
        affected,
        references: Vec::new(),
    }
}

fn entry(ecosystem: &str, name: &str, ranges: Vec<Range>, versions: &[&str]) -> Affected {
    Affected {
        ecosystem: ecosystem.to_owned(),
        name: name.to_owned(),
        ranges,
        versions: versions.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn package(ecosystem: &str, name: &str, version: &str) -> Package {
    Package { ecosystem: ecosystem.to_owned(), name: name.to_owned(), version: version.to_owned(), direct: None }
}

/// One range of `kind` for crate `pkg`.
fn crate_advisory(kind: RangeKind, events: Vec<Event>) -> Advisory {
    record(vec![entry("crates.io", "pkg", vec![range(kind, events)], &[])])
}

/// Asserts, for each `(version, expected)`, whether `advisory` affects crate `pkg` at that version.
fn assert_cases(advisory: &Advisory, ecosystem: &str, name: &str, cases: &[(&str, bool)]) {
    for (version, expected) in cases {
        let hit = affects(advisory, &package(ecosystem, name, version));
        assert_eq!(hit.is_some(), *expected, "{ecosystem} {name} {version}: expected affected={expected}, got {hit:?}");
    }
}

#[test]
fn spec_unfixed_example_affects_every_version() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("0")]);
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[("0.0.0", true), ("0.0.0-0", true), ("0.1.0-alpha", true), ("1.0.0", true), ("99.99.99", true)],
    );
    assert_eq!(affects(&advisory, &package("crates.io", "pkg", "1.0.0")), Some(Hit { fixed: vec![] }));
}

#[test]
fn spec_fixed_example_affects_everything_before_the_fix() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("0"), fixed("1.0.2")]);
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[
            ("0.0.1", true),
            ("1.0.1", true),
            // A pre-release of the fix comes before it: still affected.
            ("1.0.2-rc.1", true),
            ("1.0.2", false),
            ("1.0.2+build.5", false),
            ("1.0.3", false),
            ("2.0.0", false),
        ],
    );
    assert_eq!(affects(&advisory, &package("crates.io", "pkg", "1.0.1")), Some(Hit { fixed: vec!["1.0.2".into()] }));
}

#[test]
fn spec_multiple_range_example_affects_both_intervals_only() {
    let advisory = crate_advisory(
        RangeKind::Semver,
        vec![introduced("1.0.0"), fixed("1.0.2"), introduced("3.0.0"), fixed("3.2.5")],
    );
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[
            ("0.9.9", false),
            ("1.0.0-rc.1", false),
            ("1.0.0", true),
            ("1.0.1", true),
            ("1.0.2", false),
            ("2.5.0", false),
            ("3.0.0-0", false),
            ("3.0.0", true),
            ("3.2.4", true),
            ("3.2.5-alpha", true),
            ("3.2.5", false),
            ("4.0.0", false),
        ],
    );
    // Below the first fix, both fixes are above: the lowest comes first.
    assert_eq!(
        affects(&advisory, &package("crates.io", "pkg", "1.0.1")),
        Some(Hit { fixed: vec!["1.0.2".into(), "3.2.5".into()] })
    );
    assert_eq!(affects(&advisory, &package("crates.io", "pkg", "3.1.0")), Some(Hit { fixed: vec!["3.2.5".into()] }));
}

#[test]
fn spec_last_affected_example_includes_the_last_affected_version() {
    let advisory = crate_advisory(RangeKind::Ecosystem, vec![introduced("0"), last_affected("2.1.214")]);
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[("1.0.0", true), ("2.1.214", true), ("2.1.215-rc.1", false), ("2.1.215", false), ("3.0.0", false)],
    );
    assert_eq!(affects(&advisory, &package("crates.io", "pkg", "2.1.214")), Some(Hit { fixed: vec![] }));
}

#[test]
fn spec_fixed_counterpart_of_last_affected_excludes_the_fixed_version() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("0"), fixed("2.1.214")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("2.1.213", true), ("2.1.214", false), ("2.1.215", false)]);
}

#[test]
fn limit_is_an_exclusive_upper_bound() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("1.0.0"), limit("2.0.0")]);
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[("0.9.0", false), ("1.0.0", true), ("1.9.9", true), ("2.0.0-rc.1", true), ("2.0.0", false), ("3.0.0", false)],
    );
}

#[test]
fn limit_star_is_no_limit() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("1.0.0"), limit("*")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("0.9.0", false), ("1.0.0", true), ("999.0.0", true)]);
}

#[test]
fn any_limit_above_the_version_lets_the_range_apply() {
    // BeforeLimits: true as soon as one limit is above the version.
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("1.0.0"), limit("1.5.0"), limit("3.0.0")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("1.2.0", true), ("2.0.0", true), ("3.0.0", false)]);
}

#[test]
fn limit_cuts_a_range_that_a_fix_does_not_close() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("0"), fixed("1.0.0"), limit("0.5.0")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("0.4.0", true), ("0.5.0", false), ("0.9.0", false)]);
}

#[test]
fn versions_list_matches_by_exact_string() {
    let advisory = record(vec![entry("crates.io", "pkg", vec![], &["1.0.0", "1.0.1"])]);
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[("1.0.0", true), ("1.0.1", true), ("1.0.2", false), ("v1.0.0", false)],
    );
    assert_eq!(affects(&advisory, &package("crates.io", "pkg", "1.0.0")), Some(Hit { fixed: vec![] }));
}

#[test]
fn versions_list_or_range_either_is_enough() {
    let advisory = record(vec![entry(
        "crates.io",
        "pkg",
        vec![range(RangeKind::Semver, vec![introduced("2.0.0"), fixed("2.1.0")])],
        &["1.0.0"],
    )]);
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[("1.0.0", true), ("2.0.5", true), ("1.5.0", false), ("2.1.0", false)],
    );
}

#[test]
fn events_are_sorted_before_the_walk() {
    // The record lists them out of order; the evaluation sorts them.
    let advisory = crate_advisory(
        RangeKind::Semver,
        vec![fixed("3.2.5"), introduced("3.0.0"), fixed("1.0.2"), introduced("1.0.0")],
    );
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[("0.5.0", false), ("1.0.1", true), ("2.0.0", false), ("3.1.0", true), ("3.2.5", false)],
    );
}

#[test]
fn introduced_zero_sorts_below_every_version_even_the_lowest_pre_release() {
    let advisory = crate_advisory(RangeKind::Semver, vec![fixed("0.0.0-1"), introduced("0")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("0.0.0-0", true), ("0.0.0-1", false)]);
}

#[test]
fn pre_releases_fall_inside_ranges_unlike_a_version_requirement_match() {
    // RustSec's shape: every 0.7 pre-release and release below 0.7.6.
    let advisory = crate_advisory(
        RangeKind::Semver,
        vec![introduced("0.6.0"), fixed("0.6.2"), introduced("0.7.0-0"), fixed("0.7.6")],
    );
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[
            ("0.6.2", false),
            ("0.6.99", false),
            ("0.7.0-0", true),
            ("0.7.0-alpha.1", true),
            ("0.7.0", true),
            ("0.7.6-rc.1", true),
            ("0.7.6", false),
        ],
    );
}

#[test]
fn a_range_of_only_pre_releases_excludes_the_release() {
    // RUSTSEC-2021-0035's last pair: introduced 0.7.0-0, fixed 0.7.0.
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("0.7.0-0"), fixed("0.7.0")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("0.6.9", false), ("0.7.0-beta.1", true), ("0.7.0", false)]);
}

#[test]
fn withdrawn_advisories_affect_nothing() {
    let mut advisory = crate_advisory(RangeKind::Semver, vec![introduced("0")]);
    advisory.affected[0].versions.push("1.0.0".to_owned());
    advisory.withdrawn = Some(Timestamp::default());
    assert_cases(&advisory, "crates.io", "pkg", &[("0.1.0", false), ("1.0.0", false)]);
}

#[test]
fn git_ranges_never_match_a_package_version() {
    let advisory = crate_advisory(RangeKind::Git, vec![introduced("0")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("1.0.0", false)]);
    let advisory = crate_advisory(RangeKind::Other("DEBIAN".into()), vec![introduced("0")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("1.0.0", false)]);
}

#[test]
fn ecosystem_and_name_must_be_the_packages() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("0")]);
    assert_cases(&advisory, "npm", "pkg", &[("1.0.0", false)]);
    assert_cases(&advisory, "crates.io", "pkg2", &[("1.0.0", false)]);
    assert_cases(&advisory, "crates.io", "Pkg", &[("1.0.0", false)]);
    let debian = record(vec![entry("Debian:11", "pkg", vec![range(RangeKind::Ecosystem, vec![introduced("0")])], &[])]);
    assert_cases(&debian, "Debian:11", "pkg", &[("1.0", true)]);
    assert_cases(&debian, "Debian:12", "pkg", &[("1.0", false)]);
    assert_cases(&debian, "Debian", "pkg", &[("1.0", false)]);
}

#[test]
fn pypi_names_are_compared_normalized() {
    let advisory = record(vec![entry(
        "PyPI",
        "Foo.Bar_baz",
        vec![range(RangeKind::Ecosystem, vec![introduced("0"), fixed("2.0")])],
        &[],
    )]);
    assert_cases(&advisory, "PyPI", "foo-bar-baz", &[("1.0", true), ("2.0", false)]);
    assert_cases(&advisory, "PyPI", "FOO__BAR--BAZ", &[("1.0", true)]);
    assert_cases(&advisory, "PyPI", "foobarbaz", &[("1.0", false)]);
    assert_eq!(normalize_pypi_name("Foo.Bar__baz-"), "foo-bar-baz-");
}

#[test]
fn pypi_ranges_order_by_pep_440() {
    let advisory = record(vec![entry(
        "PyPI",
        "django",
        vec![range(RangeKind::Ecosystem, vec![introduced("4.0"), fixed("4.0.2"), introduced("4.1a1"), fixed("4.1.1")])],
        &[],
    )]);
    assert_cases(
        &advisory,
        "PyPI",
        "django",
        &[
            ("3.2.9", false),
            ("4.0.0", true),
            ("4.0.1.post1", true),
            ("4.0.2rc1", true),
            ("4.0.2", false),
            ("4.0.2.post1", false),
            ("4.1.dev0", false),
            ("4.1a1", true),
            ("4.1", true),
            ("4.1.1.dev3", true),
            ("4.1.1", false),
            ("4.1.10", false),
        ],
    );
    // 4.0.2 and 4.1.1 in PEP 440 order, not as text.
    assert_eq!(
        affects(&advisory, &package("PyPI", "django", "4.0.1")),
        Some(Hit { fixed: vec!["4.0.2".into(), "4.1.1".into()] })
    );
}

#[test]
fn npm_ranges_order_by_semver() {
    let advisory = record(vec![entry(
        "npm",
        "elliptic",
        vec![range(RangeKind::Ecosystem, vec![introduced("0"), fixed("6.5.4")])],
        &[],
    )]);
    assert_cases(
        &advisory,
        "npm",
        "elliptic",
        &[("6.5.3", true), ("6.5.4-beta.1", true), ("6.5.4", false), ("6.10.0", false), ("v6.5.3", true)],
    );
}

#[test]
fn ecosystem_ranges_of_an_unordered_ecosystem_are_not_evaluated_but_versions_still_match() {
    let advisory = record(vec![entry(
        "Maven",
        "org.example:lib",
        vec![range(RangeKind::Ecosystem, vec![introduced("1.0"), fixed("1.5")])],
        &["1.2"],
    )]);
    assert_cases(&advisory, "Maven", "org.example:lib", &[("1.2", true), ("1.3", false)]);
    // A SEMVER range is SemVer whatever the ecosystem.
    let go = record(vec![entry(
        "Go",
        "example.com/mod",
        vec![range(RangeKind::Semver, vec![introduced("0"), fixed("1.5.0")])],
        &[],
    )]);
    assert_cases(&go, "Go", "example.com/mod", &[("1.4.0", true), ("1.5.0", false)]);
    // `introduced: 0` alone needs no ordering: every version.
    let all =
        record(vec![entry("Go", "example.com/mod", vec![range(RangeKind::Ecosystem, vec![introduced("0")])], &[])]);
    assert_cases(&all, "Go", "example.com/mod", &[("whatever", true)]);
}

#[test]
fn unreadable_versions_make_a_range_include_nothing() {
    let advisory = crate_advisory(RangeKind::Semver, vec![introduced("0"), fixed("1.0.0")]);
    assert_cases(&advisory, "crates.io", "pkg", &[("not-a-version", false), ("", false), ("1.0.0.0", false)]);
    let broken_bound = crate_advisory(RangeKind::Semver, vec![introduced("0"), fixed("one")]);
    assert_cases(&broken_bound, "crates.io", "pkg", &[("0.1.0", false), ("5.0.0", false)]);
}

#[test]
fn any_matching_affected_entry_is_enough() {
    let advisory = record(vec![
        entry("crates.io", "pkg", vec![range(RangeKind::Semver, vec![introduced("1.0.0"), fixed("1.1.0")])], &[]),
        entry("crates.io", "other", vec![range(RangeKind::Semver, vec![introduced("0")])], &[]),
        entry("crates.io", "pkg", vec![range(RangeKind::Semver, vec![introduced("2.0.0"), fixed("2.1.0")])], &[]),
    ]);
    assert_cases(
        &advisory,
        "crates.io",
        "pkg",
        &[("1.0.5", true), ("1.5.0", false), ("2.0.5", true), ("2.1.0", false)],
    );
}

#[test]
fn fixed_versions_are_sorted_by_the_ecosystem_and_deduplicated() {
    let advisory = record(vec![entry(
        "crates.io",
        "pkg",
        vec![
            range(RangeKind::Semver, vec![introduced("0"), fixed("1.10.0")]),
            range(RangeKind::Semver, vec![introduced("0"), fixed("1.9.0"), introduced("1.9.5"), fixed("1.10.0")]),
            range(RangeKind::Ecosystem, vec![introduced("0"), fixed("1.9.0+build")]),
            // Does not include 1.0.0: its fix is no proposal.
            range(RangeKind::Semver, vec![introduced("5.0.0"), fixed("5.0.1")]),
        ],
        &[],
    )]);
    let hit = affects(&advisory, &package("crates.io", "pkg", "1.0.0"));
    assert_eq!(hit, Some(Hit { fixed: vec!["1.9.0".into(), "1.10.0".into()] }));
}

#[test]
fn fixed_versions_at_or_below_the_package_version_are_not_proposed() {
    let advisory =
        crate_advisory(RangeKind::Semver, vec![introduced("0"), fixed("1.0.0"), introduced("1.5.0"), fixed("2.0.0")]);
    assert_eq!(affects(&advisory, &package("crates.io", "pkg", "1.6.0")), Some(Hit { fixed: vec!["2.0.0".into()] }));
}
