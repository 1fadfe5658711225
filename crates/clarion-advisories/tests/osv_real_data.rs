//! The OSV reader and `affects` on real data: all 1,206 RustSec records of `shared/data/osv/rustsec`, every
//! bound of every record probed just below, at and just above, against an independent reading of the events;
//! then `read_records` on the inputs it accepts (zip, array, object) and refuses (malformed JSON, no `id`, a
//! zip bomb).

mod common;

use std::cmp::Ordering;
use std::error::Error;
use std::io::{Cursor, Write};

use clarion_advisories::osv::{read_record, read_records, read_records_skipping, MAX_ENTRY_BYTES};
use clarion_core::advisory::{affects, Advisory, Event, Hit, Package, RangeKind};

type TestResult = Result<(), Box<dyn Error>>;

/// Every RustSec record, with its file name, in file-name order.
fn rustsec() -> Result<Vec<(String, Advisory)>, Box<dyn Error>> {
    let mut files = std::fs::read_dir(common::shared_data("osv/rustsec"))
        .map_err(|error| format!("cannot list {}: {error}", common::shared_data("osv/rustsec").display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
    files.sort();
    let mut records = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).ok_or("file name is not UTF-8")?.to_owned();
        let bytes = std::fs::read(&path)?;
        let mut read = read_records(&bytes, &name).map_err(|error| format!("{name} does not read: {error}"))?;
        assert_eq!(read.len(), 1, "{name} holds one record");
        let advisory = read.pop().ok_or("no record")?;
        records.push((name, advisory));
    }
    Ok(records)
}

fn crate_package(name: &str, version: &str) -> Package {
    Package { ecosystem: "crates.io".into(), name: name.into(), version: version.into(), direct: None }
}

// ---- An independent reading of a SEMVER range: the events as a list of intervals. ----

/// SemVer precedence by hand on the `semver` crate's fields: build metadata left out.
fn precedence(a: &semver::Version, b: &semver::Version) -> Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| a.pre.cmp(&b.pre))
}

/// `None` is OSV's `introduced: "0"`, below everything.
fn bound(text: &str) -> Result<Option<semver::Version>, Box<dyn Error>> {
    if text == "0" {
        return Ok(None);
    }
    Ok(Some(semver::Version::parse(text).map_err(|error| format!("bound {text:?}: {error}"))?))
}

/// One affected interval: from `start` (inclusive, `None` = from the very bottom) to `end` (`None` = no end),
/// with `end` included for `last_affected` and excluded for `fixed`.
#[derive(Debug)]
struct Interval {
    start: Option<semver::Version>,
    end: Option<(semver::Version, bool)>,
}

impl Interval {
    fn contains(&self, v: &semver::Version) -> bool {
        let after_start = self.start.as_ref().is_none_or(|start| precedence(v, start) != Ordering::Less);
        let before_end = match &self.end {
            None => true,
            Some((end, inclusive)) => match precedence(v, end) {
                Ordering::Less => true,
                Ordering::Equal => *inclusive,
                Ordering::Greater => false,
            },
        };
        after_start && before_end
    }
}

/// The intervals a range's events describe: sorted, each `introduced` opens one unless one is open, each
/// `fixed`/`last_affected` closes the open one. (RustSec uses neither `limit` nor `last_affected`.)
fn intervals(events: &[Event]) -> Result<Vec<Interval>, Box<dyn Error>> {
    let mut points = Vec::new();
    for event in events {
        match event {
            Event::Introduced(v) => points.push((bound(v)?, 0)),
            Event::Fixed(v) => points.push((bound(v)?, 1)),
            Event::LastAffected(v) => points.push((bound(v)?, 2)),
            Event::Limit(_) => return Err("the RustSec data has no limit events".into()),
        }
    }
    points.sort_by(|(a, _), (b, _)| match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => precedence(a, b),
    });
    let mut found = Vec::new();
    let mut open: Option<Option<semver::Version>> = None;
    for (version, kind) in points {
        match (kind, open.take()) {
            (0, None) => open = Some(version),
            (0, still_open) => open = still_open,
            (_, None) => {}
            (kind, Some(start)) => {
                let end = version.ok_or("a fix at \"0\"")?;
                found.push(Interval { start, end: Some((end, kind == 2)) });
            }
        }
    }
    if let Some(start) = open {
        found.push(Interval { start, end: None });
    }
    Ok(found)
}

/// What the record says about `name` at `version`: affected or not, and the fixes above it (lowest first).
fn expected(advisory: &Advisory, name: &str, version: &semver::Version) -> Result<Option<Vec<String>>, Box<dyn Error>> {
    if advisory.withdrawn.is_some() {
        return Ok(None);
    }
    let mut affected = false;
    let mut fixes: Vec<semver::Version> = Vec::new();
    for entry in advisory.affected.iter().filter(|e| e.ecosystem == "crates.io" && e.name == name) {
        affected |= entry.versions.iter().any(|listed| *listed == version.to_string());
        for range in &entry.ranges {
            assert_eq!(range.kind, RangeKind::Semver, "{}: RustSec ranges are SEMVER", advisory.id);
            if intervals(&range.events)?.iter().any(|interval| interval.contains(version)) {
                affected = true;
                for event in &range.events {
                    if let Event::Fixed(fixed) = event {
                        let fixed = semver::Version::parse(fixed)?;
                        if precedence(&fixed, version) == Ordering::Greater {
                            fixes.push(fixed);
                        }
                    }
                }
            }
        }
    }
    fixes.sort_by(precedence);
    fixes.dedup_by(|a, b| precedence(a, b) == Ordering::Equal);
    Ok(affected.then(|| fixes.iter().map(ToString::to_string).collect()))
}

/// Versions just below, at and just above `bound`.
fn probes_around(bound: &semver::Version) -> Vec<semver::Version> {
    let make = |major: u64, minor: u64, patch: u64, pre: &str| {
        let mut v = semver::Version::new(major, minor, patch);
        v.pre = semver::Prerelease::new(pre).unwrap_or(semver::Prerelease::EMPTY);
        v
    };
    let (major, minor, patch) = (bound.major, bound.minor, bound.patch);
    let mut probes = vec![bound.clone(), make(major, minor, patch + 1, ""), make(major, minor, patch + 1, "0")];
    // Just below the release: its pre-releases, and the release before it.
    probes.push(make(major, minor, patch, "0"));
    probes.push(make(major, minor, patch, "rc.1"));
    if patch > 0 {
        probes.push(make(major, minor, patch - 1, ""));
    } else if minor > 0 {
        probes.push(make(major, minor - 1, 999, ""));
    } else if major > 0 {
        probes.push(make(major - 1, 999, 999, ""));
    }
    if !bound.pre.is_empty() {
        // Just above a pre-release: one more identifier; and its release.
        probes.push(make(major, minor, patch, &format!("{}.0", bound.pre)));
        probes.push(make(major, minor, patch, ""));
        // Just below: the last numeric identifier minus one.
        if let Some((head, last)) = bound.pre.as_str().rsplit_once('.') {
            if let Ok(n @ 1..) = last.parse::<u64>() {
                probes.push(make(major, minor, patch, &format!("{head}.{}", n - 1)));
            }
        }
    }
    probes
}

#[derive(Debug, Default)]
struct Counts {
    records: usize,
    pre_release: usize,
    withdrawn: usize,
    multi_range: usize,
    informational: usize,
    probes: usize,
    affected_probes: usize,
}

#[test]
fn every_rustsec_record_reads_and_every_bound_answers_as_the_specification_says() -> TestResult {
    let records = rustsec()?;
    let mut counts = Counts { records: records.len(), ..Counts::default() };
    for (file, advisory) in &records {
        assert_eq!(format!("{}.json", advisory.id), *file, "the id names the file");
        let bounds: Vec<&str> = advisory
            .affected
            .iter()
            .flat_map(|a| &a.ranges)
            .flat_map(|r| &r.events)
            .map(|event| match event {
                Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v.as_str(),
            })
            .collect();
        let pre_release = bounds.iter().any(|b| *b != "0.0.0-0" && b.contains('-'));
        let ranges: Vec<_> = advisory.affected.iter().flat_map(|a| &a.ranges).collect();
        let pairs = ranges.iter().map(|r| r.events.iter().filter(|e| matches!(e, Event::Introduced(_))).count());
        let multi_range = advisory.affected.len() > 1 || ranges.len() > 1 || pairs.max().unwrap_or(0) > 1;
        counts.pre_release += usize::from(pre_release);
        counts.withdrawn += usize::from(advisory.withdrawn.is_some());
        counts.multi_range += usize::from(multi_range);
        counts.informational += usize::from(advisory.informational.is_some());

        // Every record is probed; the categories above are the ones the count must show.
        let mut probes = Vec::new();
        for text in &bounds {
            if let Some(version) = bound(text)? {
                probes.extend(probes_around(&version));
            }
        }
        probes.push(semver::Version::new(0, 0, 0));
        for entry in &advisory.affected {
            for probe in &probes {
                let want = expected(advisory, &entry.name, probe)?;
                let got = affects(advisory, &crate_package(&entry.name, &probe.to_string()));
                assert_eq!(
                    got,
                    want.clone().map(|fixed| Hit { fixed }),
                    "{}: {} {probe}: events {:?}",
                    advisory.id,
                    entry.name,
                    entry.ranges
                );
                counts.probes += 1;
                counts.affected_probes += usize::from(want.is_some());
                if advisory.withdrawn.is_some() {
                    // Withdrawn is what stops it: the same record, not withdrawn, answers by its ranges.
                    let mut live = advisory.clone();
                    live.withdrawn = None;
                    let want = expected(&live, &entry.name, probe)?;
                    assert_eq!(
                        affects(&live, &crate_package(&entry.name, &probe.to_string())).is_some(),
                        want.is_some()
                    );
                }
            }
        }
    }
    println!(
        "records: {}, pre-release records: {}, withdrawn: {}, multi-range: {}, informational: {}, probes: {} ({} affected)",
        counts.records,
        counts.pre_release,
        counts.withdrawn,
        counts.multi_range,
        counts.informational,
        counts.probes,
        counts.affected_probes
    );
    assert_eq!(counts.records, 1206, "the snapshot's README counts 1,206 records");
    assert_eq!(counts.withdrawn, 13, "13 withdrawn records in the snapshot");
    assert!(counts.pre_release > 0, "{counts:?}");
    assert!(counts.multi_range > 0, "{counts:?}");
    assert!(counts.affected_probes > 0 && counts.affected_probes < counts.probes, "{counts:?}");
    Ok(())
}

fn record(records: &[(String, Advisory)], id: &str) -> Result<Advisory, Box<dyn Error>> {
    Ok(records.iter().find(|(_, a)| a.id == id).ok_or_else(|| format!("{id} is in the data"))?.1.clone())
}

fn fixes(advisory: &Advisory, name: &str, version: &str) -> Option<Vec<String>> {
    affects(advisory, &crate_package(name, version)).map(|hit| hit.fixed)
}

#[test]
fn openssl_before_0_9_0_is_affected_including_its_release_candidates() -> TestResult {
    // RUSTSEC-2016-0001: introduced 0.0.0-0, fixed 0.9.0; CVSS 3.0 8.1.
    let advisory = record(&rustsec()?, "RUSTSEC-2016-0001")?;
    assert_eq!(fixes(&advisory, "openssl", "0.8.3"), Some(vec!["0.9.0".to_owned()]));
    assert_eq!(fixes(&advisory, "openssl", "0.9.0-rc.1"), Some(vec!["0.9.0".to_owned()]));
    assert_eq!(fixes(&advisory, "openssl", "0.9.0"), None);
    assert_eq!(fixes(&advisory, "openssl", "0.10.55"), None);
    assert_eq!(fixes(&advisory, "openssl-sys", "0.8.3"), None);
    assert_eq!(advisory.severity.as_deref(), Some("high"));
    assert_eq!(advisory.cvss.as_deref(), Some("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"));
    assert_eq!(advisory.aliases, ["CVE-2016-10931", "GHSA-34p9-f4q3-c4r7"]);
    assert_eq!(
        advisory.references.first().map(String::as_str),
        Some("https://rustsec.org/advisories/RUSTSEC-2016-0001.html"),
        "the ADVISORY reference comes first"
    );
    assert_eq!(advisory.informational, None);
    Ok(())
}

#[test]
fn quinn_0_7_pre_releases_are_affected_and_0_7_0_is_not() -> TestResult {
    // RUSTSEC-2021-0035 (unsound): [0.0.0-0, 0.5.4), [0.6.0-0, 0.6.2), [0.7.0-0, 0.7.0).
    let advisory = record(&rustsec()?, "RUSTSEC-2021-0035")?;
    assert_eq!(fixes(&advisory, "quinn", "0.7.0-beta.1"), Some(vec!["0.7.0".to_owned()]));
    assert_eq!(fixes(&advisory, "quinn", "0.7.0"), None);
    assert_eq!(fixes(&advisory, "quinn", "0.6.1"), Some(vec!["0.6.2".to_owned(), "0.7.0".to_owned()]));
    assert_eq!(fixes(&advisory, "quinn", "0.6.2"), None);
    assert_eq!(fixes(&advisory, "quinn", "0.5.4"), None);
    assert_eq!(
        fixes(&advisory, "quinn", "0.5.3"),
        Some(vec!["0.5.4".to_owned(), "0.6.2".to_owned(), "0.7.0".to_owned()])
    );
    assert_eq!(advisory.informational.as_deref(), Some("unsound"));
    assert_eq!(advisory.severity.as_deref(), Some("high"), "CVSS 3.1 AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N is 7.5");
    Ok(())
}

#[test]
fn time_0_2_x_alternates_between_affected_and_fixed_releases() -> TestResult {
    // RUSTSEC-2020-0071: below 0.2.0, the pre-releases of 0.2.1 to 0.2.6, and [0.2.7-0, 0.2.23).
    let advisory = record(&rustsec()?, "RUSTSEC-2020-0071")?;
    assert_eq!(fixes(&advisory, "time", "0.1.43").and_then(|f| f.first().cloned()), Some("0.2.0".to_owned()));
    assert_eq!(fixes(&advisory, "time", "0.2.6"), None);
    assert_eq!(fixes(&advisory, "time", "0.2.6-alpha"), Some(vec!["0.2.6".to_owned(), "0.2.23".to_owned()]));
    assert_eq!(fixes(&advisory, "time", "0.2.22"), Some(vec!["0.2.23".to_owned()]));
    assert_eq!(fixes(&advisory, "time", "0.2.23"), None);
    assert_eq!(fixes(&advisory, "time", "0.3.0"), None);
    assert_eq!(advisory.severity.as_deref(), Some("medium"), "CVSS 3.1 AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H is 6.2");
    Ok(())
}

#[test]
fn borsh_1_0_0_alpha_0_is_below_the_alpha_1_fix() -> TestResult {
    // RUSTSEC-2023-0033 (unsound, no CVSS): [0.0.0-0, 0.10.4), [0.11.0-0, 1.0.0-alpha.1).
    let advisory = record(&rustsec()?, "RUSTSEC-2023-0033")?;
    assert_eq!(fixes(&advisory, "borsh", "1.0.0-alpha.0"), Some(vec!["1.0.0-alpha.1".to_owned()]));
    assert_eq!(fixes(&advisory, "borsh", "1.0.0-alpha.1"), None);
    assert_eq!(fixes(&advisory, "borsh", "0.10.3"), Some(vec!["0.10.4".to_owned(), "1.0.0-alpha.1".to_owned()]));
    assert_eq!(fixes(&advisory, "borsh", "0.10.4"), None);
    assert_eq!(fixes(&advisory, "borsh", "0.11.0"), Some(vec!["1.0.0-alpha.1".to_owned()]));
    assert_eq!(advisory.informational.as_deref(), Some("unsound"));
    assert_eq!((advisory.severity.as_deref(), advisory.cvss.as_deref()), (None, None));
    Ok(())
}

#[test]
fn withdrawn_libpulse_binding_advisory_affects_no_version() -> TestResult {
    // RUSTSEC-2020-0055, withdrawn 2020-10-22: its range [0.0.0-0, 0.0.1-0) would cover 0.0.0.
    let advisory = record(&rustsec()?, "RUSTSEC-2020-0055")?;
    assert!(advisory.withdrawn.is_some());
    assert_eq!(fixes(&advisory, "libpulse-binding", "0.0.0"), None);
    let mut live = advisory.clone();
    live.withdrawn = None;
    assert_eq!(fixes(&live, "libpulse-binding", "0.0.0"), Some(vec!["0.0.1-0".to_owned()]));
    Ok(())
}

#[test]
fn a_cvss_v4_only_record_gets_its_level() -> TestResult {
    let records = rustsec()?;
    let v4: Vec<_> =
        records.iter().filter(|(_, a)| a.cvss.as_deref().is_some_and(|c| c.starts_with("CVSS:4.0/"))).collect();
    assert!(!v4.is_empty(), "the snapshot has CVSS v4 records");
    for (file, advisory) in v4 {
        assert!(
            matches!(advisory.severity.as_deref(), Some("critical" | "high" | "medium" | "low" | "none")),
            "{file}: {:?}",
            advisory.severity
        );
    }
    let scored = records.iter().filter(|(_, a)| a.cvss.is_some()).count();
    let levelled = records.iter().filter(|(_, a)| a.cvss.is_some() && a.severity.is_some()).count();
    assert_eq!(scored, levelled, "every CVSS vector in the data is read");
    Ok(())
}

// ---- read_records on the inputs it accepts and refuses ----

const MINIMAL: &str = r#"{"id": "TEST-1", "modified": "2024-01-31T12:00:00Z",
  "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]}"#;

fn zip_of(entries: &[(&str, &[u8])]) -> Result<Vec<u8>, Box<dyn Error>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    for (name, bytes) in entries {
        writer.start_file(*name, options)?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

#[test]
fn a_zip_in_the_all_zip_layout_reads_every_json_entry() -> TestResult {
    let records = rustsec()?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for id in ["RUSTSEC-2016-0001", "RUSTSEC-2020-0055", "RUSTSEC-2021-0035"] {
        entries.push((
            format!("{id}.json"),
            std::fs::read(common::shared_data("osv/rustsec").join(format!("{id}.json")))?,
        ));
    }
    entries.push(("README.txt".into(), b"not a record".to_vec()));
    let borrowed: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let zip = zip_of(&borrowed)?;
    let read = read_records(&zip, "all.zip")?;
    let ids: Vec<&str> = read.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["RUSTSEC-2016-0001", "RUSTSEC-2020-0055", "RUSTSEC-2021-0035"]);
    for advisory in &read {
        assert_eq!(*advisory, record(&records, &advisory.id)?, "the zip reads as the file does");
    }
    Ok(())
}

#[test]
fn a_json_array_and_a_single_object_both_read() -> TestResult {
    let array = format!("[{MINIMAL}, {}]", MINIMAL.replace("TEST-1", "TEST-2"));
    let read = read_records(array.as_bytes(), "feed.json")?;
    assert_eq!(read.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["TEST-1", "TEST-2"]);
    let one = read_records(MINIMAL.as_bytes(), "one.json")?;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0], read_record(MINIMAL)?);
    let advisory = &one[0];
    assert_eq!((advisory.affected[0].ecosystem.as_str(), advisory.affected[0].name.as_str()), ("npm", "left-pad"));
    let package = Package { ecosystem: "npm".into(), name: "left-pad".into(), version: "1.2.0".into(), direct: None };
    assert_eq!(affects(advisory, &package), Some(Hit { fixed: vec!["1.3.0".into()] }));
    assert_eq!(read_records(b"[]", "empty.json")?, Vec::<Advisory>::new());
    Ok(())
}

#[test]
fn unknown_fields_new_ecosystems_and_range_types_and_nulls_are_read() -> TestResult {
    let json = r#"{"id": "X-1", "modified": "2024-01-31T12:00:00.123+02:00", "schema_version": "9.9.9",
      "aliases": null, "summary": null, "new_field": {"anything": [1, 2]},
      "severity": [{"type": "Ubuntu", "score": "high"}],
      "database_specific": {"severity": "MODERATE"},
      "affected": [{"package": {"ecosystem": "Wolfi:2099", "name": "x"}, "ecosystem_specific": 5,
                    "ranges": [{"type": "FANCY", "events": [{"introduced": "0"}, {"whatever": "1"}]}],
                    "versions": null}],
      "references": [{"type": "WEB", "url": "https://w.example"}, {"type": "ADVISORY", "url": "https://a.example"},
                     {"type": "ARTICLE"}]}"#;
    let advisory = read_record(json)?;
    assert_eq!(advisory.affected[0].ecosystem, "Wolfi:2099");
    assert_eq!(advisory.affected[0].ranges[0].kind, RangeKind::Other("FANCY".into()));
    assert_eq!(advisory.affected[0].ranges[0].events, [Event::Introduced("0".into())]);
    assert_eq!(advisory.severity.as_deref(), Some("medium"), "GitHub's MODERATE");
    assert_eq!(advisory.cvss, None);
    assert_eq!(advisory.references, ["https://a.example", "https://w.example"]);
    assert_eq!(advisory.modified.to_rfc3339(), "2024-01-31T10:00:00.123+00:00");
    Ok(())
}

#[test]
fn malformed_json_is_refused_with_its_line_and_column() {
    let broken = "{\n  \"id\": \"TEST-1\",\n  \"modified\": \"2024-01-31T12:00:00Z\",\n  \"affected\": [,]\n}";
    let error = read_records(broken.as_bytes(), "broken.json").err();
    let error = error.map(|e| (e.at, e.message));
    assert!(
        matches!(&error, Some((at, message)) if at == "broken.json, line 4, column 16" && message.starts_with("malformed JSON: ")),
        "{error:?}"
    );
    let error = read_record("{\"id\": ").err().map(|e| e.to_string());
    assert!(error.as_deref().is_some_and(|e| e.starts_with("line 1, column 7: malformed JSON")), "{error:?}");
}

#[test]
fn a_record_without_id_or_modified_is_refused_by_position() {
    let array = format!("[{MINIMAL}, {}]", MINIMAL.replace("\"id\": \"TEST-1\",", ""));
    let error = read_records(array.as_bytes(), "feed.json").err();
    assert!(
        error.as_ref().is_some_and(|e| e.at == "feed.json, record 2" && e.message.contains("no `id`")),
        "{error:?}"
    );
    let error = read_record(&MINIMAL.replace("\"modified\": \"2024-01-31T12:00:00Z\",", "")).err();
    assert!(error.as_ref().is_some_and(|e| e.at == "TEST-1" && e.message.contains("no `modified`")), "{error:?}");
    let error = read_record(&MINIMAL.replace("2024-01-31T12:00:00Z", "yesterday")).err();
    assert!(error.as_ref().is_some_and(|e| e.message.contains("`modified` is not an RFC 3339 time")), "{error:?}");
}

#[test]
fn a_field_of_the_wrong_shape_is_refused_with_its_path() {
    let json = MINIMAL.replace("\"fixed\": \"1.3.0\"", "\"fixed\": 130");
    let error = read_records(json.as_bytes(), "one.json").err();
    assert!(
        error.as_ref().is_some_and(|e| e.at == "one.json, TEST-1"
            && e.message.starts_with("`affected[0].ranges[0].events[1].fixed`: invalid type: integer `130`")),
        "{error:?}"
    );
    let error = read_records(b"42", "n.json").err().map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("n.json: expected an OSV record (a JSON object) or an array of records, found a number")
    );
    let error = read_records(b"[42]", "n.json").err().map(|e| e.to_string());
    assert!(
        error.as_deref().is_some_and(|e| e.starts_with("n.json, record 1: invalid type: integer `42`")),
        "{error:?}"
    );
}

#[test]
fn a_zip_entry_that_unpacks_past_the_bound_is_refused() -> TestResult {
    // 8 MiB of spaces deflate to a few kilobytes: a small zip bomb.
    let huge = vec![b' '; 2 * MAX_ENTRY_BYTES as usize];
    let zip = zip_of(&[("RUSTSEC-2016-0001.json", MINIMAL.as_bytes()), ("BOMB-1.json", &huge)])?;
    assert!(zip.len() < 1024 * 1024, "the zip is small: {} bytes", zip.len());
    let error = read_records(&zip, "all.zip").err();
    assert!(
        error.as_ref().is_some_and(|e| e.at == "all.zip, BOMB-1.json" && e.message.contains("more than 4194304 bytes")),
        "{error:?}"
    );
    // A malformed record inside a zip names its entry and line.
    let zip = zip_of(&[("BAD-1.json", b"{\n\"id\": }")])?;
    let error = read_records(&zip, "all.zip").err().map(|e| e.at);
    assert_eq!(error.as_deref(), Some("all.zip, BAD-1.json, line 2, column 7"));
    Ok(())
}

/// `bytes` with the uncompressed size of every entry, in its local and central headers, set to `size`.
fn with_declared_size(mut bytes: Vec<u8>, size: u32) -> Vec<u8> {
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let field = match &bytes[at..at + 4] {
            b"PK\x03\x04" => Some(at + 22),
            b"PK\x01\x02" => Some(at + 24),
            _ => None,
        };
        if let Some(field) = field.filter(|field| field + 4 <= bytes.len()) {
            bytes[field..field + 4].copy_from_slice(&size.to_le_bytes());
        }
        at += 1;
    }
    bytes
}

#[test]
fn a_zip_entry_lying_about_its_size_is_still_cut_at_the_bound() -> TestResult {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("BOMB-1.json", options)?;
    writer.write_all(&vec![b' '; 2 * MAX_ENTRY_BYTES as usize])?;
    let zip = with_declared_size(writer.finish()?.into_inner(), 100);
    let result = read_records(&zip, "all.zip");
    // Refused by the zip crate's own check or by the bound, never unpacked whole.
    assert!(result.as_ref().err().is_some_and(|e| e.at == "all.zip, BOMB-1.json"), "{result:?}");
    Ok(())
}

#[test]
fn a_truncated_zip_or_garbage_is_refused_without_panicking() -> TestResult {
    let zip = zip_of(&[("A-1.json", MINIMAL.as_bytes())])?;
    for cut in [4, 10, 30, zip.len() / 2, zip.len() - 1] {
        let result = read_records(&zip[..cut], "cut.zip");
        assert!(result.is_err(), "a zip cut at {cut} bytes is refused: {result:?}");
    }
    for garbage in [&b""[..], b"PK", b"\xff\xfe\x00", b"nul\x00l", b"{\"id\": \"\xff\"}"] {
        assert!(read_records(garbage, "g").is_err(), "{garbage:?} is refused");
    }
    Ok(())
}

/// Skipping (a watched directory): a bad record or entry is kept aside with its error and the good ones
/// are read; what is not readable at all is still an error.
#[test]
fn skipping_keeps_the_good_records_and_names_the_bad_ones() -> TestResult {
    let array = format!("[{MINIMAL}, {{\"modified\": \"2024-01-31T12:00:00Z\"}}]");
    let (records, skipped) = read_records_skipping(array.as_bytes(), "feed.json")?;
    assert_eq!((records.len(), skipped.len()), (1, 1));
    assert!(skipped[0].to_string().starts_with("feed.json, record 2"), "{}", skipped[0]);
    assert!(read_records(array.as_bytes(), "feed.json").is_err(), "without skipping, one bad record refuses all");

    let bomb = vec![b' '; (MAX_ENTRY_BYTES + 1) as usize];
    let zip = zip_of(&[("A.json", MINIMAL.as_bytes()), ("B.json", b"{\"id\": "), ("C.json", &bomb)])?;
    let (records, skipped) = read_records_skipping(&zip, "all.zip")?;
    assert_eq!(records.len(), 1);
    let mut places: Vec<String> = skipped.iter().map(|e| e.at.clone()).collect();
    places.sort();
    assert!(places.len() == 2 && places[0].contains("B.json") && places[1].contains("C.json"), "{places:?}");
    assert!(read_records_skipping(b"not json", "x.json").is_err());
    Ok(())
}
