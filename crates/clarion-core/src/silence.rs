//! Silences: matchers that mute alerts for a time window, and the rules for creating, updating and expiring
//! them.
//!
//! The rules are Alertmanager 0.25's (`silence/silence.go` and the v2 API handlers): a silence is pending
//! before `starts_at`; it mutes alerts until `ends_at` inclusive, while the state it reports turns `expired`
//! at `ends_at` (Alertmanager uses these two slightly different boundaries too). An update that keeps the
//! matchers and only moves times the state allows is applied in place; any other update expires the old
//! silence and creates a new one with a new id.

use crate::labels::LabelSet;
use crate::matcher::{MatchType, Matchers};
use crate::Timestamp;

/// A silence as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silence {
    pub id: String,
    pub matchers: Matchers,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: String,
    pub comment: String,
    /// Free-form name/value pairs (Alertmanager 0.32+), such as a ticket link; no effect on matching.
    pub annotations: LabelSet,
}

/// A silence as a user posts it: `id` set means "update this one".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceDraft {
    pub id: Option<String>,
    pub matchers: Matchers,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub created_by: String,
    pub comment: String,
    pub annotations: LabelSet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SilenceState {
    Expired,
    Pending,
    Active,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Expired => "expired",
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
        }
    }
}

/// Why a silence operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    /// No silence has this id.
    #[error("silence not found")]
    NotFound(String),
    #[error("Failed to create silence: start time must be before end time")]
    StartNotBeforeEnd,
    #[error("Failed to create silence: end time can't be in the past")]
    EndInPast,
    #[error("silence invalid: at least one matcher required")]
    NoMatchers,
    #[error("silence invalid: at least one matcher must not match the empty string")]
    AllMatchEmpty,
}

impl Silence {
    /// The state reported to users: active on `[starts_at, ends_at)`.
    pub fn state_at(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// The state that decides muting, updates and expiry: active on `[starts_at, ends_at]`.
    fn effective_state_at(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// Does this silence mute matching alerts at `now`?
    pub fn is_active_at(&self, now: Timestamp) -> bool {
        self.effective_state_at(now) == SilenceState::Active
    }

    /// The silence ended at `now` (a pending one never starts), or `None` when it has already expired:
    /// expiring twice is not an error.
    pub fn expire(&self, now: Timestamp) -> Option<Silence> {
        let mut s = self.clone();
        match self.effective_state_at(now) {
            SilenceState::Expired => return None,
            SilenceState::Active => s.ends_at = now,
            SilenceState::Pending => {
                s.starts_at = now;
                s.ends_at = now;
            }
        }
        s.updated_at = now;
        Some(s)
    }

    /// The update that extends this silence by `by` at `now`, in place: everything kept but the end, which
    /// becomes `max(now, ends_at) + by`. `None` for a silence that has expired (a new one is made instead)
    /// and for a zero `by` (nothing to do would still rewrite the silence). Not in Alertmanager, whose UI
    /// edits a silence's end by hand; Clarion's pages offer it as one button.
    pub fn extended(&self, now: Timestamp, by: std::time::Duration) -> Option<SilenceDraft> {
        if self.state_at(now) == SilenceState::Expired || by.is_zero() {
            return None;
        }
        Some(SilenceDraft {
            id: Some(self.id.clone()),
            matchers: self.matchers.clone(),
            starts_at: self.starts_at,
            ends_at: crate::later(self.ends_at.max(now), by),
            created_by: self.created_by.clone(),
            comment: self.comment.clone(),
            annotations: self.annotations.clone(),
        })
    }

    /// May `draft` be applied to this silence in place (same id)?
    fn can_update_in_place(&self, draft: &SilenceDraft, now: Timestamp) -> bool {
        if self.matchers != draft.matchers {
            return false;
        }
        match self.effective_state_at(now) {
            // Compared to the second, as Alertmanager does: a client updating a silence re-posts the start
            // it read, which amtool prints and parses at second precision.
            SilenceState::Active => draft.starts_at.timestamp() == self.starts_at.timestamp() && draft.ends_at >= now,
            SilenceState::Pending => draft.starts_at >= now,
            SilenceState::Expired => false,
        }
    }
}

/// The silences that are not expired, indexed so that the silences of an alert are found without
/// looking at every silence: each silence with an equality matcher on a non-empty value is filed under one
/// such (name, value) and only looked at for alerts carrying that label; the rest are looked at for every
/// alert. Built from the silences in memory whenever they change; a lookup checks each candidate's matchers
/// and whether it is active at `now`, so silences starting and ending by time need no rebuild.
#[derive(Clone, Debug, Default)]
pub struct SilenceIndex {
    silences: Vec<Silence>,
    /// Label name → label value → silences filed there.
    by_label: std::collections::HashMap<String, std::collections::HashMap<String, Vec<usize>>>,
    unindexed: Vec<usize>,
}

impl SilenceIndex {
    /// An index of the silences not yet expired at `now` (an expired silence never mutes again). Each
    /// silence is filed under its rarest equality matcher among the silences indexed, so that
    /// `alertname="X", instance="db1"` is found through `instance` when many silences name `X`.
    pub fn build<'a>(silences: impl IntoIterator<Item = &'a Silence>, now: Timestamp) -> SilenceIndex {
        let live: Vec<&Silence> =
            silences.into_iter().filter(|s| s.effective_state_at(now) != SilenceState::Expired).collect();
        let keys = |s: &'a Silence| {
            s.matchers
                .0
                .iter()
                .filter(|m| m.op() == MatchType::Equal && !m.value().is_empty())
                .map(|m| (m.name(), m.value()))
        };
        let mut frequency: std::collections::HashMap<(&str, &str), usize> = std::collections::HashMap::new();
        for s in &live {
            for k in keys(s) {
                *frequency.entry(k).or_default() += 1;
            }
        }
        let mut index = SilenceIndex::default();
        for s in live {
            let i = index.silences.len();
            match keys(s).min_by_key(|k| frequency.get(k).copied().unwrap_or(0)) {
                Some((name, value)) => {
                    index.by_label.entry(name.to_string()).or_default().entry(value.to_string()).or_default().push(i)
                }
                None => index.unindexed.push(i),
            }
            index.silences.push(s.clone());
        }
        index
    }

    /// The ids of the silences muting an alert with these labels at `now`, sorted.
    pub fn silenced_by(&self, labels: &LabelSet, now: Timestamp) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if self.silences.is_empty() {
            return out;
        }
        let mut check = |i: usize| {
            let s = &self.silences[i];
            if s.is_active_at(now) && s.matchers.matches(labels) {
                out.push(s.id.clone());
            }
        };
        for (name, value) in labels.iter() {
            // Each silence is filed under one key, and an alert has one value per name: no duplicates.
            if let Some(candidates) = self.by_label.get(name).and_then(|values| values.get(value)) {
                candidates.iter().for_each(|i| check(*i));
            }
        }
        self.unindexed.iter().for_each(|i| check(*i));
        out.sort();
        out
    }

    /// How many silences the index holds.
    pub fn len(&self) -> usize {
        self.silences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.silences.is_empty()
    }
}

/// The rows a create or update writes, and the id the caller gets back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceChange {
    /// Rows to store: the old silence expired (when replaced) and the new or updated one, in that order.
    pub rows: Vec<Silence>,
    pub id: String,
}

/// Validates `draft` and works out what creating or updating it means.
///
/// `existing` is the silence named by `draft.id` when there is one; `new_id` mints an id for a new silence.
pub fn plan_upsert(
    draft: SilenceDraft,
    existing: Option<&Silence>,
    now: Timestamp,
    new_id: impl FnOnce() -> String,
) -> Result<SilenceChange, SilenceError> {
    if draft.starts_at >= draft.ends_at {
        return Err(SilenceError::StartNotBeforeEnd);
    }
    if draft.ends_at < now {
        return Err(SilenceError::EndInPast);
    }
    let prev = match &draft.id {
        Some(id) => Some(existing.filter(|s| &s.id == id).ok_or_else(|| SilenceError::NotFound(id.clone()))?),
        None => None,
    };
    if draft.matchers.is_empty() {
        return Err(SilenceError::NoMatchers);
    }
    // Only `=` and `=~` count: a silence of negative matchers alone is allowed, as in Alertmanager.
    if draft.matchers.0.iter().all(|m| m.op().is_equal() && m.matches_value("")) {
        return Err(SilenceError::AllMatchEmpty);
    }
    let mut rows = Vec::new();
    if let Some(prev) = prev {
        if prev.can_update_in_place(&draft, now) {
            let updated = Silence {
                id: prev.id.clone(),
                matchers: draft.matchers,
                starts_at: draft.starts_at,
                ends_at: draft.ends_at,
                updated_at: now,
                created_by: draft.created_by,
                comment: draft.comment,
                annotations: draft.annotations,
            };
            return Ok(SilenceChange { id: updated.id.clone(), rows: vec![updated] });
        }
        rows.extend(prev.expire(now));
    }
    let created = Silence {
        id: new_id(),
        matchers: draft.matchers,
        starts_at: draft.starts_at.max(now),
        ends_at: draft.ends_at,
        updated_at: now,
        created_by: draft.created_by,
        comment: draft.comment,
        annotations: draft.annotations,
    };
    let id = created.id.clone();
    rows.push(created);
    Ok(SilenceChange { rows, id })
}

/// Alertmanager's listing order: active (soonest end first), then pending (soonest start first), then expired
/// (most recently ended first).
pub fn sort_for_listing(silences: &mut [(Silence, SilenceState)]) {
    silences.sort_by(|(a, sa), (b, sb)| {
        sb.cmp(sa).then_with(|| match sa {
            SilenceState::Active => a.ends_at.cmp(&b.ends_at),
            SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
            SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
        })
    });
}

/// Alertmanager's `filter` on silences: every filter matcher must equal (name, operator and value) one of the
/// silence's matchers. It compares matchers, it does not evaluate them.
pub fn matches_filter(silence: &Silence, filter: &Matchers) -> bool {
    filter.0.iter().all(|f| silence.matchers.0.contains(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
    }

    fn draft(matchers: &str, starts: i64, ends: i64) -> SilenceDraft {
        SilenceDraft {
            id: None,
            matchers: Matchers::parse(matchers).unwrap_or_default(),
            starts_at: t(starts),
            ends_at: t(ends),
            created_by: "me".into(),
            comment: "c".into(),
            annotations: LabelSet::new(),
        }
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("id-{n}")
        }
    }

    #[test]
    fn silences_mute_through_their_end_but_report_expired_at_it() -> Result<(), SilenceError> {
        let s = plan_upsert(draft("a=b", 10, 20), None, t(0), ids())?.rows.remove(0);
        assert_eq!(s.state_at(t(9)), SilenceState::Pending);
        assert_eq!(s.state_at(t(10)), SilenceState::Active);
        assert_eq!(s.state_at(t(20)), SilenceState::Expired);
        assert!(!s.is_active_at(t(9)));
        assert!(s.is_active_at(t(20)));
        assert!(!s.is_active_at(t(21)));
        Ok(())
    }

    #[test]
    fn an_extension_moves_the_end_from_the_later_of_now_and_the_end() -> Result<(), SilenceError> {
        let hour = std::time::Duration::from_secs(3600);
        let s = plan_upsert(draft("a=b", 10, 20), None, t(0), ids())?.rows.remove(0);
        let pending = s.extended(t(0), hour).map(|d| (d.id, d.starts_at, d.ends_at));
        assert_eq!(pending, Some((Some("id-1".to_string()), t(10), t(3620))), "a pending silence keeps its start");
        assert_eq!(s.extended(t(15), std::time::Duration::ZERO), None, "nothing to extend by");
        assert_eq!(s.extended(t(20), hour), None, "an expired silence is not extended");
        Ok(())
    }

    #[test]
    fn creating_a_silence_that_started_in_the_past_starts_it_now() -> Result<(), SilenceError> {
        let change = plan_upsert(draft("a=b", -100, 100), None, t(0), ids())?;
        assert_eq!(change.rows.len(), 1);
        assert_eq!(change.rows[0].starts_at, t(0));
        Ok(())
    }

    #[test]
    fn invalid_drafts_are_refused_with_alertmanagers_reason() {
        let cases = [
            (draft("a=b", 10, 10), SilenceError::StartNotBeforeEnd),
            (draft("a=b", 10, 5), SilenceError::StartNotBeforeEnd),
            (draft("a=b", -20, -10), SilenceError::EndInPast),
            (draft("", 0, 10), SilenceError::NoMatchers),
            (draft("a=~\".*\",b=\"\"", 0, 10), SilenceError::AllMatchEmpty),
            (SilenceDraft { id: Some("nope".into()), ..draft("a=b", 0, 10) }, SilenceError::NotFound("nope".into())),
        ];
        for (d, want) in cases {
            assert_eq!(plan_upsert(d.clone(), None, t(0), ids()), Err(want), "{d:?}");
        }
    }

    #[test]
    fn extending_an_active_silence_keeps_its_id() -> Result<(), SilenceError> {
        let mut next = ids();
        let s = plan_upsert(draft("a=b", 0, 100), None, t(0), &mut next)?.rows.remove(0);
        let update = SilenceDraft { id: Some(s.id.clone()), ..draft("a=b", 0, 500) };
        let change = plan_upsert(update, Some(&s), t(50), &mut next)?;
        assert_eq!(change.id, s.id);
        assert_eq!(change.rows.len(), 1);
        assert_eq!(change.rows[0].ends_at, t(500));
        Ok(())
    }

    #[test]
    fn changing_the_matchers_expires_the_old_silence_and_creates_a_new_one() -> Result<(), SilenceError> {
        let mut next = ids();
        let s = plan_upsert(draft("a=b", 0, 100), None, t(0), &mut next)?.rows.remove(0);
        let update = SilenceDraft { id: Some(s.id.clone()), ..draft("a=c", 0, 100) };
        let change = plan_upsert(update, Some(&s), t(50), &mut next)?;
        assert_ne!(change.id, s.id);
        assert_eq!(change.rows.len(), 2);
        assert_eq!((change.rows[0].id.as_str(), change.rows[0].ends_at), (s.id.as_str(), t(50)));
        assert_eq!(change.rows[1].starts_at, t(50));
        Ok(())
    }

    #[test]
    fn expiring_a_pending_silence_ends_it_and_expiring_again_changes_nothing() -> Result<(), SilenceError> {
        let s = plan_upsert(draft("a=b", 10, 100), None, t(0), ids())?.rows.remove(0);
        let expired = s.expire(t(5)).ok_or(SilenceError::NotFound("expire".into()))?;
        assert_eq!((expired.starts_at, expired.ends_at), (t(5), t(5)));
        assert_eq!(expired.expire(t(6)), None);
        Ok(())
    }

    #[test]
    fn negative_matchers_alone_make_a_valid_silence() {
        assert!(plan_upsert(draft("a!=\"\"", 0, 10), None, t(0), ids()).is_ok());
    }

    #[test]
    fn listing_orders_active_then_pending_then_expired() -> Result<(), SilenceError> {
        let mut next = ids();
        let mut rows = Vec::new();
        for (m, s, e) in [("a=1", 0, 50), ("a=2", 0, 30), ("a=3", 40, 90), ("a=4", 20, 90)] {
            rows.push(plan_upsert(draft(m, s, e), None, t(0), &mut next)?.rows.remove(0));
        }
        let expired = rows[0].expire(t(1)).ok_or(SilenceError::NotFound("expire".into()))?;
        let mut listed: Vec<_> = [expired, rows[1].clone(), rows[2].clone(), rows[3].clone()]
            .into_iter()
            .map(|s| {
                let st = s.state_at(t(2));
                (s, st)
            })
            .collect();
        sort_for_listing(&mut listed);
        let order: Vec<_> = listed.iter().map(|(s, _)| s.id.as_str()).collect();
        assert_eq!(order, ["id-2", "id-4", "id-3", "id-1"]);
        Ok(())
    }

    #[test]
    fn filters_match_against_the_silence_matchers_values() {
        let s = Silence {
            id: "x".into(),
            matchers: Matchers::parse("alertname=Foo,env=~\"prod.*\"").unwrap_or_default(),
            starts_at: t(0),
            ends_at: t(1),
            updated_at: t(0),
            created_by: String::new(),
            comment: String::new(),
            annotations: LabelSet::new(),
        };
        let f = |text: &str| matches_filter(&s, &Matchers::parse(text).unwrap_or_default());
        assert!(f("alertname=Foo"));
        assert!(f("env=~\"prod.*\""));
        assert!(!f("env=\"prod.*\""));
        assert!(!f("alertname=~Foo"));
        assert!(!f("alertname=Bar"));
        assert!(!f("team=x"));
        assert!(f(""));
    }
}
