//! Announcements: `GET /ui/announcements` (the form to send one, and the last ones sent with how many of
//! their teams have acknowledged), `POST /ui/announcements` (sends one through
//! [`crate::announcements::send`], as the API does) and `GET /ui/announcements/{id}` (per addressed team,
//! who acknowledged and when, or that nobody has yet).
//!
//! An announcement that falls short of the communication standard, whose deadline has passed or whose
//! audience is wrong is answered with the same form, filled in with what was posted, and every finding
//! above it: nothing was stored or sent. What was sent is read back from its pages (kind `announcement`,
//! group key `announcement/{id}`, one per addressed team; acknowledging one means the team has read it).

use std::collections::HashMap;

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use clarion_config::Scope;
use clarion_core::announcement::AnnouncementDraft;
use clarion_core::standard::{field_name, Finding, MessageKind};
use clarion_store::{PageFilter, PageRow};
use serde::Deserialize;

use super::session::Visit;
use super::{ago, render, time, Chrome, Section};
use crate::announcements::{self as sending, SendError};
use crate::pages;

/// Announcement pages read for the list, at most.
const MAX_PAGES: usize = 500;
/// Announcements listed, at most.
const MAX_ANNOUNCEMENTS: usize = 50;
/// Pages of one announcement read, at most (one per team).
const MAX_TEAMS: usize = 10_000;
/// The severities the form offers (`""`: none given, shown as `info`).
const SEVERITIES: [(&str, &str); 4] =
    [("", "(none: shown as info)"), ("info", "info"), ("warning", "warning"), ("critical", "critical")];

/// What the form holds: empty, or what was posted.
#[derive(Debug, Clone, Default)]
pub struct Filled {
    pub title: String,
    pub what_changes: String,
    pub why: String,
    pub impact: String,
    pub action: String,
    pub deadline: String,
    pub owner: String,
    pub severity: String,
    pub teams: Vec<String>,
    pub everyone: bool,
}

impl Filled {
    /// The fields of a posted form (`teams` repeated, one per checked box), its CSRF token, and whether it
    /// only asks to be checked: only the "Send announcement" button (`intent=send`) sends; "Check", or a
    /// post naming no button, checks.
    fn parse(pairs: Vec<(String, String)>) -> (Filled, String, bool) {
        let mut filled = Filled::default();
        let mut csrf = String::new();
        let mut check_only = true;
        for (key, value) in pairs {
            match key.as_str() {
                "csrf" => csrf = value,
                "intent" => check_only = value != "send",
                "title" => filled.title = value,
                "what_changes" => filled.what_changes = value,
                "why" => filled.why = value,
                "impact" => filled.impact = value,
                "action" => filled.action = value,
                "deadline" => filled.deadline = value,
                "owner" => filled.owner = value,
                "severity" => filled.severity = value,
                "teams" if !value.trim().is_empty() => filled.teams.push(value.trim().to_string()),
                "everyone" => filled.everyone = matches!(value.as_str(), "true" | "on"),
                _ => {}
            }
        }
        (filled, csrf, check_only)
    }

    fn draft(&self) -> AnnouncementDraft {
        let text = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        AnnouncementDraft {
            title: text(&self.title),
            what_changes: text(&self.what_changes),
            why: text(&self.why),
            impact: text(&self.impact),
            action: text(&self.action),
            deadline: text(&self.deadline),
            owner: text(&self.owner),
            severity: text(&self.severity),
            teams: self.teams.clone(),
            everyone: self.everyone,
        }
    }
}

/// A team's checkbox.
pub struct TeamBox {
    pub name: String,
    pub checked: bool,
}

/// A severity of the select.
pub struct SeverityOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// One finding as shown.
pub struct FindingLine {
    pub rule: &'static str,
    /// The field's name as the author wrote it (`title`, `why`, …); empty for the whole announcement.
    pub field: &'static str,
    pub message: String,
    pub fix: String,
}

/// One announcement of the list.
pub struct Recent {
    pub id: String,
    pub title: String,
    pub when: String,
    pub ago: String,
    pub teams: String,
    pub acknowledged: usize,
    pub addressed: usize,
}

#[derive(Template)]
#[template(path = "announcements.html")]
struct ListPage {
    chrome: Chrome,
    may_send: bool,
    form: Filled,
    teams: Vec<TeamBox>,
    severities: Vec<SeverityOption>,
    /// Why it was not sent, when that is not the standard's findings.
    problem: Option<String>,
    /// "Check" found nothing: the teams it would go to.
    ready: Option<String>,
    findings: Vec<FindingLine>,
    recent: Vec<Recent>,
    /// The list could not be read.
    recent_problem: Option<String>,
}

/// The pages of every announcement, newest first, as at most [`MAX_ANNOUNCEMENTS`] announcements. When the
/// read was cut at its limit (`complete` false), the oldest announcement read may lack some of its pages:
/// it is left out rather than shown with wrong counts.
fn recent_of(pages: Vec<PageRow>, complete: bool, now: clarion_core::Timestamp) -> Vec<Recent> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<PageRow>> = HashMap::new();
    let mut read_past_the_last = false;
    for page in pages {
        let Some(id) = page.group_key.strip_prefix("announcement/").map(str::to_string) else { continue };
        if !groups.contains_key(&id) {
            if order.len() == MAX_ANNOUNCEMENTS {
                // An older announcement: every page of the ones kept was read before it.
                read_past_the_last = true;
                continue;
            }
            order.push(id.clone());
        }
        groups.entry(id).or_default().push(page);
    }
    if !complete && !read_past_the_last {
        order.pop();
    }
    order
        .into_iter()
        .filter_map(|id| {
            let mut pages = groups.remove(&id)?;
            // In the order the teams were addressed (they opened in that order).
            pages.sort_by_key(|p| p.id);
            let sent = pages.iter().map(|p| p.life.opened_at).min()?;
            Some(Recent {
                title: pages.first().map(|p| p.summary.clone()).unwrap_or_default(),
                when: time(sent),
                ago: ago(sent, now),
                teams: pages.iter().map(|p| p.team.as_str()).collect::<Vec<_>>().join(", "),
                acknowledged: pages.iter().filter(|p| p.life.acknowledged_by.is_some()).count(),
                addressed: pages.len(),
                id,
            })
        })
        .collect()
}

/// The list page with `form`, answered with `status`.
async fn list_page(
    visit: &Visit,
    status: StatusCode,
    form: Filled,
    problem: Option<String>,
    findings: Vec<FindingLine>,
) -> Response {
    list_page_ready(visit, status, form, problem, findings, None).await
}

/// [`list_page`], saying the form meets the standard and would go to `ready`.
async fn list_page_ready(
    visit: &Visit,
    status: StatusCode,
    form: Filled,
    problem: Option<String>,
    findings: Vec<FindingLine>,
    ready: Option<String>,
) -> Response {
    let state = &visit.state;
    let config = state.config();
    let filter = PageFilter { kind: Some("announcement".into()), limit: MAX_PAGES, ..PageFilter::default() };
    let (recent, recent_problem) = match state.store().list_pages(&filter).await {
        Ok(found) => {
            let complete = found.len() < MAX_PAGES;
            (recent_of(found, complete, state.now()), None)
        }
        Err(e) => {
            tracing::error!(error = %e, "reading announcement pages failed");
            (Vec::new(), Some("Clarion could not read the announcements sent; reload to try again.".to_string()))
        }
    };
    let teams = config
        .team_names()
        .into_iter()
        .map(|name| TeamBox { name: name.to_string(), checked: form.teams.iter().any(|t| t == name) })
        .collect();
    let severities = SEVERITIES
        .iter()
        .map(|(value, label)| SeverityOption { value, label, selected: form.severity == *value })
        .collect();
    let page = ListPage {
        chrome: visit.chrome("Announcements", Section::Announcements),
        may_send: visit.may(Scope::Announce),
        form,
        teams,
        severities,
        problem,
        ready,
        findings,
        recent,
        recent_problem,
    };
    render(status, &page)
}

/// `GET /ui/announcements`.
pub async fn list(visit: Visit) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    list_page(&visit, StatusCode::OK, Filled::default(), None, Vec::new()).await
}

/// `POST /ui/announcements`: sends the announcement and shows it, or answers the form again with why not.
pub async fn send(visit: Visit, headers: HeaderMap, body: Body) -> Response {
    // The body is read (within the configured size and time limits) to find the CSRF token; nothing is
    // changed before it and the scope are checked.
    let bytes = match crate::api::read_body(&visit.state, &headers, body).await {
        Ok(bytes) => bytes,
        Err(e) => return visit.refuse(e.status(), &e.to_string()),
    };
    // A body that is not a form carries no CSRF token, and is refused as such.
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes).unwrap_or_default();
    let (form, csrf, check_only) = Filled::parse(pairs);
    if let Err(refused) = visit.may_post(&csrf, Scope::Announce) {
        return refused;
    }
    let outcome = if check_only {
        match sending::check(&visit.state, &form.draft()) {
            Ok(teams) => {
                let ready = teams.join(", ");
                return list_page_ready(&visit, StatusCode::OK, form, None, Vec::new(), Some(ready)).await;
            }
            Err(e) => Err(e),
        }
    } else {
        sending::send(&visit.state, form.draft()).await
    };
    match outcome {
        Ok(sent) => Redirect::to(&format!("/ui/announcements/{}?note=sent", encode(&sent.id))).into_response(),
        Err(SendError::FallsShort(findings)) => {
            let findings = findings.iter().map(finding_line).collect();
            list_page(&visit, StatusCode::UNPROCESSABLE_ENTITY, form, None, findings).await
        }
        Err(SendError::PastDeadline(why)) => {
            list_page(&visit, StatusCode::UNPROCESSABLE_ENTITY, form, Some(sentence(&why)), Vec::new()).await
        }
        Err(SendError::Invalid(why)) => {
            list_page(&visit, StatusCode::BAD_REQUEST, form, Some(sentence(&why)), Vec::new()).await
        }
        Err(e @ (SendError::Store(_) | SendError::Outbox(_))) => {
            tracing::error!(error = %e, "sending an announcement failed");
            visit.refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Clarion could not store the announcement; it may not have been sent. Check the list of \
                 announcements before sending it again.",
            )
        }
    }
}

fn finding_line(f: &Finding) -> FindingLine {
    FindingLine {
        rule: f.rule,
        field: f.field.map(|x| field_name(x, MessageKind::Announcement)).unwrap_or_default(),
        message: f.message.clone(),
        fix: f.fix.clone(),
    }
}

/// `text` with a capital first letter, to open a sentence.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// A path segment, percent-encoded.
fn encode(segment: &str) -> String {
    serde_urlencoded::to_string([("x", segment)]).unwrap_or_default().trim_start_matches("x=").replace('+', "%20")
}

/// One addressed team of an announcement as shown.
pub struct TeamLine {
    pub team: String,
    pub page: String,
    /// `by … at …`, or `None`: not yet acknowledged.
    pub acknowledged: Option<String>,
    pub action_done: Option<String>,
}

#[derive(Template)]
#[template(path = "announcement.html")]
struct ShowPage {
    chrome: Chrome,
    title: String,
    sent: String,
    ago: String,
    note: Option<String>,
    acknowledged: usize,
    teams: Vec<TeamLine>,
}

#[derive(Debug, Deserialize)]
pub struct NoteQuery {
    #[serde(default)]
    note: Option<String>,
}

/// `GET /ui/announcements/{id}`.
pub async fn show(visit: Visit, Path(id): Path<String>, Query(q): Query<NoteQuery>) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    let state = &visit.state;
    let filter = PageFilter {
        kind: Some("announcement".into()),
        group_key: Some(format!("announcement/{id}")),
        limit: MAX_TEAMS,
        ..PageFilter::default()
    };
    let mut found = match state.store().list_pages(&filter).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "reading an announcement's pages failed");
            return visit
                .refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the announcement; try again.");
        }
    };
    if found.is_empty() {
        return visit.refuse(StatusCode::NOT_FOUND, "No announcement has this id.");
    }
    found.sort_by_key(|p| p.id);
    let now = state.now();
    let sent = found.iter().map(|p| p.life.opened_at).min().unwrap_or(now);
    let title = found.first().map(|p| p.summary.clone()).unwrap_or_default();
    let teams: Vec<TeamLine> = found
        .iter()
        .map(|p| {
            let l = &p.life;
            let by_at = |by: &Option<String>, at: Option<clarion_core::Timestamp>| match (by, at) {
                (Some(by), Some(at)) => Some(format!("by {by} at {}", time(at))),
                (Some(by), None) => Some(format!("by {by}")),
                _ => None,
            };
            TeamLine {
                team: p.team.clone(),
                page: pages::display_id(p.id),
                acknowledged: by_at(&l.acknowledged_by, l.acknowledged_at),
                action_done: by_at(&l.action_done_by, l.action_done_at),
            }
        })
        .collect();
    let note = (q.note.as_deref() == Some("sent")).then(|| format!("Announcement sent to {} team(s).", teams.len()));
    let page = ShowPage {
        chrome: visit.chrome(title.clone(), Section::Announcements),
        title,
        sent: time(sent),
        ago: ago(sent, now),
        note,
        acknowledged: teams.iter().filter(|t| t.acknowledged.is_some()).count(),
        teams,
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_form_keeps_every_checked_team_and_its_csrf_apart() {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(
            b"csrf=abc&title=Keys+rotate&teams=ops&teams=payments&teams=&everyone=true&severity=warning&intent=send",
        )
        .unwrap_or_default();
        let (form, csrf, check_only) = Filled::parse(pairs);
        assert_eq!(csrf, "abc");
        assert!(!check_only, "the send button sends");
        assert_eq!(form.teams, ["ops", "payments"]);
        assert!(form.everyone);
        let draft = form.draft();
        assert_eq!(draft.title.as_deref(), Some("Keys rotate"));
        assert_eq!(draft.severity.as_deref(), Some("warning"));
        assert_eq!(draft.why, None, "an empty field is a missing one");
    }

    #[test]
    fn ids_are_encoded_as_one_path_segment() {
        assert_eq!(encode("2f0c-11"), "2f0c-11");
        assert_eq!(encode("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(sentence("deadline \"x\" has passed"), "Deadline \"x\" has passed");
    }
}
