//! Alert history in PostgreSQL: episodes replaced by (fingerprint, starts_at) and silence matches merged by
//! id, written with `synchronous_commit=off` like delivery bookkeeping.

use clarion_core::Timestamp;

use super::{relaxed, PgStore};
use crate::codec::{
    episode_columns, episode_from_columns, nanos, silence_match_columns, silence_match_from_columns, sort_episodes,
};
use crate::{EpisodeRow, HistoryStore, SilenceMatchRow, StoreError};

#[async_trait::async_trait]
impl HistoryStore for PgStore {
    async fn save_episodes(&self, episodes: &[EpisodeRow]) -> Result<(), StoreError> {
        let rows = episodes.iter().map(episode_columns).collect::<Result<Vec<_>, _>>()?;
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let save = tx
            .prepare(
                "INSERT INTO alert_episodes (fingerprint, starts_at, ends_at, updated_at, body)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (fingerprint, starts_at) DO UPDATE SET ends_at = excluded.ends_at,
                   updated_at = excluded.updated_at, body = excluded.body",
            )
            .await?;
        for (fingerprint, starts_at, ends_at, updated_at, body) in &rows {
            tx.execute(&save, &[fingerprint, starts_at, ends_at, updated_at, body]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_episodes(&self, since: Timestamp) -> Result<Vec<EpisodeRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT fingerprint, starts_at, ends_at, updated_at, body FROM alert_episodes
                 WHERE ends_at IS NULL OR ends_at >= $1",
                &[&nanos(since)?],
            )
            .await?;
        let mut episodes: Vec<EpisodeRow> =
            rows.iter().map(|r| episode_from_columns((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))).collect();
        sort_episodes(&mut episodes);
        Ok(episodes)
    }

    async fn delete_episodes_ended_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        // A firing episode (no end) never compares below the cutoff.
        let deleted = tx.execute("DELETE FROM alert_episodes WHERE ends_at < $1", &[&nanos(cutoff)?]).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn save_silence_matches(&self, matches: &[SilenceMatchRow]) -> Result<(), StoreError> {
        let rows = matches.iter().map(silence_match_columns).collect::<Result<Vec<_>, _>>()?;
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let save = tx
            .prepare(
                "INSERT INTO silence_matches (silence_id, first_matched_at, last_matched_at) VALUES ($1, $2, $3)
                 ON CONFLICT (silence_id) DO UPDATE SET
                   first_matched_at = LEAST(silence_matches.first_matched_at, excluded.first_matched_at),
                   last_matched_at = GREATEST(silence_matches.last_matched_at, excluded.last_matched_at)",
            )
            .await?;
        for (id, first, last) in &rows {
            tx.execute(&save, &[id, first, last]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_silence_matches(&self) -> Result<Vec<SilenceMatchRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT silence_id, first_matched_at, last_matched_at FROM silence_matches
                 ORDER BY silence_id COLLATE \"C\"",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| silence_match_from_columns((r.get(0), r.get(1), r.get(2)))).collect())
    }

    async fn delete_silence_matches(&self, ids: &[String]) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = relaxed(&mut client).await?;
        let deleted = tx.execute("DELETE FROM silence_matches WHERE silence_id = ANY($1)", &[&ids]).await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
