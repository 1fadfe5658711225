//! Encoding of domain values into row columns, shared by both backends: label sets and matchers as JSON
//! text, timestamps as nanoseconds since the Unix epoch.

use clarion_core::alert::Alert;
use clarion_core::labels::LabelSet;
use clarion_core::silence::Silence;
use clarion_core::{MatchType, Matcher, Matchers, Timestamp};

use crate::StoreError;

pub fn nanos(t: Timestamp) -> Result<i64, StoreError> {
    t.timestamp_nanos_opt().ok_or_else(|| StoreError::TimestampOutOfRange(t.to_rfc3339()))
}

pub fn from_nanos(n: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_nanos(n)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct MatcherRow {
    name: String,
    op: String,
    value: String,
}

pub fn matchers_json(matchers: &Matchers) -> String {
    let rows: Vec<MatcherRow> = matchers
        .0
        .iter()
        .map(|m| MatcherRow {
            name: m.name().to_string(),
            op: m.op().as_str().to_string(),
            value: m.value().to_string(),
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_string())
}

pub fn matchers_from_json(text: &str) -> Result<Matchers, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { table: "silences", reason };
    let rows: Vec<MatcherRow> = serde_json::from_str(text).map_err(|e| corrupt(format!("matchers: {e}")))?;
    rows.into_iter()
        .map(|r| {
            let op = match r.op.as_str() {
                "=" => MatchType::Equal,
                "!=" => MatchType::NotEqual,
                "=~" => MatchType::Regexp,
                "!~" => MatchType::NotRegexp,
                other => return Err(corrupt(format!("unknown matcher operator {other:?}"))),
            };
            Matcher::new(&r.name, op, &r.value).map_err(|e| corrupt(e.to_string()))
        })
        .collect::<Result<_, _>>()
        .map(Matchers)
}

/// Bits of a version that number an alert within its batch: version = batch id << 16 | index.
pub const BATCH_SHIFT: u32 = 16;

/// Most alerts in one batch row.
pub const MAX_BATCH: usize = 1 << BATCH_SHIFT;

/// The version of the `index`-th alert of batch `batch`.
pub fn version(batch: i64, index: usize) -> i64 {
    (batch << BATCH_SHIFT) | index as i64
}

/// One alert of a batch row, as written (short keys: a batch of 10,000 alerts is one row).
#[derive(serde::Serialize)]
struct BatchAlertRef<'a> {
    l: &'a LabelSet,
    a: &'a LabelSet,
    g: &'a str,
    s: i64,
    e: i64,
    u: i64,
    t: bool,
}

/// One alert of a batch row, as read.
#[derive(serde::Deserialize)]
struct BatchAlert {
    l: LabelSet,
    a: LabelSet,
    g: String,
    s: i64,
    e: i64,
    u: i64,
    t: bool,
}

/// The text of one batch row: a JSON array of alerts.
pub fn encode_batch(alerts: &[Alert]) -> Result<String, StoreError> {
    let rows = alerts
        .iter()
        .map(|a| {
            Ok(BatchAlertRef {
                l: &a.labels,
                a: &a.annotations,
                g: &a.generator_url,
                s: nanos(a.starts_at)?,
                e: nanos(a.ends_at)?,
                u: nanos(a.updated_at)?,
                t: a.timeout,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt { table: "alert_batches", reason: e.to_string() })
}

/// The alerts of batch row `id`, with their versions.
pub fn decode_batch(id: i64, text: &str) -> Result<Vec<crate::AlertRow>, StoreError> {
    let rows: Vec<BatchAlert> = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt { table: "alert_batches", reason: format!("batch {id}: {e}") })?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| crate::AlertRow {
            version: version(id, i),
            alert: Alert {
                labels: r.l,
                annotations: r.a,
                generator_url: r.g.into(),
                starts_at: from_nanos(r.s),
                ends_at: from_nanos(r.e),
                updated_at: from_nanos(r.u),
                timeout: r.t,
                memo: Default::default(),
            },
        })
        .collect())
}

/// A silence encoded as columns.
pub struct SilenceColumns {
    pub id: String,
    pub matchers: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub comment: String,
    /// The silence's annotations as a JSON object (`{}` for none).
    pub annotations: String,
}

impl SilenceColumns {
    pub fn new(s: &Silence) -> Result<SilenceColumns, StoreError> {
        Ok(SilenceColumns {
            id: s.id.clone(),
            matchers: matchers_json(&s.matchers),
            starts_at: nanos(s.starts_at)?,
            ends_at: nanos(s.ends_at)?,
            updated_at: nanos(s.updated_at)?,
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
            annotations: serde_json::to_string(&s.annotations)
                .map_err(|e| StoreError::Corrupt { table: "silences", reason: e.to_string() })?,
        })
    }

    pub fn into_silence(self) -> Result<Silence, StoreError> {
        let annotations = serde_json::from_str(&self.annotations).map_err(|e| StoreError::Corrupt {
            table: "silences",
            reason: format!("annotations of silence {}: {e}", self.id),
        })?;
        Ok(Silence {
            id: self.id,
            matchers: matchers_from_json(&self.matchers)?,
            starts_at: from_nanos(self.starts_at),
            ends_at: from_nanos(self.ends_at),
            updated_at: from_nanos(self.updated_at),
            created_by: self.created_by,
            comment: self.comment,
            annotations,
        })
    }
}

/// Fingerprints as a JSON array of 16-hex-digit strings (exact, unlike JSON numbers above 2^53).
pub fn fingerprints_json(fps: &[u64]) -> String {
    let hex: Vec<String> = fps.iter().map(|f| format!("{f:016x}")).collect();
    serde_json::to_string(&hex).unwrap_or_else(|_| "[]".to_string())
}

pub fn fingerprints_from_json(text: &str) -> Result<Vec<u64>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { table: "notification_log", reason };
    let hex: Vec<String> = serde_json::from_str(text).map_err(|e| corrupt(format!("fingerprints: {e}")))?;
    hex.iter().map(|h| u64::from_str_radix(h, 16).map_err(|e| corrupt(format!("fingerprint {h:?}: {e}")))).collect()
}

/// A fingerprint as a column: its bits as a signed 64-bit integer (SQL has no unsigned one).
pub fn fingerprint_column(fp: u64) -> i64 {
    fp as i64
}

/// A fingerprint read back from [`fingerprint_column`].
pub fn fingerprint_from_column(n: i64) -> u64 {
    n as u64
}

/// An `alert_episodes` row: fingerprint, starts_at, ends_at, updated_at, body.
pub type EpisodeColumns = (i64, i64, Option<i64>, i64, String);

pub fn episode_columns(e: &crate::EpisodeRow) -> Result<EpisodeColumns, StoreError> {
    Ok((
        fingerprint_column(e.fingerprint),
        nanos(e.starts_at)?,
        e.ends_at.map(nanos).transpose()?,
        nanos(e.updated_at)?,
        e.body.clone(),
    ))
}

pub fn episode_from_columns((fingerprint, starts_at, ends_at, updated_at, body): EpisodeColumns) -> crate::EpisodeRow {
    crate::EpisodeRow {
        fingerprint: fingerprint_from_column(fingerprint),
        starts_at: from_nanos(starts_at),
        ends_at: ends_at.map(from_nanos),
        updated_at: from_nanos(updated_at),
        body,
    }
}

/// Episodes in the order [`crate::HistoryStore::load_episodes`] promises: by `starts_at`, then fingerprint
/// as an unsigned number (the column's signed order puts fingerprints from 2^63 up first).
pub fn sort_episodes(episodes: &mut [crate::EpisodeRow]) {
    episodes.sort_by_key(|e| (e.starts_at, e.fingerprint));
}

/// A `silence_matches` row: silence_id, first_matched_at, last_matched_at.
pub type SilenceMatchColumns = (String, i64, i64);

pub fn silence_match_columns(m: &crate::SilenceMatchRow) -> Result<SilenceMatchColumns, StoreError> {
    Ok((m.silence_id.clone(), nanos(m.first_matched_at)?, nanos(m.last_matched_at)?))
}

pub fn silence_match_from_columns((silence_id, first, last): SilenceMatchColumns) -> crate::SilenceMatchRow {
    crate::SilenceMatchRow { silence_id, first_matched_at: from_nanos(first), last_matched_at: from_nanos(last) }
}

/// The creation times a [`crate::NotificationFilter`] admits, as an inclusive range of nanoseconds (a range
/// both backends can walk an index by); `None` if it admits none.
pub fn created_range(filter: &crate::NotificationFilter) -> Result<Option<(i64, i64)>, StoreError> {
    let first = filter.since.map(nanos).transpose()?.unwrap_or(i64::MIN);
    let last = match filter.until.map(nanos).transpose()? {
        None => i64::MAX,
        Some(until) => match until.checked_sub(1) {
            Some(last) => last,
            None => return Ok(None),
        },
    };
    Ok((first <= last).then_some((first, last)))
}

/// The columns of a `deliveries` row, in the order every query selects them.
pub const DELIVERY_COLUMNS: &str = "id, idempotency_key, channel, team, group_key, payload, state, attempts, \
     next_attempt_at, lease_owner, last_error, created_at, updated_at, delivered_at, page_id, attempt_base, reason";

/// A `deliveries` row before decoding.
pub struct DeliveryColumns {
    pub id: i64,
    pub idempotency_key: String,
    pub channel: String,
    pub team: String,
    pub group_key: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
    pub page_id: Option<i64>,
    pub attempt_base: i64,
    pub reason: String,
}

impl DeliveryColumns {
    pub fn into_delivery(self) -> Result<crate::Delivery, StoreError> {
        let state = crate::DeliveryState::parse(&self.state).ok_or_else(|| StoreError::Corrupt {
            table: "deliveries",
            reason: format!("unknown state {:?}", self.state),
        })?;
        Ok(crate::Delivery {
            id: self.id,
            idempotency_key: self.idempotency_key,
            channel: self.channel,
            team: self.team,
            group_key: self.group_key,
            payload: self.payload,
            state,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: from_nanos(self.next_attempt_at),
            lease_owner: self.lease_owner,
            last_error: self.last_error,
            created_at: from_nanos(self.created_at),
            updated_at: from_nanos(self.updated_at),
            delivered_at: self.delivered_at.map(from_nanos),
            page_id: self.page_id,
            attempt_base: u32::try_from(self.attempt_base).unwrap_or(0),
            reason: self.reason,
        })
    }
}

/// The columns of `pages`, in the order [`PageColumns`] reads them.
pub const PAGE_COLUMNS: &str = "id, team, group_key, kind, severity, summary, context, policy, state, tier, round, \
     epoch, next_at, opened_at, acknowledged_at, acknowledged_by, action_done_at, action_done_by, resolved_at, version";

/// A `pages` row before decoding (or after encoding).
pub struct PageColumns {
    pub id: i64,
    pub team: String,
    pub group_key: String,
    pub kind: String,
    pub severity: String,
    pub summary: String,
    pub context: Option<String>,
    pub policy: Option<String>,
    pub state: String,
    pub tier: Option<i64>,
    pub round: Option<i64>,
    pub epoch: i64,
    pub next_at: Option<i64>,
    pub opened_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub action_done_at: Option<i64>,
    pub action_done_by: Option<String>,
    pub resolved_at: Option<i64>,
    pub version: i64,
}

/// The life columns of a page: state, tier, round, epoch, next_at, opened_at, acknowledged_at,
/// acknowledged_by, action_done_at, action_done_by, resolved_at.
pub struct LifeColumns {
    pub state: &'static str,
    pub tier: Option<i64>,
    pub round: Option<i64>,
    pub epoch: i64,
    pub next_at: Option<i64>,
    pub opened_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub action_done_at: Option<i64>,
    pub action_done_by: Option<String>,
    pub resolved_at: Option<i64>,
}

pub fn life_columns(life: &clarion_core::page::PageLife) -> Result<LifeColumns, StoreError> {
    let opt = |t: Option<Timestamp>| t.map(nanos).transpose();
    Ok(LifeColumns {
        state: life.state.as_str(),
        tier: life.position.map(|(t, _)| t as i64),
        round: life.position.map(|(_, r)| i64::from(r)),
        epoch: i64::from(life.epoch),
        next_at: opt(life.next_at)?,
        opened_at: nanos(life.opened_at)?,
        acknowledged_at: opt(life.acknowledged_at)?,
        acknowledged_by: life.acknowledged_by.clone(),
        action_done_at: opt(life.action_done_at)?,
        action_done_by: life.action_done_by.clone(),
        resolved_at: opt(life.resolved_at)?,
    })
}

impl PageColumns {
    pub fn into_page(self) -> Result<crate::PageRow, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { table: "pages", reason };
        let state = clarion_core::page::PageState::parse(&self.state)
            .ok_or_else(|| corrupt(format!("unknown state {:?}", self.state)))?;
        let position = match (self.tier, self.round) {
            (Some(t), Some(r)) => Some((
                usize::try_from(t).map_err(|_| corrupt(format!("tier {t}")))?,
                u32::try_from(r).map_err(|_| corrupt(format!("round {r}")))?,
            )),
            _ => None,
        };
        Ok(crate::PageRow {
            id: self.id,
            team: self.team,
            group_key: self.group_key,
            kind: self.kind,
            severity: self.severity,
            summary: self.summary,
            context: self.context,
            policy: self.policy,
            life: clarion_core::page::PageLife {
                state,
                position,
                epoch: u32::try_from(self.epoch).unwrap_or(u32::MAX),
                next_at: self.next_at.map(from_nanos),
                opened_at: from_nanos(self.opened_at),
                acknowledged_at: self.acknowledged_at.map(from_nanos),
                acknowledged_by: self.acknowledged_by,
                action_done_at: self.action_done_at.map(from_nanos),
                action_done_by: self.action_done_by,
                resolved_at: self.resolved_at.map(from_nanos),
            },
            version: self.version,
        })
    }
}

/// How a completion changes a row.
pub struct CompletionColumns {
    pub state: &'static str,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

pub fn completion_columns(completion: &crate::Completion, now: i64) -> Result<CompletionColumns, StoreError> {
    let (state, next_attempt_at, last_error, delivered_at) = match completion {
        crate::Completion::Delivered => ("delivered", now, None, Some(now)),
        crate::Completion::Retry { at, error } => ("pending", nanos(*at)?, Some(error.clone()), None),
        crate::Completion::Dead { error } => ("dead", now, Some(error.clone()), None),
    };
    Ok(CompletionColumns { state, next_attempt_at, last_error, delivered_at })
}
