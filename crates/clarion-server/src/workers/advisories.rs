//! The vulnerability-watch worker: every round reads the watched directory of OSV records when its
//! interval has passed, then lets `crate::advisories` tell what fell due (reminders, overdue notices) and
//! what other instances changed; the outbox's keys make a notice computed twice go out once.

use std::path::Path;
use std::time::Duration;

use clarion_core::advisory::Advisory;

use crate::clock::monotonic;
use crate::state::AppState;

/// The longest time between rounds: another instance's imports and a reloaded catalog are taken in at
/// most this late (a reminder falling due sooner wakes the worker for it).
const ROUND: Duration = Duration::from_secs(30);

pub async fn run(state: AppState) {
    let mut stop = state.stopping();
    let mut last_read: Option<std::time::Instant> = None;
    loop {
        let config = state.config();
        let v = &config.file.vulnerabilities;
        if let Some(dir) = &v.watch_dir {
            if last_read.is_none_or(|at| monotonic().duration_since(at) >= v.watch_interval.0) {
                last_read = Some(monotonic());
                let reading = dir.clone();
                match tokio::task::spawn_blocking(move || read_dir(&reading)).await {
                    Ok(advisories) if !advisories.is_empty() => {
                        let records = advisories.len();
                        match state.watch().import(&state, advisories).await {
                            Ok((imported, _)) => tracing::info!(
                                dir = %dir.display(), records, new = imported.new, updated = imported.updated,
                                "watched advisories imported"
                            ),
                            Err(error) => {
                                tracing::error!(%error, "importing the watched advisories failed; trying again next round");
                                last_read = None;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "reading the watched directory stopped"),
                }
            }
        }
        // The next reminder or overdue notice may fall due before the next round: wake for it.
        let mut sleep = ROUND;
        match state.watch().round(&state).await {
            Ok((_, Some(next))) => {
                let until = next.signed_duration_since(state.now()).to_std().unwrap_or(Duration::ZERO);
                sleep = sleep.min(until.max(Duration::from_secs(1)));
            }
            Ok((_, None)) => {}
            Err(error) => tracing::error!(%error, "vulnerability watch's round failed; trying again next round"),
        }
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Every record of the `*.json` and `*.zip` files directly in `dir`, in file-name order; a record (or zip
/// entry) that does not read is logged and skipped, and the others are imported.
pub fn read_dir(dir: &Path) -> Vec<Advisory> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            tracing::error!(dir = %dir.display(), %error, "cannot read the watched directory of advisories");
            return Vec::new();
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "zip"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => match clarion_advisories::osv::read_records_skipping(&bytes, &name) {
                Ok((records, skipped)) => {
                    out.extend(records);
                    for error in skipped {
                        tracing::error!(file = %name, %error, "skipping an advisory record that does not read");
                    }
                }
                Err(error) => tracing::error!(file = %name, %error, "skipping an advisory file that does not read"),
            },
            Err(error) => tracing::error!(file = %name, %error, "skipping an advisory file that cannot be read"),
        }
    }
    out
}
