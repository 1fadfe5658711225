//! One alert: accepting it from a sender, validating it, and merging it with the version already known.
//!
//! The rules are Alertmanager 0.25's (`api/v2` `postAlertsHandler`, `model.Alert.Validate`,
//! `types.Alert.Merge`), so a sender sees the same acceptance and the same resulting timestamps.

use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::labels::{remove_empty_labels, validate_label_set, Fingerprint, LabelSet};
use crate::Timestamp;

/// An alert as a sender posted it, after wire decoding. Absent times are `None` (Alertmanager's zero time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostedAlert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub generator_url: String,
}

/// An accepted alert with every time set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// When Clarion last received this alert.
    pub updated_at: Timestamp,
    /// A `Box<str>`, not a `String`: with it an alert and its `Arc` counts take 160 bytes, one of the
    /// allocator's size classes, where 168 would round up to 192 (see the test `an_alert_fits_160_bytes`).
    pub generator_url: Box<str>,
    /// `ends_at` was not sent but set to receipt time + resolve timeout.
    pub timeout: bool,
    /// What a reader worked out from this alert (the listing's encoded findings); see [`Memo`].
    pub memo: Memo,
}

/// A value worked out from an alert once and kept with it, so a listing of a million alerts does that work
/// once per alert version rather than on every read. An installed alert is immutable, so the memo is set at
/// most once; its reader checks that the value was worked out under the configuration it reads with, and
/// works it out again (without keeping it) when not — until the sender's next re-send replaces the alert.
///
/// A memo never takes part in equality, and a copy of an alert starts without one: whoever builds a new
/// version from an old one may change what the value was worked out from.
#[derive(Default)]
pub struct Memo(OnceLock<Arc<dyn Any + Send + Sync>>);

impl Memo {
    /// The value kept, if it is a `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.get()?.downcast_ref()
    }

    /// Keeps `value` unless a value is kept already (two readers raced: either answer is the same).
    pub fn keep(&self, value: Arc<dyn Any + Send + Sync>) {
        let _ = self.0.set(value);
    }
}

impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl PartialEq for Memo {
    fn eq(&self, _: &Memo) -> bool {
        true
    }
}

impl Eq for Memo {}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "Memo(kept)" } else { "Memo(empty)" })
    }
}

/// Why a posted alert was refused. Messages are Alertmanager's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("start time must be before end time")]
    EndsBeforeStarts,
    #[error("invalid label set: {0}")]
    InvalidLabels(crate::labels::InvalidName),
    #[error("at least one label pair required")]
    NoLabels,
    #[error("invalid annotations: {0}")]
    InvalidAnnotations(crate::labels::InvalidName),
}

impl Alert {
    /// Accepts a posted alert received at `now`: drops empty label values, defaults the times
    /// (`startsAt` = now, or `endsAt` when only that is set; `endsAt` = now + `resolve_timeout`), validates.
    pub fn accept(posted: PostedAlert, now: Timestamp, resolve_timeout: Duration) -> Result<Alert, AlertError> {
        let PostedAlert { mut labels, annotations, starts_at, ends_at, generator_url } = posted;
        let starts_at = starts_at.or(ends_at).unwrap_or(now);
        let (ends_at, timeout) = match ends_at {
            Some(t) => (t, false),
            None => (crate::later(now, resolve_timeout), true),
        };
        remove_empty_labels(&mut labels);
        if ends_at < starts_at {
            return Err(AlertError::EndsBeforeStarts);
        }
        validate_label_set(&labels).map_err(AlertError::InvalidLabels)?;
        if labels.is_empty() {
            return Err(AlertError::NoLabels);
        }
        validate_label_set(&annotations).map_err(AlertError::InvalidAnnotations)?;
        Ok(Alert {
            labels,
            annotations,
            starts_at,
            ends_at,
            updated_at: now,
            generator_url: generator_url.into(),
            timeout,
            memo: Memo::default(),
        })
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.labels)
    }

    /// Resolved once `ends_at` is not after `now`.
    pub fn is_resolved_at(&self, now: Timestamp) -> bool {
        self.ends_at <= now
    }

    /// The alert that results from receiving `new` while `old` (same fingerprint) is known.
    ///
    /// As Alertmanager's in-memory provider: when the two activity ranges overlap they are merged (earliest
    /// start; the later explicit end wins), otherwise `new` replaces `old`. One difference: a resolve that
    /// comes without annotations (`clarion send --resolve` with labels only, a script's "all clear") keeps
    /// the alert's last annotations, so its recovery notice still says what had been wrong; Alertmanager
    /// shows such a resolved alert with none.
    pub fn supersede(old: &Alert, new: Alert) -> Alert {
        let overlaps = (new.ends_at > old.starts_at && new.ends_at < old.ends_at)
            || (new.starts_at > old.starts_at && new.starts_at < old.ends_at);
        let mut res = if overlaps { merge(old.clone(), new) } else { new };
        if res.annotations.is_empty() && res.is_resolved_at(res.updated_at) {
            res.annotations = old.annotations.clone();
        }
        res
    }
}

/// `types.Alert.Merge`, with "now" taken as the receipt time of the younger alert so replays are exact.
fn merge(a: Alert, o: Alert) -> Alert {
    // Let `o` always be the younger alert.
    let (a, o) = if o.updated_at < a.updated_at { (o, a) } else { (a, o) };
    let now = o.updated_at;
    let mut res = o;
    if a.starts_at < res.starts_at {
        res.starts_at = a.starts_at;
    }
    if res.is_resolved_at(now) {
        // The latest explicit resolved timestamp wins if both alerts are effectively resolved.
        if a.is_resolved_at(now) && a.ends_at > res.ends_at {
            res.ends_at = a.ends_at;
        }
    } else if a.ends_at > res.ends_at && !a.timeout {
        // A non-timeout timestamp always rules if it is the latest.
        res.ends_at = a.ends_at;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
    }

    fn posted(labels: &[(&str, &str)]) -> PostedAlert {
        PostedAlert {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..PostedAlert::default()
        }
    }

    const FIVE_MIN: Duration = Duration::from_secs(300);

    #[test]
    fn missing_times_default_like_alertmanager() -> Result<(), AlertError> {
        let a = Alert::accept(posted(&[("alertname", "A")]), t(0), FIVE_MIN)?;
        assert_eq!((a.starts_at, a.ends_at, a.timeout), (t(0), t(300), true));

        let only_end = PostedAlert { ends_at: Some(t(-10)), ..posted(&[("alertname", "A")]) };
        let a = Alert::accept(only_end, t(0), FIVE_MIN)?;
        assert_eq!((a.starts_at, a.ends_at, a.timeout), (t(-10), t(-10), false));
        assert!(a.is_resolved_at(t(0)));
        Ok(())
    }

    #[test]
    fn invalid_alerts_are_refused_with_alertmanagers_message() {
        let cases = [
            (
                PostedAlert { starts_at: Some(t(10)), ends_at: Some(t(5)), ..posted(&[("a", "b")]) },
                "start time must be before end time",
            ),
            (posted(&[("", "x")]), "invalid label set: invalid name \"\""),
            (posted(&[]), "at least one label pair required"),
            (posted(&[("a", "")]), "at least one label pair required"),
            (
                PostedAlert { annotations: [(String::new(), "x".to_string())].into(), ..posted(&[("a", "b")]) },
                "invalid annotations: invalid name \"\"",
            ),
        ];
        for (p, want) in cases {
            let err = Alert::accept(p.clone(), t(0), FIVE_MIN).expect_err(want);
            assert_eq!(err.to_string(), want, "{p:?}");
        }
    }

    fn alert(starts: i64, ends: i64, updated: i64, timeout: bool) -> Alert {
        Alert {
            labels: [("a".to_string(), "b".to_string())].into(),
            annotations: LabelSet::new(),
            starts_at: t(starts),
            ends_at: t(ends),
            updated_at: t(updated),
            generator_url: Box::default(),
            timeout,
            memo: Memo::default(),
        }
    }

    /// A million alerts live in memory: an alert with its `Arc` counts (16 bytes) must fit mimalloc's
    /// 160-byte size class, or each takes 192.
    #[test]
    fn an_alert_fits_160_bytes() {
        assert!(std::mem::size_of::<Alert>() + 16 <= 160, "{} bytes", std::mem::size_of::<Alert>());
    }

    #[test]
    fn prometheus_resends_replace_the_alert_and_extend_its_end() {
        // Same startsAt, later endsAt: no overlap by Alertmanager's rule, the new version replaces the old.
        let got = Alert::supersede(&alert(0, 240, 0, false), alert(0, 255, 15, false));
        assert_eq!(got, alert(0, 255, 15, false));
    }

    #[test]
    fn overlapping_versions_merge_to_the_earliest_start_and_latest_explicit_end() {
        // New one starts inside the old range: earliest start kept.
        let got = Alert::supersede(&alert(0, 600, 0, false), alert(100, 500, 10, false));
        assert_eq!((got.starts_at, got.ends_at), (t(0), t(600)));
        // A timeout end from the old version does not override the new explicit end.
        let got = Alert::supersede(&alert(0, 600, 0, true), alert(100, 500, 10, false));
        assert_eq!((got.starts_at, got.ends_at), (t(0), t(500)));
    }

    #[test]
    fn a_resolve_without_annotations_keeps_the_last_ones_and_a_firing_version_does_not() {
        let with = |mut a: Alert| {
            a.annotations = [("summary".to_string(), "Disk full".to_string())].into();
            a
        };
        // Resolved at t=50 (received at t=60) with no annotations: the summary stays.
        let got = Alert::supersede(&with(alert(0, 300, 0, true)), alert(0, 50, 60, false));
        assert_eq!(got.annotations.get("summary"), Some("Disk full"));
        // Also when the resolve does not overlap the old range and replaces it.
        let got = Alert::supersede(&with(alert(0, 30, 0, false)), alert(40, 50, 60, false));
        assert_eq!(got.annotations.get("summary"), Some("Disk full"));
        // A firing version that drops its annotations drops them, as in Alertmanager.
        let got = Alert::supersede(&with(alert(0, 300, 0, false)), alert(0, 400, 60, false));
        assert!(got.annotations.is_empty());
    }

    #[test]
    fn a_resolving_version_inside_the_range_resolves_the_alert() {
        // Resolved at t=50 by an explicit end, received at t=60.
        let got = Alert::supersede(&alert(0, 300, 0, true), alert(0, 50, 60, false));
        assert_eq!((got.starts_at, got.ends_at), (t(0), t(50)));
        assert!(got.is_resolved_at(t(60)));
    }
}
