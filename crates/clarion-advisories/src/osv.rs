//! OSV records (<https://ossf.github.io/osv-schema/>) into `clarion_core::advisory::Advisory`: one record,
//! a JSON array of records, or a zip in the layout of OSV's `all.zip` (one `ID.json` per record).
//!
//! Read tolerantly: `ecosystem` is any string (the `osv` crate's closed enum refuses new ones), a range's
//! `type` any string, unknown fields are ignored and `null` stands for absent, and a record is refused only
//! when it lacks what matching needs (`id`, `modified`) or a field has the wrong shape. **Every input is
//! bounded — at most [`MAX_RECORDS`] records, no zip entry unpacked past [`MAX_ENTRY_BYTES`] (a zip bomb stops
//! there) — and every error names where: the input, the zip entry, the record (its id, else its position),
//! and the line and column of malformed JSON or the field path of a wrong shape. Nothing here panics on input.**
//!
//! What the record says beyond matching:
//! - `severity`: the CVSS base score of the record's `CVSS_V4` vector, else its `CVSS_V3` one (top-level
//!   `severity[]`, then the packages' own), as `critical` (≥ 9.0), `high` (≥ 7.0), `medium` (≥ 4.0), `low`
//!   (> 0) or `none`; without a readable vector, GitHub's `database_specific.severity` (`LOW`, `MODERATE`,
//!   `HIGH`, `CRITICAL`). `cvss` keeps the vector as written.
//! - `informational`: RustSec's kind of non-vulnerability (`unmaintained`, `unsound`, `notice`), which its
//!   export puts in `affected[].database_specific.informational` (also read at the top level).
//! - `references`: the URLs, `ADVISORY` ones first, otherwise in the record's order.

use std::io::Read;

use chrono::{DateTime, Utc};
use clarion_core::advisory::{Advisory, Affected, Event, Range, RangeKind};
use serde::Deserialize;
use serde_json::Value;

/// At most this many records in one import.
pub const MAX_RECORDS: usize = 100_000;

/// A zip entry unpacking to more bytes than this is refused (the largest real OSV record is far below it).
pub const MAX_ENTRY_BYTES: u64 = 4 * 1024 * 1024;

/// At most this many bytes unpacked from one zip, all entries together (an ecosystem's `all.zip`, such as
/// crates.io's, unpacks to far less): a bomb of many small, highly compressed or overlapping entries stops
/// here.
pub const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;

/// Why records could not be read: which record (id, or position, or file in a zip) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct OsvError {
    /// `record 3`, `RUSTSEC-2020-0001.json`, `line 12`, …
    pub at: String,
    pub message: String,
}

/// One OSV record in JSON.
pub fn read_record(json: &str) -> Result<Advisory, OsvError> {
    let value = parse_json(json.as_bytes(), "")?;
    advisory_from_value(value, "")
}

/// Records from bytes: a JSON record, a JSON array of records, or a zip of `*.json` records (detected by
/// its first bytes). `name` names the input in errors.
pub fn read_records(bytes: &[u8], name: &str) -> Result<Vec<Advisory>, OsvError> {
    read(bytes, name, &mut None)
}

/// [`read_records`], but a record or zip entry that does not read is skipped, with its error, and the
/// others are read (for a watched directory, where nobody is there to fix the input and send it again).
/// What cannot be read at all (not a zip, not JSON, past a bound) is still an error.
pub fn read_records_skipping(bytes: &[u8], name: &str) -> Result<(Vec<Advisory>, Vec<OsvError>), OsvError> {
    let mut skipped = Some(Vec::new());
    let records = read(bytes, name, &mut skipped)?;
    Ok((records, skipped.unwrap_or_default()))
}

/// Reads records; with `skipped`, a record or entry that does not read goes there instead of failing all.
fn read(bytes: &[u8], name: &str, skipped: &mut Option<Vec<OsvError>>) -> Result<Vec<Advisory>, OsvError> {
    let mut records = Vec::new();
    // A zip starts with a local file header, or is empty: only its end-of-central-directory record.
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        read_zip(bytes, name, &mut records, skipped)?;
    } else {
        read_json_records(bytes, name, &mut records, skipped)?;
    }
    Ok(records)
}

/// Every `*.json` entry of a zip, each read as a JSON input of its own.
fn read_zip(
    bytes: &[u8],
    name: &str,
    records: &mut Vec<Advisory>,
    skipped: &mut Option<Vec<OsvError>>,
) -> Result<(), OsvError> {
    // Each entry is read as it is unpacked: at most one entry's text is held at a time.
    unpack(bytes, name, skipped, &mut |place, json, skipped| {
        if let Err(error) = read_json_records(&json, &place, records, skipped) {
            skip(skipped, error)?;
        }
        Ok(())
    })
}

/// The `*.json` entries of a zip in the layout of OSV's `all.zip`, unpacked — each named `ZIP, ENTRY` —
/// within the same bounds [`read_records`] keeps, for a client that sends them on in batches.
pub fn zip_entries(bytes: &[u8], name: &str) -> Result<Vec<(String, Vec<u8>)>, OsvError> {
    let mut entries = Vec::new();
    unpack(bytes, name, &mut None, &mut |place, json, _| {
        entries.push((place, json));
        Ok(())
    })?;
    Ok(entries)
}

/// What is done with each unpacked entry: its place (`ZIP, ENTRY`), its bytes, and where skipped errors go.
type Visit<'a> = dyn FnMut(String, Vec<u8>, &mut Option<Vec<OsvError>>) -> Result<(), OsvError> + 'a;

/// Hands each `*.json` entry of a zip, unpacked within the bounds, to `visit`; with `skipped`, an entry that
/// cannot be unpacked goes there instead of failing all.
fn unpack(
    bytes: &[u8],
    name: &str,
    skipped: &mut Option<Vec<OsvError>>,
    visit: &mut Visit<'_>,
) -> Result<(), OsvError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|error| located(name, format!("not a readable zip archive: {error}")))?;
    if archive.len() > MAX_RECORDS {
        return Err(located(name, format!("the zip has {} entries, more than {MAX_RECORDS}", archive.len())));
    }
    let mut unpacked: u64 = 0;
    for index in 0..archive.len() {
        let mut file = archive
            .by_index(index)
            .map_err(|error| located(name, format!("zip entry {} cannot be read: {error}", index + 1)))?;
        let entry = match file.name() {
            Ok(entry) => entry.into_owned(),
            Err(_) => String::from_utf8_lossy(file.name_raw()).into_owned(),
        };
        if file.is_dir() || !entry.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        let place = join(name, &entry);
        let too_large = || {
            located(
                &place,
                format!("the entry unpacks to more than {MAX_ENTRY_BYTES} bytes, the most one record may take"),
            )
        };
        if file.size() > MAX_ENTRY_BYTES {
            skip(skipped, too_large())?;
            continue;
        }
        let mut json = Vec::new();
        // The declared size may lie: never unpack more than the bound plus one byte.
        let read = (&mut file).take(MAX_ENTRY_BYTES + 1).read_to_end(&mut json);
        unpacked = unpacked.saturating_add(json.len() as u64);
        if unpacked > MAX_UNPACKED_BYTES {
            return Err(located(name, format!("the zip unpacks to more than {MAX_UNPACKED_BYTES} bytes")));
        }
        if let Err(error) = read {
            skip(skipped, located(&place, format!("the entry cannot be unpacked: {error}")))?;
            continue;
        }
        if json.len() as u64 > MAX_ENTRY_BYTES {
            skip(skipped, too_large())?;
            continue;
        }
        visit(place, json, skipped)?;
    }
    Ok(())
}

/// Keeps `error` in `skipped` when skipping, else returns it.
fn skip(skipped: &mut Option<Vec<OsvError>>, error: OsvError) -> Result<(), OsvError> {
    match skipped {
        Some(list) => {
            list.push(error);
            Ok(())
        }
        None => Err(error),
    }
}

/// One JSON input (`place` names it): a record or an array of records, appended to `records`.
fn read_json_records(
    bytes: &[u8],
    place: &str,
    records: &mut Vec<Advisory>,
    skipped: &mut Option<Vec<OsvError>>,
) -> Result<(), OsvError> {
    match parse_json(bytes, place)? {
        Value::Array(items) => {
            if records.len().saturating_add(items.len()) > MAX_RECORDS {
                return Err(too_many_records(place));
            }
            for (index, item) in items.into_iter().enumerate() {
                match advisory_from_value(item, &join(place, &format!("record {}", index + 1))) {
                    Ok(advisory) => records.push(advisory),
                    Err(error) => skip(skipped, error)?,
                }
            }
        }
        value @ Value::Object(_) => {
            if records.len() >= MAX_RECORDS {
                return Err(too_many_records(place));
            }
            records.push(advisory_from_value(value, place)?);
        }
        other => {
            return Err(located(
                place,
                format!(
                    "expected an OSV record (a JSON object) or an array of records, found {}",
                    crate::json::type_name(&other)
                ),
            ))
        }
    }
    Ok(())
}

fn too_many_records(place: &str) -> OsvError {
    located(place, format!("more than {MAX_RECORDS} records in one import; split it"))
}

/// JSON text to a value; malformed JSON is reported at its line and column.
fn parse_json(bytes: &[u8], place: &str) -> Result<Value, OsvError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|error| {
        let message = crate::json::message(&error);
        OsvError {
            at: join(place, &format!("line {}, column {}", error.line(), error.column())),
            message: format!("malformed JSON: {message}"),
        }
    })
}

/// One record; `place` says where it came from, its id (when it has one) is added to it.
fn advisory_from_value(value: Value, place: &str) -> Result<Advisory, OsvError> {
    let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
    let place = match (&id, place.is_empty()) {
        (Some(id), _) => join(place, id),
        (None, true) => "record".to_owned(),
        (None, false) => place.to_owned(),
    };
    let wire: WireRecord = serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let what = if path == "." { String::new() } else { format!("`{path}`: ") };
        located(&place, format!("{what}{}", error.inner()))
    })?;
    wire.into_advisory(&place)
}

fn located(place: &str, message: String) -> OsvError {
    OsvError { at: if place.is_empty() { "input".to_owned() } else { place.to_owned() }, message }
}

/// `outer, inner`, or either alone when the other is empty.
fn join(outer: &str, inner: &str) -> String {
    match (outer.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_owned(),
        (false, true) => outer.to_owned(),
        (false, false) => format!("{outer}, {inner}"),
    }
}

// ---- The wire format: every field optional (`null` as absent), unknown fields ignored. ----

#[derive(Debug, Deserialize)]
#[serde(expecting = "an OSV record (a JSON object)")]
struct WireRecord {
    id: Option<String>,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    aliases: Option<Vec<String>>,
    summary: Option<String>,
    details: Option<String>,
    severity: Option<Vec<WireSeverity>>,
    affected: Option<Vec<WireAffected>>,
    references: Option<Vec<WireReference>>,
    /// Any JSON: only `severity` and `informational` are read from it, when they are strings.
    database_specific: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireSeverity {
    #[serde(rename = "type")]
    kind: Option<String>,
    score: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireAffected {
    package: Option<WirePackage>,
    severity: Option<Vec<WireSeverity>>,
    ranges: Option<Vec<WireRange>>,
    versions: Option<Vec<String>>,
    database_specific: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WirePackage {
    ecosystem: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireRange {
    #[serde(rename = "type")]
    kind: Option<String>,
    events: Option<Vec<WireEvent>>,
}

/// The specification allows one key per event; a record breaking that rule keeps every event it gives.
#[derive(Debug, Deserialize)]
struct WireEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireReference {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
}

impl WireRecord {
    fn into_advisory(self, place: &str) -> Result<Advisory, OsvError> {
        let id = self.id.filter(|id| !id.trim().is_empty()).ok_or_else(|| {
            located(
                place,
                "the record has no `id`: every OSV record needs one, and Clarion names advisories by it".into(),
            )
        })?;
        let modified = self.modified.ok_or_else(|| {
            located(place, "the record has no `modified` time (RFC 3339, e.g. 2024-01-31T12:00:00Z)".into())
        })?;
        let modified = timestamp(&modified, "modified", place)?;
        let published = self.published.map(|t| timestamp(&t, "published", place)).transpose()?;
        let withdrawn = self.withdrawn.map(|t| timestamp(&t, "withdrawn", place)).transpose()?;

        let affected_wire = self.affected.unwrap_or_default();
        let vectors = self
            .severity
            .iter()
            .flatten()
            .chain(affected_wire.iter().filter_map(|a| a.severity.as_ref()).flatten())
            .collect::<Vec<_>>();
        let (mut severity, cvss) = cvss_severity(&vectors);
        if severity.is_none() {
            severity = self.database_specific.as_ref().and_then(database_severity);
        }
        let informational =
            self.database_specific.as_ref().and_then(informational_of).or_else(|| {
                affected_wire.iter().filter_map(|a| a.database_specific.as_ref()).find_map(informational_of)
            });

        let mut references: Vec<(bool, String)> = self
            .references
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| {
                let url = r.url.filter(|url| !url.trim().is_empty())?;
                Some((r.kind.as_deref() != Some("ADVISORY"), url))
            })
            .collect();
        references.sort_by_key(|(not_advisory, _)| *not_advisory); // stable: the record's order otherwise

        Ok(Advisory {
            id,
            aliases: self.aliases.unwrap_or_default(),
            summary: self.summary.unwrap_or_default(),
            details: self.details.unwrap_or_default(),
            modified,
            published,
            withdrawn,
            severity,
            cvss,
            informational,
            affected: affected_wire.into_iter().map(WireAffected::into_affected).collect(),
            references: references.into_iter().map(|(_, url)| url).collect(),
        })
    }
}

impl WireAffected {
    fn into_affected(self) -> Affected {
        let (ecosystem, name) = match self.package {
            Some(package) => (package.ecosystem.unwrap_or_default(), package.name.unwrap_or_default()),
            None => (String::new(), String::new()),
        };
        Affected {
            ecosystem,
            name,
            ranges: self.ranges.unwrap_or_default().into_iter().map(WireRange::into_range).collect(),
            versions: self.versions.unwrap_or_default(),
        }
    }
}

impl WireRange {
    fn into_range(self) -> Range {
        let kind = match self.kind.as_deref() {
            Some("SEMVER") => RangeKind::Semver,
            Some("ECOSYSTEM") => RangeKind::Ecosystem,
            Some("GIT") => RangeKind::Git,
            Some(other) => RangeKind::Other(other.to_owned()),
            None => RangeKind::Other(String::new()),
        };
        let mut events = Vec::new();
        for event in self.events.unwrap_or_default() {
            events.extend(event.introduced.map(Event::Introduced));
            events.extend(event.fixed.map(Event::Fixed));
            events.extend(event.last_affected.map(Event::LastAffected));
            events.extend(event.limit.map(Event::Limit));
        }
        Range { kind, events }
    }
}

fn timestamp(text: &str, field: &str, place: &str) -> Result<DateTime<Utc>, OsvError> {
    DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc)).map_err(|error| {
        located(place, format!("`{field}` is not an RFC 3339 time (like 2024-01-31T12:00:00Z): {text:?}: {error}"))
    })
}

/// The level and vector of the best CVSS entry: the first readable `CVSS_V4`, else the first readable
/// `CVSS_V3`. Without a readable one, no level, and the first CVSS vector as written.
fn cvss_severity(entries: &[&WireSeverity]) -> (Option<String>, Option<String>) {
    let vectors_of = |kind: &str| {
        entries
            .iter()
            .filter(move |entry| entry.kind.as_deref() == Some(kind))
            .filter_map(|entry| entry.score.as_deref())
            .collect::<Vec<_>>()
    };
    let candidates = [vectors_of("CVSS_V4"), vectors_of("CVSS_V3")].concat();
    for vector in &candidates {
        if let Ok(parsed) = vector.trim().parse::<cvss::Cvss>() {
            return (Some(level_of_score(parsed.score()).to_owned()), Some((*vector).to_owned()));
        }
    }
    (None, candidates.first().map(|vector| (*vector).to_owned()))
}

/// CVSS's qualitative rating of a base score (the same bands in v3.x and v4.0).
fn level_of_score(score: f64) -> &'static str {
    if score >= 9.0 {
        "critical"
    } else if score >= 7.0 {
        "high"
    } else if score >= 4.0 {
        "medium"
    } else if score > 0.0 {
        "low"
    } else {
        "none"
    }
}

/// GitHub's rating in `database_specific.severity`.
fn database_severity(database_specific: &Value) -> Option<String> {
    let rating = database_specific.get("severity")?.as_str()?;
    let level = match rating.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" => "critical",
        "HIGH" => "high",
        "MODERATE" | "MEDIUM" => "medium",
        "LOW" => "low",
        "NONE" => "none",
        _ => return None,
    };
    Some(level.to_owned())
}

fn informational_of(database_specific: &Value) -> Option<String> {
    let kind = database_specific.get("informational")?.as_str()?.trim();
    (!kind.is_empty()).then(|| kind.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_v3_vectors_score_to_their_levels() {
        // Base scores as FIRST's CVSS v3.1 calculator gives them.
        for (vector, level) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "critical"), // 9.8
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "critical"), // 10.0
            ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "high"),     // 8.1
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N", "medium"),   // 6.8
            ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", "low"),      // 1.8
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "none"),     // 0.0
        ] {
            let entry = WireSeverity { kind: Some("CVSS_V3".into()), score: Some(vector.into()) };
            assert_eq!(cvss_severity(&[&entry]), (Some(level.into()), Some(vector.into())), "{vector}");
        }
    }

    #[test]
    fn cvss_v4_is_preferred_to_v3_and_an_unreadable_vector_gives_no_level() {
        let v3 = WireSeverity {
            kind: Some("CVSS_V3".into()),
            score: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        };
        // FIRST's CVSS v4.0 calculator: 2.3, low.
        let v4 = WireSeverity {
            kind: Some("CVSS_V4".into()),
            score: Some("CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N".into()),
        };
        assert_eq!(cvss_severity(&[&v3, &v4]).0.as_deref(), Some("low"));
        let broken = WireSeverity { kind: Some("CVSS_V3".into()), score: Some("CVSS:3.1/AV:X".into()) };
        assert_eq!(cvss_severity(&[&broken]), (None, Some("CVSS:3.1/AV:X".into())));
        assert_eq!(cvss_severity(&[&broken, &v3]).0.as_deref(), Some("critical"));
    }

    #[test]
    fn score_bands_follow_cvss() {
        for (score, level) in [
            (10.0, "critical"),
            (9.0, "critical"),
            (8.9, "high"),
            (7.0, "high"),
            (6.9, "medium"),
            (4.0, "medium"),
            (3.9, "low"),
            (0.1, "low"),
            (0.0, "none"),
        ] {
            assert_eq!(level_of_score(score), level, "{score}");
        }
    }
}
