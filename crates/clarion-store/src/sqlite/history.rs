//! Alert history in SQLite: episodes replaced by (fingerprint, starts_at) and silence matches merged by id,
//! written in relaxed transactions like delivery bookkeeping.

use clarion_core::Timestamp;
use rusqlite::params;

use super::schema::relaxed;
use super::SqliteStore;
use crate::codec::{
    episode_columns, episode_from_columns, nanos, silence_match_columns, silence_match_from_columns, sort_episodes,
};
use crate::{EpisodeRow, HistoryStore, SilenceMatchRow, StoreError};

#[async_trait::async_trait]
impl HistoryStore for SqliteStore {
    async fn save_episodes(&self, episodes: &[EpisodeRow]) -> Result<(), StoreError> {
        let rows = episodes.iter().map(episode_columns).collect::<Result<Vec<_>, _>>()?;
        self.call(move |conn| {
            relaxed(conn, |tx| {
                let mut save = tx.prepare_cached(
                    "INSERT INTO alert_episodes (fingerprint, starts_at, ends_at, updated_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (fingerprint, starts_at) DO UPDATE SET ends_at = excluded.ends_at,
                       updated_at = excluded.updated_at, body = excluded.body",
                )?;
                for (fingerprint, starts_at, ends_at, updated_at, body) in &rows {
                    save.execute(params![fingerprint, starts_at, ends_at, updated_at, body])?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn load_episodes(&self, since: Timestamp) -> Result<Vec<EpisodeRow>, StoreError> {
        let since = nanos(since)?;
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT fingerprint, starts_at, ends_at, updated_at, body FROM alert_episodes
                 WHERE ends_at IS NULL OR ends_at >= ?1",
            )?;
            let rows =
                stmt.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
            let mut episodes =
                rows.map(|r| r.map(episode_from_columns).map_err(StoreError::from)).collect::<Result<Vec<_>, _>>()?;
            sort_episodes(&mut episodes);
            Ok(episodes)
        })
        .await
    }

    async fn delete_episodes_ended_before(&self, cutoff: Timestamp) -> Result<u64, StoreError> {
        let cutoff = nanos(cutoff)?;
        self.call(move |conn| {
            relaxed(conn, |tx| {
                // A firing episode (no end) never compares below the cutoff.
                Ok(tx.execute("DELETE FROM alert_episodes WHERE ends_at < ?1", params![cutoff])? as u64)
            })
        })
        .await
    }

    async fn save_silence_matches(&self, matches: &[SilenceMatchRow]) -> Result<(), StoreError> {
        let rows = matches.iter().map(silence_match_columns).collect::<Result<Vec<_>, _>>()?;
        self.call(move |conn| {
            relaxed(conn, |tx| {
                let mut save = tx.prepare_cached(
                    "INSERT INTO silence_matches (silence_id, first_matched_at, last_matched_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (silence_id) DO UPDATE SET
                       first_matched_at = MIN(first_matched_at, excluded.first_matched_at),
                       last_matched_at = MAX(last_matched_at, excluded.last_matched_at)",
                )?;
                for (id, first, last) in &rows {
                    save.execute(params![id, first, last])?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn load_silence_matches(&self) -> Result<Vec<SilenceMatchRow>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT silence_id, first_matched_at, last_matched_at FROM silence_matches ORDER BY silence_id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.map(|r| r.map(silence_match_from_columns).map_err(StoreError::from)).collect()
        })
        .await
    }

    async fn delete_silence_matches(&self, ids: &[String]) -> Result<u64, StoreError> {
        let ids = ids.to_vec();
        self.call(move |conn| {
            relaxed(conn, |tx| {
                let mut delete = tx.prepare_cached("DELETE FROM silence_matches WHERE silence_id = ?1")?;
                let mut deleted = 0;
                for id in &ids {
                    deleted += delete.execute(params![id])? as u64;
                }
                Ok(deleted)
            })
        })
        .await
    }
}
