//! Sending an announcement: the one place it happens, for the API (`POST /api/v1/announcements`) and the
//! web pages (`POST /ui/announcements`) alike.
//!
//! The rule: **an announcement is checked — its deadline still ahead, its audience, the communication
//! standard (`clarion_core::announcement::accept`) — before anything is stored**; one that falls short is
//! refused with every finding and nothing is opened or sent. Accepted, it opens one page per addressed
//! team (acknowledging it means the team has read the announcement) and commits its deliveries — one per
//! channel of every addressed team, each naming that team's page — in the same transaction
//! ([`deliver`], through `Outbox::open_and_send`), so a crash leaves both or neither. Providers' events
//! are delivered the same way.

use clarion_core::announcement::{accept, refuse_past_deadline, AnnouncementDraft, AnnouncementError};
use clarion_core::notification::{Announcement, Notification};
use clarion_core::standard::Finding;
use clarion_core::Timestamp;
use clarion_store::{PageRow, StoreError};

use crate::outbox::{self, keys, Envelope, OutboxError};
use crate::pages;
use crate::state::AppState;

/// Why an announcement was not sent. Nothing was stored for the first three.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Its deadline has passed.
    #[error("{0}")]
    PastDeadline(String),
    /// It falls short of the communication standard: every finding.
    #[error("{}", AnnouncementError::FallsShort(.0.clone()))]
    FallsShort(Vec<Finding>),
    /// No or an unknown audience, both `teams` and `everyone`, a deadline that is not a date.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// What sending did.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The announcement's id (its pages' group key is `announcement/{id}`).
    pub id: String,
    /// The teams addressed, in order.
    pub teams: Vec<String>,
    /// One page per addressed team, in the order of `teams`.
    pub pages: Vec<PageRow>,
    /// Deliveries committed: one per channel of every addressed team.
    pub deliveries: usize,
    /// Addressed teams with no channel: they see the announcement only on its page.
    pub teams_without_channels: Vec<String>,
}

/// The decision on `draft` as announcement `id` at `now`: one accepted announcement per addressed team,
/// or why it cannot be sent. Stores and sends nothing.
fn decide(
    state: &AppState,
    config: &clarion_config::Config,
    draft: &AnnouncementDraft,
    id: &str,
    now: Timestamp,
) -> Result<Vec<Announcement>, SendError> {
    // A person's deadline must still be ahead (Clarion's own notices may name a start that has passed).
    refuse_past_deadline(draft, now).map_err(|e| SendError::PastDeadline(e.to_string()))?;
    match accept(draft, &config.team_names(), &config.standard, id, &state.external_url(), now) {
        Ok(accepted) => Ok(accepted),
        Err(AnnouncementError::FallsShort(findings)) => Err(SendError::FallsShort(findings)),
        Err(other) => Err(SendError::Invalid(other.to_string())),
    }
}

/// Whether `draft` would be sent now, and to which teams: the same checks as [`send`], without storing
/// or sending anything (the pages' "Check" button).
pub fn check(state: &AppState, draft: &AnnouncementDraft) -> Result<Vec<String>, SendError> {
    let accepted = decide(state, &state.config(), draft, "check", state.now())?;
    Ok(accepted.into_iter().map(|a| a.team).collect())
}

/// Checks `draft` and, accepted, opens its pages and commits its deliveries (see the module
/// documentation).
pub async fn send(state: &AppState, draft: AnnouncementDraft) -> Result<Sent, SendError> {
    let config = state.config();
    let id = uuid::Uuid::new_v4().to_string();
    let now = state.now();
    let accepted = decide(state, &config, &draft, &id, now)?;
    let delivered = deliver(state, &id, accepted, "announcement", now).await?;
    tracing::info!(
        announcement = %id,
        teams = delivered.teams.len(),
        deliveries = delivered.deliveries,
        "announcement accepted"
    );
    Ok(Sent {
        id,
        teams: delivered.teams,
        pages: delivered.pages,
        deliveries: delivered.deliveries,
        teams_without_channels: delivered.teams_without_channels,
    })
}

/// What [`deliver`] did.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The teams addressed, in order.
    pub teams: Vec<String>,
    /// One page per addressed team, in the order of `teams`.
    pub pages: Vec<PageRow>,
    /// Deliveries committed: one per channel of every addressed team.
    pub deliveries: usize,
    /// Addressed teams with no channel.
    pub teams_without_channels: Vec<String>,
}

/// Opens one page per team of `accepted` (announcement `id`, one accepted announcement per team) and
/// commits, in the same transaction, one delivery per channel of each team naming that team's page, with
/// `reason`: a crash leaves either both or neither. Used for announcements people write and for the
/// events providers post.
pub async fn deliver(
    state: &AppState,
    id: &str,
    accepted: Vec<Announcement>,
    reason: &str,
    now: Timestamp,
) -> Result<Delivered, SendError> {
    let config = state.config();
    let teams: Vec<(String, String)> = accepted.iter().map(|a| (a.team.clone(), a.title.clone())).collect();
    let new = pages::for_announcement(id, &teams, now);
    // The plan runs inside the store's transaction: everything it needs is read before.
    let external_url = state.external_url();
    let (plan_state, plan_config, id_of, reason) = (state.clone(), config.clone(), id.to_string(), reason.to_string());
    let plan = move |opened: &[PageRow]| {
        let mut envelopes = Vec::new();
        let mut without_channels = Vec::new();
        for (a, page) in accepted.iter().zip(opened) {
            let Some(team) = plan_config.team(&a.team) else { continue };
            if team.channels.is_empty() {
                without_channels.push(team.name.clone());
            }
            for channel in &team.channels {
                let mut announcement = a.clone();
                announcement.page =
                    Some(pages::page_ref_at(&plan_state, &plan_config, page, channel, now, &external_url));
                envelopes.push(Envelope {
                    channel: channel.clone(),
                    idempotency_key: keys::announcement(&id_of, &team.name, channel),
                    reason: reason.clone(),
                    notification: Notification::Announcement(announcement),
                });
            }
        }
        let count = envelopes.len();
        (envelopes, Vec::new(), (count, without_channels))
    };
    let lease = outbox::lease_until(&config, now);
    let (opened, _, (deliveries, teams_without_channels)) =
        state.outbox().open_and_send(&new, plan, now, lease).await?;
    Ok(Delivered {
        teams: teams.into_iter().map(|(t, _)| t).collect(),
        pages: opened,
        deliveries,
        teams_without_channels,
    })
}
