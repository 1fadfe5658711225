//! The one place silences change, for the API (`api::silences`) and the pages (`web::silences`) alike:
//! [`upsert`] creates or updates, [`expire`] ends, [`extend`] moves the end of a live silence.
//!
//! The rule: **changes are serialised** (`AppState::silence_writes`, held from the read of the silence in
//! memory to its installation), and each is **committed to the store before memory changes**: the plan is
//! made from the silences in memory (`clarion_core::silence::plan_upsert`), saved, and only then installed,
//! so memory never holds a silence the store lost. Validation is the core's; nothing here decides whether a
//! silence is valid.

use std::time::Duration;

use clarion_core::silence::{plan_upsert, Silence, SilenceDraft, SilenceError, SilenceState};
use clarion_core::Timestamp;
use clarion_store::StoreError;

use crate::state::AppState;

/// Why a silence was not changed.
#[derive(Debug, thiserror::Error)]
pub enum SilenceChangeError {
    /// No silence has this id.
    #[error("silence not found")]
    NotFound,
    /// The silence has expired: it cannot be extended (make a new one instead).
    #[error("silence has expired: create a new silence instead")]
    Expired,
    /// The change breaks a rule of silences (`clarion_core::silence`).
    #[error(transparent)]
    Invalid(SilenceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SilenceError> for SilenceChangeError {
    fn from(e: SilenceError) -> Self {
        match e {
            SilenceError::NotFound(_) => SilenceChangeError::NotFound,
            other => SilenceChangeError::Invalid(other),
        }
    }
}

/// Creates `draft`, or updates the silence its `id` names; returns the id of the silence now in force
/// (a new one when the update could not be made in place).
pub async fn upsert(state: &AppState, draft: SilenceDraft) -> Result<String, SilenceChangeError> {
    let _serialised = state.silence_writes().await;
    let now = state.now();
    let existing = draft.id.as_ref().and_then(|id| state.memory().silence(id));
    let change = plan_upsert(draft, existing.as_ref(), now, || uuid::Uuid::new_v4().to_string())?;
    state.store().save_silences(&change.rows).await?;
    state.memory().install_silences(change.rows, now);
    Ok(change.id)
}

/// Expires silence `id` now. Expiring an expired silence changes nothing and is not an error.
pub async fn expire(state: &AppState, id: &str) -> Result<(), SilenceChangeError> {
    let _serialised = state.silence_writes().await;
    let now = state.now();
    let silence = state.memory().silence(id).ok_or(SilenceChangeError::NotFound)?;
    if let Some(expired) = silence.expire(now) {
        state.store().save_silences(std::slice::from_ref(&expired)).await?;
        state.memory().install_silences(vec![expired], now);
    }
    Ok(())
}

/// Extends active or pending silence `id` to end `by` after `max(now, its end)`, in place (same id);
/// returns its id. An expired silence is refused ([`SilenceChangeError::Expired`]).
pub async fn extend(state: &AppState, id: &str, by: Duration) -> Result<String, SilenceChangeError> {
    let _serialised = state.silence_writes().await;
    let now = state.now();
    let silence = state.memory().silence(id).ok_or(SilenceChangeError::NotFound)?;
    let draft = extension(&silence, now, by)?;
    let change = plan_upsert(draft, Some(&silence), now, || uuid::Uuid::new_v4().to_string())?;
    state.store().save_silences(&change.rows).await?;
    state.memory().install_silences(change.rows, now);
    Ok(change.id)
}

/// [`Silence::extended`], or why not: an expired silence, or nothing to extend by.
fn extension(silence: &Silence, now: Timestamp, by: Duration) -> Result<SilenceDraft, SilenceChangeError> {
    silence.extended(now, by).ok_or_else(|| {
        if silence.state_at(now) == SilenceState::Expired {
            SilenceChangeError::Expired
        } else {
            SilenceChangeError::Invalid(SilenceError::StartNotBeforeEnd)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use clarion_config::Config;
    use clarion_core::labels::LabelSet;
    use clarion_core::Matchers;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const CONFIG: &str = "
teams: [{name: ops, channels: [hook]}]
channels:
  - name: hook
    webhook: {url: 'http://127.0.0.1:9/hook'}
route:
  receiver: ops
";

    const HOUR: Duration = Duration::from_secs(3600);

    async fn world() -> Result<(AppState, Clock, tempfile::TempDir), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = clarion_store::open(&format!("sqlite://{}", dir.path().join("c.db").display())).await?;
        let clock = Clock::system();
        let config = Config::parse(CONFIG, "test.yml")?;
        let (state, _inputs) = AppState::load(config, None, "127.0.0.1:9797".parse()?, store, clock.clone()).await?;
        Ok((state, clock, dir))
    }

    fn draft(now: Timestamp, starts_in: Duration, lasts: Duration) -> Result<SilenceDraft, Box<dyn std::error::Error>> {
        let starts_at = clarion_core::later(now, starts_in);
        Ok(SilenceDraft {
            id: None,
            matchers: Matchers::parse("{alertname=\"DiskFilling\"}")?,
            starts_at,
            ends_at: clarion_core::later(starts_at, lasts),
            created_by: "tester".into(),
            comment: "disk swap".into(),
            annotations: LabelSet::new(),
        })
    }

    /// The silence as the store holds it (what a restart would load).
    async fn stored(state: &AppState, id: &str) -> Result<Silence, Box<dyn std::error::Error>> {
        let all = state.store().load_silences().await?;
        Ok(all.into_iter().find(|s| s.id == id).ok_or("not stored")?)
    }

    #[tokio::test]
    async fn extending_an_active_silence_moves_its_end_and_keeps_its_id() -> TestResult {
        let (state, _clock, _dir) = world().await?;
        let now = state.now();
        let id = upsert(&state, draft(now, Duration::ZERO, HOUR)?).await?;
        let before = state.memory().silence(&id).ok_or("installed")?;
        assert_eq!(extend(&state, &id, 4 * HOUR).await?, id);
        let after = state.memory().silence(&id).ok_or("still there")?;
        assert_eq!(after.ends_at, clarion_core::later(before.ends_at, 4 * HOUR));
        assert_eq!((after.starts_at, &after.comment), (before.starts_at, &before.comment));
        assert_eq!(stored(&state, &id).await?.ends_at, after.ends_at, "committed to the store");
        Ok(())
    }

    #[tokio::test]
    async fn extending_a_pending_silence_keeps_its_start() -> TestResult {
        let (state, _clock, _dir) = world().await?;
        let now = state.now();
        let id = upsert(&state, draft(now, 2 * HOUR, HOUR)?).await?;
        let before = state.memory().silence(&id).ok_or("installed")?;
        extend(&state, &id, HOUR).await?;
        let after = state.memory().silence(&id).ok_or("still there")?;
        assert_eq!(after.state_at(state.now()), SilenceState::Pending);
        assert_eq!((after.starts_at, after.ends_at), (before.starts_at, clarion_core::later(before.ends_at, HOUR)));
        Ok(())
    }

    #[tokio::test]
    async fn an_expired_silence_is_not_extended_nor_changed_by_expiring_again() -> TestResult {
        let (state, clock, _dir) = world().await?;
        let now = state.now();
        let id = upsert(&state, draft(now, Duration::ZERO, HOUR)?).await?;
        expire(&state, &id).await?;
        let expired = state.memory().silence(&id).ok_or("kept")?;
        assert_eq!(expired.state_at(state.now()), SilenceState::Expired);
        assert_eq!(stored(&state, &id).await?, expired, "committed to the store");
        clock.advance(Duration::from_secs(5));
        expire(&state, &id).await?;
        assert_eq!(state.memory().silence(&id), Some(expired.clone()), "expiring again changes nothing");
        assert!(matches!(extend(&state, &id, HOUR).await, Err(SilenceChangeError::Expired)));
        assert_eq!(state.memory().silence(&id), Some(expired));
        Ok(())
    }

    #[tokio::test]
    async fn unknown_silences_are_not_found() -> TestResult {
        let (state, _clock, _dir) = world().await?;
        assert!(matches!(expire(&state, "nope").await, Err(SilenceChangeError::NotFound)));
        assert!(matches!(extend(&state, "nope", HOUR).await, Err(SilenceChangeError::NotFound)));
        let update = SilenceDraft { id: Some("nope".into()), ..draft(state.now(), Duration::ZERO, HOUR)? };
        assert!(matches!(upsert(&state, update).await, Err(SilenceChangeError::NotFound)));
        Ok(())
    }

    #[test]
    fn an_extension_moves_only_the_end_and_an_expired_silence_or_zero_is_refused() -> TestResult {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).ok_or("a time")?;
        let silence = Silence {
            id: "s".into(),
            matchers: Matchers::parse("a=b")?,
            starts_at: now - chrono::Duration::hours(2),
            ends_at: now + chrono::Duration::minutes(10),
            updated_at: now,
            created_by: "me".into(),
            comment: "c".into(),
            annotations: LabelSet::new(),
        };
        let later = extension(&silence, now, HOUR).map_err(|e| e.to_string())?;
        assert_eq!(later.ends_at, silence.ends_at + chrono::Duration::hours(1));
        assert_eq!(
            (later.id.as_deref(), later.starts_at, &later.matchers),
            (Some("s"), silence.starts_at, &silence.matchers)
        );
        assert!(matches!(extension(&silence, now, Duration::ZERO), Err(SilenceChangeError::Invalid(_))));
        let ended = Silence { ends_at: now, ..silence };
        assert!(matches!(extension(&ended, now, HOUR), Err(SilenceChangeError::Expired)));
        Ok(())
    }
}
