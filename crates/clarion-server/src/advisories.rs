//! Vulnerability watch: the services' inventories, the advisories, and what the owners were told of each
//! match — the store's side and the messages' side of `clarion_core::advisory::watch::plan`.
//!
//! Every change (an inventory uploaded, advisories imported, a round of the worker) runs [`Watch::reconcile`]
//! under one lock: read the documents from the store (so instances sharing a store agree), plan, send what
//! the plan tells through the outbox — opened matches open a page in the same commit, ended ones resolve
//! theirs — and only then store the match records.
//! **Every message has a key of match, generation, notice and channel, so a crash between sending and
//! storing repeats the sends with the same keys and nobody is told twice; a match's page is its team's page
//! of `advisory/<match>#<generation>`.**

use std::collections::BTreeMap;

use clarion_config::Config;
use clarion_core::advisory::watch::{self, MatchRecord, MatchState, Notice, Service, Settings, Step};
use clarion_core::advisory::{Advisory, Package};
use clarion_core::notification::{human_duration, Announcement, Notification};
use clarion_core::page::{Event, PageLife, PageState};
use clarion_core::Timestamp;
use clarion_store::{NewPage, PageFilter, PageRow, StoreError, WatchDocument, WatchKind};
use serde::{Deserialize, Serialize};

use crate::api::format_time;
use crate::outbox::{self, keys, Envelope, OutboxError};
use crate::pages;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("a stored document does not read: {0}")]
    Corrupt(String),
}

impl From<WatchError> for crate::error::AppError {
    fn from(e: WatchError) -> Self {
        match e {
            WatchError::Store(e) => e.into(),
            WatchError::Outbox(e) => e.into(),
            WatchError::Corrupt(e) => crate::error::AppError::Internal(e),
        }
    }
}

/// A service's inventory as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredInventory {
    /// `cargo-lock`, `package-lock`, … (`clarion_advisories::inventory::Format::as_str`).
    pub format: String,
    pub uploaded_at: Timestamp,
    pub packages: Vec<Package>,
}

/// What one reconciliation told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Told {
    pub opened: usize,
    pub updated: usize,
    pub reminded: usize,
    pub overdue: usize,
    pub retracted: usize,
    pub closed: usize,
    /// Deliveries committed to the outbox.
    pub deliveries: usize,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// Advisories not known before.
    pub new: usize,
    /// Advisories known with an older `modified`.
    pub updated: usize,
    /// Advisories known with the same `modified` (or a newer one): left as they are.
    pub unchanged: usize,
}

/// Vulnerability watch's one lock: reconciliations of this instance run one at a time.
#[derive(Debug, Default)]
pub struct Watch {
    running: tokio::sync::Mutex<()>,
}

/// The documents of vulnerability watch, read from the store.
struct Documents {
    inventories: BTreeMap<String, StoredInventory>,
    advisories: Vec<Advisory>,
    records: BTreeMap<String, MatchRecord>,
}

fn decode<T: for<'de> Deserialize<'de>>(doc: &WatchDocument) -> Result<T, WatchError> {
    serde_json::from_str(&doc.body)
        .map_err(|e| WatchError::Corrupt(format!("{} {:?}: {e}", doc.kind.as_str(), doc.key)))
}

fn encode<T: Serialize>(value: &T) -> Result<String, WatchError> {
    serde_json::to_string(value).map_err(|e| WatchError::Corrupt(e.to_string()))
}

/// The stored documents of `kind` that read; one that does not (written by a newer Clarion, or damaged) is
/// left out with an error in the log, so the others are still watched.
async fn readable<T: for<'de> Deserialize<'de>>(
    state: &AppState,
    kind: WatchKind,
) -> Result<Vec<(String, T)>, WatchError> {
    let mut out = Vec::new();
    for doc in state.store().load_watch(kind).await? {
        match decode(&doc) {
            Ok(value) => out.push((doc.key, value)),
            Err(error) => tracing::error!(%error, "a stored document of vulnerability watch is left out"),
        }
    }
    Ok(out)
}

async fn load(state: &AppState) -> Result<Documents, WatchError> {
    Ok(Documents {
        inventories: readable(state, WatchKind::Inventory).await?.into_iter().collect(),
        advisories: readable(state, WatchKind::Advisory).await?.into_iter().map(|(_, a)| a).collect(),
        records: readable(state, WatchKind::Match).await?.into_iter().collect(),
    })
}

/// The settings of `vulnerabilities:`, for the plan.
pub fn settings(config: &Config) -> Settings {
    let v = &config.file.vulnerabilities;
    let span = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    Settings {
        deadlines: v.deadlines().into_iter().map(|(k, d)| (k, span(d))).collect(),
        reminders: v.reminders.iter().map(|d| span(d.0)).collect(),
        informational: v.informational,
    }
}

impl Watch {
    /// Replaces `service`'s inventory, then tells what changed.
    pub async fn put_inventory(
        &self,
        state: &AppState,
        service: &str,
        inventory: StoredInventory,
    ) -> Result<Told, WatchError> {
        let _running = self.running.lock().await;
        let doc = WatchDocument {
            kind: WatchKind::Inventory,
            key: service.to_string(),
            body: encode(&inventory)?,
            updated_at: inventory.uploaded_at,
        };
        state.store().put_watch(&[doc]).await?;
        Ok(reconcile(state, state.now()).await?.0)
    }

    /// Stores the advisories that are new or newer than the stored ones (by `modified`), then tells what
    /// changed.
    pub async fn import(&self, state: &AppState, advisories: Vec<Advisory>) -> Result<(Imported, Told), WatchError> {
        let _running = self.running.lock().await;
        let now = state.now();
        let known: BTreeMap<String, Timestamp> =
            readable::<Advisory>(state, WatchKind::Advisory).await?.into_iter().map(|(k, a)| (k, a.modified)).collect();
        // Of the records of one id in one import, the one modified last wins.
        let mut latest: BTreeMap<String, Advisory> = BTreeMap::new();
        for a in advisories {
            if latest.get(&a.id).is_none_or(|known| known.modified <= a.modified) {
                latest.insert(a.id.clone(), a);
            }
        }
        let mut imported = Imported::default();
        let mut docs = Vec::new();
        for (id, a) in latest {
            match known.get(&id) {
                Some(m) if *m >= a.modified => imported.unchanged += 1,
                Some(_) => imported.updated += 1,
                None => imported.new += 1,
            }
            if known.get(&id).is_none_or(|m| *m < a.modified) {
                docs.push(WatchDocument { kind: WatchKind::Advisory, key: id, body: encode(&a)?, updated_at: now });
            }
        }
        // Bounded transactions: an import of the whole OSV database is thousands of records.
        for chunk in docs.chunks(500) {
            state.store().put_watch(chunk).await?;
        }
        let (told, _) = reconcile(state, now).await?;
        Ok((imported, told))
    }

    /// Tells what fell due (reminders, overdue notices) and what changed elsewhere (another instance's
    /// imports, a reloaded catalog). The worker's round.
    pub async fn round(&self, state: &AppState) -> Result<(Told, Option<Timestamp>), WatchError> {
        let _running = self.running.lock().await;
        reconcile(state, state.now()).await
    }

    /// The stored inventory of `service`.
    pub async fn inventory(&self, state: &AppState, service: &str) -> Result<Option<StoredInventory>, WatchError> {
        Ok(readable(state, WatchKind::Inventory).await?.into_iter().find(|(k, _)| k == service).map(|(_, i)| i))
    }

    /// Every match record (open and ended), by key.
    pub async fn records(&self, state: &AppState) -> Result<Vec<MatchRecord>, WatchError> {
        Ok(load(state).await?.records.into_values().collect())
    }
}

/// Plans from the stored documents and tells the plan (see the module documentation); with the next instant
/// a timed notice of a watched match falls due.
async fn reconcile(state: &AppState, now: Timestamp) -> Result<(Told, Option<Timestamp>), WatchError> {
    let config = state.config();
    let docs = load(state).await?;
    let services: Vec<Service<'_>> = config
        .file
        .services
        .iter()
        .filter_map(|s| {
            docs.inventories.get(&s.name).map(|i| Service { name: &s.name, team: &s.team, packages: &i.packages })
        })
        .collect();
    // Matches of services no longer in the catalog (or without an inventory) stay as they are: nobody
    // said they no longer ship the package.
    let watched: BTreeMap<String, MatchRecord> = docs
        .records
        .iter()
        .filter(|(_, r)| services.iter().any(|s| s.name == r.service))
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    let steps = watch::plan(&services, &docs.advisories, &watched, &settings(&config), now);
    let mut after = watched;
    for step in &steps {
        after.insert(step.record.key(), step.record.clone());
    }
    let next = watch::next_due(&after, &settings(&config));
    // Pages whose match is no longer open (a crash between telling and storing, or a resolve that failed)
    // are resolved now.
    let mut open_pages: std::collections::BTreeSet<String> = docs
        .records
        .values()
        .chain(steps.iter().map(|s| &s.record))
        .filter(|r| r.state == MatchState::Open)
        .map(group_key)
        .collect();
    for step in steps.iter().filter(|s| s.record.state != MatchState::Open) {
        open_pages.remove(&group_key(&step.record));
    }
    resolve_orphans(state, &open_pages).await?;
    if steps.is_empty() {
        return Ok((Told::default(), next));
    }
    let advisories: BTreeMap<&str, &Advisory> = docs.advisories.iter().map(|a| (a.id.as_str(), a)).collect();
    // Who ships each (advisory, package) now: the impact of every message about it.
    let current = watch::matches(&services, &docs.advisories, &settings(&config));
    let shippers = |advisory: &str, package: &Package| -> Vec<String> {
        let mut out: Vec<String> = current
            .iter()
            .filter(|(_, p, a, _)| a.id == advisory && p.ecosystem == package.ecosystem && p.name == package.name)
            .map(|(s, p, _, _)| format!("{} ({} {}{})", s.name, p.name, p.version, how(p.direct)))
            .collect();
        out.dedup();
        out
    };
    let mut told = Told::default();
    let external_url = state.external_url();
    let lease = outbox::lease_until(&config, now);
    let mut opened = Vec::new();
    let mut others = Vec::new();
    for step in steps {
        let r = &step.record;
        let ships = docs.inventories.get(&r.service).is_some_and(|i| {
            i.packages.iter().any(|p| {
                (&p.ecosystem, &p.name, &p.version) == (&r.package.ecosystem, &r.package.name, &r.package.version)
            })
        });
        let message = Message::of(&step, advisories.get(r.advisory.as_str()).copied(), &config, &shippers, ships);
        match step.notice {
            Notice::Opened => opened.push((step, message)),
            _ => others.push((step, message)),
        }
    }
    // Opened matches: their pages and first notices in one commit.
    if !opened.is_empty() {
        let new_pages: Vec<NewPage> = opened
            .iter()
            .map(|(step, message)| {
                let policy = config.policy_for(None, &step.record.team);
                NewPage {
                    team: step.record.team.clone(),
                    group_key: group_key(&step.record),
                    kind: "advisory".into(),
                    severity: step.record.severity.clone(),
                    summary: message.title.clone(),
                    context: Some(message.why.clone()),
                    policy: policy.map(|p| p.name.clone()),
                    life: PageLife::open(policy, now),
                }
            })
            .collect();
        let plan_state = state.clone();
        let plan_config = config.clone();
        let plan_url = external_url.clone();
        let plan_opened = opened.clone();
        let (pages, sent, ()) = state
            .outbox()
            .open_and_send(
                &new_pages,
                move |pages: &[PageRow]| {
                    let mut envelopes = Vec::new();
                    for ((step, message), page) in plan_opened.iter().zip(pages) {
                        envelopes.extend(envelopes_of(
                            &plan_state,
                            &plan_config,
                            step,
                            message,
                            Some(page),
                            now,
                            &plan_url,
                        ));
                    }
                    (envelopes, Vec::new(), ())
                },
                now,
                lease,
            )
            .await?;
        pages::opened(state, &pages, now);
        told.deliveries += sent.stored as usize;
        told.opened += opened.len();
    }
    let mut envelopes = Vec::new();
    for (step, message) in &others {
        let page = state.store().open_page(&step.record.team, &group_key(&step.record)).await?;
        envelopes.extend(envelopes_of(state, &config, step, message, page.as_ref(), now, &external_url));
        match step.notice {
            Notice::Updated => told.updated += 1,
            Notice::Reminder(_) => told.reminded += 1,
            Notice::Overdue => told.overdue += 1,
            Notice::Retracted => told.retracted += 1,
            Notice::Closed => told.closed += 1,
            Notice::Opened => {}
        }
    }
    if !envelopes.is_empty() {
        told.deliveries += state.outbox().send(&envelopes, &[], now, lease).await?.stored as usize;
    }
    // Ended matches resolve their pages (a repeat after a crash finds them resolved already; one that
    // fails is resolved by a later round's sweep).
    for (step, _) in others.iter().filter(|(s, _)| matches!(s.notice, Notice::Retracted | Notice::Closed)) {
        if let Some(page) = state.store().open_page(&step.record.team, &group_key(&step.record)).await? {
            resolve(state, page.id).await;
        }
    }
    let records: Vec<WatchDocument> = opened
        .iter()
        .chain(&others)
        .map(|(step, _)| {
            Ok(WatchDocument {
                kind: WatchKind::Match,
                key: step.record.key(),
                body: encode(&step.record)?,
                updated_at: now,
            })
        })
        .collect::<Result<_, WatchError>>()?;
    state.store().put_watch(&records).await?;
    tracing::info!(
        opened = told.opened,
        updated = told.updated,
        reminded = told.reminded,
        overdue = told.overdue,
        retracted = told.retracted,
        closed = told.closed,
        deliveries = told.deliveries,
        "vulnerability watch told the owners"
    );
    Ok((told, next))
}

/// Resolves an advisory page; a failure is logged (the next round's sweep tries again).
async fn resolve(state: &AppState, id: i64) {
    match pages::apply(state, id, &Event::Resolve(pages::automatic())).await {
        Ok(_) | Err(pages::PageError::Refused(_)) => {}
        Err(error) => tracing::error!(page = id, %error, "resolving an advisory page failed; trying again next round"),
    }
}

/// Resolves the open advisory pages whose group key is not among `open` (the pages of open matches).
async fn resolve_orphans(state: &AppState, open: &std::collections::BTreeSet<String>) -> Result<(), WatchError> {
    for wanted in [PageState::Triggered, PageState::Acknowledged] {
        let filter = PageFilter { state: Some(wanted), limit: 100_000, ..PageFilter::default() };
        for page in state.store().list_pages(&filter).await? {
            if page.kind == "advisory" && !open.contains(&page.group_key) {
                resolve(state, page.id).await;
            }
        }
    }
    Ok(())
}

/// `advisory/<match>#<generation>`: the group key of a match's page and messages.
fn group_key(record: &MatchRecord) -> String {
    format!("advisory/{}#{}", record.key(), record.generation)
}

fn how(direct: Option<bool>) -> &'static str {
    match direct {
        Some(true) => ", direct",
        Some(false) => ", through its dependencies",
        None => "",
    }
}

/// What a notice of a match says, in the clarity fields every channel renders.
#[derive(Debug, Clone)]
struct Message {
    label: &'static str,
    title: String,
    what: String,
    why: String,
    impact: String,
    action: String,
    deadline: String,
}

impl Message {
    fn of(
        step: &Step,
        advisory: Option<&Advisory>,
        config: &Config,
        shippers: &dyn Fn(&str, &Package) -> Vec<String>,
        ships: bool,
    ) -> Message {
        let r = &step.record;
        let p = &r.package;
        let summary = advisory.map(|a| if a.summary.is_empty() { a.id.clone() } else { a.summary.clone() });
        let summary = summary.unwrap_or_else(|| r.advisory.clone());
        let aliases = advisory.map(|a| a.aliases.join(", ")).filter(|a| !a.is_empty());
        let reference = advisory.and_then(|a| a.references.first().cloned());
        let cvss = advisory.and_then(|a| a.cvss.clone());
        let what = [
            Some(format!("{} affects {} {} ({}): {summary}", r.advisory, p.name, p.version, p.ecosystem)),
            aliases.map(|a| format!("Also known as {a}.")),
            Some(format!("Severity {}{}.", r.severity, cvss.map(|c| format!(" ({c})")).unwrap_or_default())),
            reference.clone().map(|u| format!("Advisory: {u}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let why = format!(
            "{} ships {} {}{}: a vulnerability of {} severity in a component the service runs.",
            r.service,
            p.name,
            p.version,
            match p.direct {
                Some(true) => " as a direct dependency",
                Some(false) => " through its dependencies",
                None => "",
            },
            r.severity
        );
        let mut impact = shippers(&r.advisory, p);
        if impact.is_empty() {
            impact.push(format!("{} ({} {})", r.service, p.name, p.version));
        }
        let impact = format!("Services shipping an affected version: {}.", impact.join(", "));
        let upload =
            format!("then upload the service's new lockfile (`clarion inventory upload {} <lockfile>`)", r.service);
        let mut action = match step.fixed.first() {
            Some(fixed) => format!("Upgrade `{}` to {fixed} or later in {}, {upload}.", p.name, r.service),
            None => format!(
                "No fixed version yet: read the advisory{} and remove or mitigate `{}` in {}; {upload} when it changes.",
                reference.map(|u| format!(" ({u})")).unwrap_or_default(),
                p.name,
                r.service
            ),
        };
        if let Some(runbook) = &config.file.vulnerabilities.runbook {
            action.push_str(&format!(" Runbook: {runbook}"));
        }
        let left = r.deadline.signed_duration_since(r.opened_at);
        let deadline = format!("{} ({} for {} severity)", format_time(r.deadline), human_duration(left), r.severity);
        let (label, title) = match step.notice {
            Notice::Opened => ("vulnerability", format!("{} {} in {}: {summary}", p.name, p.version, r.service)),
            Notice::Updated => (
                "vulnerability updated",
                format!("{} changed: {} {} in {}: {summary}", r.advisory, p.name, p.version, r.service),
            ),
            Notice::Reminder(s) => (
                "vulnerability reminder",
                format!(
                    "{} left: {} {} in {} ({})",
                    human_duration(chrono::Duration::seconds(s)),
                    p.name,
                    p.version,
                    r.service,
                    r.advisory
                ),
            ),
            Notice::Overdue => (
                "vulnerability overdue",
                format!("Deadline passed: {} {} in {} ({})", p.name, p.version, r.service, r.advisory),
            ),
            Notice::Retracted => (
                "vulnerability retracted",
                format!("Withdrawn: {} no longer applies to {} {} in {}", r.advisory, p.name, p.version, r.service),
            ),
            Notice::Closed if ships => (
                "vulnerability closed",
                format!("Closed: {} no longer covers {} {} in {}", r.advisory, p.name, p.version, r.service),
            ),
            Notice::Closed => (
                "vulnerability closed",
                format!("Closed: {} no longer ships {} {} ({})", r.service, p.name, p.version, r.advisory),
            ),
        };
        let (why, action) = match step.notice {
            Notice::Retracted => (
                format!("The advisory's publisher withdrew {}: it was published in error or is no longer valid.", r.advisory),
                "Nothing to do for this advisory: the earlier notices no longer hold. Work already done need not be undone."
                    .to_string(),
            ),
            Notice::Closed if ships => (
                format!(
                    "{} was changed and no longer lists {} {} as affected (or informational advisories are no \
                     longer told).",
                    r.advisory, p.name, p.version
                ),
                "Nothing more to do: the match is closed.".to_string(),
            ),
            Notice::Closed => (
                format!("{}'s latest inventory no longer holds {} {}.", r.service, p.name, p.version),
                "Nothing more to do: the match is closed.".to_string(),
            ),
            _ => (why, action),
        };
        Message { label, title, what, why, impact, action, deadline }
    }
}

/// The deliveries of one notice: one per channel of the match's team.
fn envelopes_of(
    state: &AppState,
    config: &Config,
    step: &Step,
    message: &Message,
    page: Option<&PageRow>,
    now: Timestamp,
    external_url: &str,
) -> Vec<Envelope> {
    let r = &step.record;
    let Some(team) = config.team(&r.team) else { return Vec::new() };
    let notice = match step.notice {
        Notice::Updated => format!("updated-{}", r.told_modified.timestamp()),
        other => other.name(),
    };
    let id = format!("{}#{}", r.key(), r.generation);
    team.channels
        .iter()
        .map(|channel| {
            let announcement = Announcement {
                id: id.clone(),
                team: team.name.clone(),
                external_url: external_url.to_string(),
                severity: r.severity.clone(),
                title: message.title.clone(),
                what_changes: Some(message.what.clone()),
                context: Some(message.why.clone()),
                impact: Some(message.impact.clone()),
                action: Some(message.action.clone()),
                deadline: Some(message.deadline.clone()),
                owner: Some(team.name.clone()),
                sent_at: now,
                page: page.map(|p| pages::page_ref_at(state, config, p, channel, now, external_url)),
                label: Some(message.label.to_string()),
                source: Some(format!("vulnerability watch ({})", r.service)),
            };
            Envelope {
                channel: channel.clone(),
                idempotency_key: keys::advisory(&r.key(), r.generation, &notice, &team.name, channel),
                reason: format!("advisory:{notice}"),
                notification: Notification::Announcement(announcement),
            }
        })
        .collect()
}

/// An open match as `clarion advisories status` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OpenMatch {
    pub team: String,
    pub service: String,
    pub advisory: String,
    pub package: String,
    pub version: String,
    pub ecosystem: String,
    pub severity: String,
    pub opened_at: String,
    pub deadline: String,
    /// Days until the deadline, rounded up (7 for a 7-day deadline just opened); 0 or less when overdue.
    pub days_left: i64,
    pub overdue: bool,
}

/// The open matches, by team, then deadline.
pub fn open_matches(records: &[MatchRecord], now: Timestamp) -> Vec<OpenMatch> {
    let mut open: Vec<&MatchRecord> = records.iter().filter(|r| r.state == MatchState::Open).collect();
    open.sort_by(|a, b| (&a.team, a.deadline, &a.service).cmp(&(&b.team, b.deadline, &b.service)));
    open.into_iter()
        .map(|r| OpenMatch {
            team: r.team.clone(),
            service: r.service.clone(),
            advisory: r.advisory.clone(),
            package: r.package.name.clone(),
            version: r.package.version.clone(),
            ecosystem: r.package.ecosystem.clone(),
            severity: r.severity.clone(),
            opened_at: format_time(r.opened_at),
            deadline: format_time(r.deadline),
            days_left: -(-r.deadline.signed_duration_since(now).num_milliseconds()).div_euclid(86_400_000),
            overdue: now >= r.deadline,
        })
        .collect()
}
