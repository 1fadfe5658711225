//! Planned-event notices: nobody is surprised by a change.
//!
//! A calendar event that names affected services (`X-CLARION-SERVICES`) or an owner team
//! (`X-CLARION-OWNER`) is a **planned event**. Its audience is the owner team and the teams of every
//! affected service and of every service that depends on one, directly or through others (the service
//! catalog, `services:`). Each occurrence is announced when the event first appears in an import (or in
//! a calendar's `ics_file` at a reload), told again when it is rescheduled or cancelled, reminded at the calendar's lead times, and told when it
//! starts and ends ([`clarion_core::planned`] decides when). While an occurrence runs, alerts whose
//! `service` label names an affected service are held back ([`muted_services`]); they are notified at
//! their group's first flush after it ends.
//!
//! Every notice goes through the outbox with a key of calendar, event, occurrence start, kind, team and
//! channel ([`crate::outbox::keys::planned`]), so a notice computed twice — by two instances, or again
//! after a restart — is stored once. The worker (`workers::notices`) looks a day back each round, so a
//! restart within a day loses no reminder. An import that adds an event with less notice than its
//! calendar's `notice.minimum` is refused unless the event says why (`X-CLARION-EMERGENCY`), and the
//! notices repeat the reason; one whose notices would fall short of the communication standard is refused
//! with the findings.

use std::collections::{BTreeSet, HashMap, HashSet};

use clarion_calendar::{Calendar, Event};
use clarion_config::Config;
use clarion_core::announcement::{accept, AnnouncementDraft, AnnouncementError};
use clarion_core::notification::Notification;
use clarion_core::planned::{gives_notice, timed_notices, NoticeKind};
use clarion_core::Timestamp;

use crate::api::format_time;
use crate::calendars;
use crate::outbox::{self, keys, Envelope, OutboxError};
use crate::state::AppState;

/// How far back each round looks for notices that fell due (a restart shorter than this loses none).
pub const LOOK_BACK: chrono::Duration = chrono::Duration::days(1);

/// Why notices could not be planned or sent.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Calendar(#[from] calendars::CalendarError),
}

/// The teams a planned event concerns, in a stable order: its owner (when that names a team), then the
/// teams of its affected services and of the services depending on them. Empty for a plain event.
pub fn audience(config: &Config, event: &Event) -> Vec<String> {
    let mut teams: Vec<String> = Vec::new();
    let mut add = |t: &str| {
        if config.team(t).is_some() && !teams.iter().any(|x| x == t) {
            teams.push(t.to_string());
        }
    };
    if let Some(owner) = &event.owner {
        add(owner);
    }
    let services = &config.file.services;
    for name in &event.services {
        if let Some(s) = services.iter().find(|s| &s.name == name) {
            add(&s.team);
        }
        for d in clarion_config::escalation::dependents(services, name) {
            add(&d.team);
        }
    }
    teams
}

/// The names among `names` that are configured services, each once, in order: how an outside source's
/// resources (an AWS Health event's entities) become a planned event's affected services.
pub fn configured_services(config: &Config, names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if config.file.services.iter().any(|s| s.name == n) && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// For a change an outside party (`by`) schedules and Clarion cannot refuse: the emergency reason it is
/// marked with when it gives less than calendar `calendar`'s minimum notice.
pub fn imposed_emergency(
    config: &Config,
    calendar: &str,
    start: &clarion_calendar::Time,
    now: Timestamp,
    by: &str,
) -> Option<String> {
    let declared = config.calendar(calendar)?;
    (!gives_notice(start.instant(declared.zone), now, declared.minimum_notice_for(None)))
        .then(|| format!("scheduled by {by} with less notice than this calendar asks for"))
}

fn is_planned(event: &Event) -> bool {
    !event.cancelled && event.recurrence_id.is_none() && (!event.services.is_empty() || event.owner.is_some())
}

/// The draft of notice `kind` about the occurrence `[start, end)` of `event`.
fn draft(
    event: &Event,
    kind: NoticeKind,
    start: Timestamp,
    end: Timestamp,
    teams: Vec<String>,
    config: &Config,
) -> AnnouncementDraft {
    let what = event.summary.clone().unwrap_or_else(|| "Planned change".into());
    let mut details = vec![format!("When: {} to {} (UTC)", format_time(start), format_time(end))];
    if !event.services.is_empty() {
        details.push(format!("Affected services: {}", event.services.join(", ")));
    }
    if let Some(reason) = &event.emergency {
        details.push(format!("Emergency change, announced with short notice: {reason}"));
    }
    // The owner is the event's, else the team of its first affected service.
    let owner = event.owner.clone().or_else(|| {
        event.services.iter().find_map(|n| config.file.services.iter().find(|s| &s.name == n).map(|s| s.team.clone()))
    });
    AnnouncementDraft {
        title: Some(format!("{}: {what}", kind.headline())),
        what_changes: Some(details.join("\n")),
        // DESCRIPTION says why the change is made.
        why: event.description.clone(),
        impact: event.impact.clone().or_else(|| {
            (!event.services.is_empty()).then(|| {
                format!(
                    "{}: expect unavailability or degraded service while the change runs",
                    event.services.join(", ")
                )
            })
        }),
        action: event.action.clone(),
        deadline: Some(format_time(start)),
        owner,
        severity: event
            .severity
            .clone()
            .or_else(|| Some(if event.emergency.is_some() { "warning" } else { "info" }.into())),
        teams,
        everyone: false,
    }
}

/// Sends notice `kind` about the occurrence `[start, end)` of `event` in `calendar` to its audience. The
/// timed kinds are keyed by the occurrence alone (computed again, they are stored once); the kinds an
/// import sends (announced, rescheduled, cancelled) also by the import's time, so moving an event back
/// and forth is told each time.
async fn send(
    state: &AppState,
    config: &Config,
    calendar: &str,
    event: &Event,
    kind: NoticeKind,
    (start, end): (Timestamp, Timestamp),
    now: Timestamp,
) -> Result<usize, NoticeError> {
    let kind_key = match kind {
        NoticeKind::Announced | NoticeKind::Rescheduled | NoticeKind::Cancelled => {
            format!("{}@{}", kind.key(), now.timestamp_nanos_opt().unwrap_or_default())
        }
        _ => kind.key(),
    };
    let teams = audience(config, event);
    if teams.is_empty() {
        return Ok(0);
    }
    let names: Vec<&str> = teams.iter().map(String::as_str).collect();
    let id = keys::planned(calendar, &event.uid, start, &kind_key, "", "");
    let d = draft(event, kind, start, end, teams.clone(), config);
    let accepted = match accept(&d, &names, &config.standard, &id, &state.external_url(), now) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(calendar, event = %event.uid, error = %e, "a planned-event notice cannot be sent");
            return Ok(0);
        }
    };
    let mut envelopes = Vec::new();
    for a in accepted {
        let Some(team) = config.team(&a.team) else { continue };
        for channel in &team.channels {
            let mut notice = a.clone();
            notice.label = Some("planned change".into());
            notice.source = Some(format!("calendar {calendar}"));
            envelopes.push(Envelope {
                channel: channel.clone(),
                idempotency_key: keys::planned(calendar, &event.uid, start, &kind_key, &team.name, channel),
                reason: format!("planned:{kind_key}"),
                notification: Notification::Announcement(notice),
            });
        }
    }
    let sent = state.outbox().send(&envelopes, &[], now, outbox::lease_until(config, now)).await?;
    if sent.stored > 0 {
        tracing::info!(calendar, event = %event.uid, notice = %kind.key(), deliveries = sent.stored, "planned-event notice sent");
    }
    Ok(sent.stored as usize)
}

/// The next occurrence of each planned event of `calendar` (by UID) that has not ended at `now`.
fn upcoming(
    calendar: &Calendar,
    zone: chrono_tz::Tz,
    now: Timestamp,
) -> HashMap<String, (usize, Timestamp, Timestamp)> {
    let mut out = HashMap::new();
    let Ok(occurrences) = clarion_calendar::expand(calendar, zone, now, now + calendars::HORIZON) else { return out };
    for o in occurrences {
        let event = &calendar.events[o.event];
        out.entry(event.uid.clone()).or_insert((o.event, o.window.start, o.window.end));
    }
    out
}

/// Checks an import of `new` over `old` into calendar `name` before it is stored: a new planned event
/// gives the calendar's minimum notice (or says why it cannot), and its notices meet the standard.
pub fn check_import(
    state: &AppState,
    name: &str,
    old: Option<&Calendar>,
    new: &Calendar,
    now: Timestamp,
) -> Result<(), calendars::CalendarError> {
    let config = state.config();
    let Some(declared) = config.calendar(name) else { return Ok(()) };
    // Every question asked of a calendar expands it two years ahead: one that cannot be expanded (a
    // secondly rule from 1990) is refused now rather than answering nothing later.
    if let Err(e) = clarion_calendar::expand(new, declared.zone, now, now + calendars::HORIZON) {
        return Err(calendars::CalendarError::Refused(format!("{e}; nothing was imported")));
    }
    let known: HashSet<&str> = old.map(|c| c.events.iter().map(|e| e.uid.as_str()).collect()).unwrap_or_default();
    let before = old.map(|c| upcoming(c, declared.zone, now)).unwrap_or_default();
    for (uid, (i, start, end)) in upcoming(new, declared.zone, now) {
        let event = &new.events[i];
        // A new event must give the notice; so must a known one moved sooner (moved later, it gives more).
        let moved_sooner = before.get(&uid).is_some_and(|(_, was, _)| start < *was);
        if !is_planned(event) || (known.contains(uid.as_str()) && !moved_sooner) {
            continue;
        }
        let minimum = declared.minimum_notice_for(event.severity.as_deref());
        if event.emergency.is_none() && !gives_notice(start, now, minimum) {
            let of = event.severity.as_deref().map(|s| format!(" for {s} changes")).unwrap_or_default();
            return Err(calendars::CalendarError::Refused(format!(
                "event {uid:?} starts at {} with less than the {} notice calendar {name:?} asks for{of}; plan it \
                 later, or say why it cannot wait in X-CLARION-EMERGENCY",
                format_time(start),
                clarion_config::ConfigDuration(minimum)
            )));
        }
        let teams = audience(&config, event);
        let names: Vec<&str> = teams.iter().map(String::as_str).collect();
        if teams.is_empty() {
            continue;
        }
        let d = draft(event, NoticeKind::Announced, start, end, teams.clone(), &config);
        if let Err(e) = accept(&d, &names, &config.standard, "check", &state.external_url(), now) {
            let detail = match &e {
                AnnouncementError::FallsShort(findings) => {
                    findings.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; ")
                }
                other => other.to_string(),
            };
            return Err(calendars::CalendarError::Refused(format!(
                "event {uid:?}: its notices would fall short: {detail}"
            )));
        }
    }
    Ok(())
}

/// After an import of `new` over `old` into calendar `name` was stored: announces new planned events,
/// and tells of rescheduled and cancelled ones.
pub async fn on_import(
    state: &AppState,
    name: &str,
    old: Option<&Calendar>,
    new: &Calendar,
    now: Timestamp,
) -> Result<usize, NoticeError> {
    let config = state.config();
    let Some(declared) = config.calendar(name) else { return Ok(0) };
    let before = old.map(|c| upcoming(c, declared.zone, now)).unwrap_or_default();
    let after = upcoming(new, declared.zone, now);
    let mut sent = 0;
    for (uid, (i, start, end)) in &after {
        let event = &new.events[*i];
        if !is_planned(event) {
            continue;
        }
        let kind = match before.get(uid) {
            None => NoticeKind::Announced,
            Some((_, s, e)) if (s, e) != (start, end) => NoticeKind::Rescheduled,
            Some(_) => continue,
        };
        sent += send(state, &config, name, event, kind, (*start, *end), now).await?;
    }
    let remaining: BTreeSet<&str> = after.keys().map(String::as_str).collect();
    for (uid, (i, start, end)) in &before {
        let Some(event) = old.and_then(|c| c.events.get(*i)) else { continue };
        if is_planned(event) && !remaining.contains(uid.as_str()) {
            sent += send(state, &config, name, event, NoticeKind::Cancelled, (*start, *end), now).await?;
        }
    }
    Ok(sent)
}

/// One round of the notices worker: for each occurrence, the latest reminder, start or end notice that
/// fell due in `(now - LOOK_BACK, now]` (and after its calendar was imported; an import sends what was
/// due before it first) is sent; the outbox keeps each once.
pub async fn send_due(state: &AppState, now: Timestamp) -> Result<usize, NoticeError> {
    let config = state.config();
    let mut sent = 0;
    for declared in config.calendars() {
        let e = calendars::events(state, &declared.name)?;
        let longest = declared.lead_times.iter().max().copied().unwrap_or_default();
        let longest = chrono::Duration::from_std(longest).unwrap_or(chrono::Duration::zero());
        let after = e.imported_at.map_or(now - LOOK_BACK, |i| i.max(now - LOOK_BACK));
        let Ok(occurrences) = clarion_calendar::expand(
            &e.calendar,
            e.zone,
            now - LOOK_BACK,
            now + longest + chrono::Duration::seconds(1),
        ) else {
            continue;
        };
        for o in occurrences {
            let event = &e.calendar.events[o.event];
            let series = if event.recurrence_id.is_some() {
                e.calendar.events.iter().find(|m| m.uid == event.uid && m.recurrence_id.is_none()).unwrap_or(event)
            } else {
                event
            };
            let planned = !series.services.is_empty() || series.owner.is_some();
            if planned && !event.cancelled {
                for (kind, _) in timed_notices(o.window.start, o.window.end, &declared.lead_times, after, now) {
                    sent +=
                        send(state, &config, &declared.name, event, kind, (o.window.start, o.window.end), now).await?;
                }
            }
        }
    }
    Ok(sent)
}

/// The services of every planned event running at `now`, each with the events (`calendar/uid`): their
/// alerts are held back.
pub fn muted_services(state: &AppState, config: &Config, now: Timestamp) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for declared in config.calendars() {
        let Ok(e) = calendars::events(state, &declared.name) else { continue };
        if e.calendar.events.iter().all(|ev| ev.services.is_empty()) {
            continue;
        }
        let Ok(running) = clarion_calendar::expand(&e.calendar, e.zone, now, now + chrono::Duration::seconds(1)) else {
            continue;
        };
        for o in running.iter().filter(|o| o.window.contains(now)) {
            let event = &e.calendar.events[o.event];
            for service in &event.services {
                out.entry(service.clone()).or_default().push(format!("{}/{}", declared.name, event.uid));
            }
        }
    }
    out
}
