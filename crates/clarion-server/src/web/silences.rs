//! Silences: `GET /ui/silences` lists the active and pending ones, then the last expired ones, each with
//! how many firing alerts it silences now and (for the `admin` scope) "Expire" and "Extend" forms;
//! `GET /ui/silences/new` is the form of a new silence, whose "Preview" (a GET: nothing changes) lists the
//! firing alerts its matchers match now and only then offers "Create silence" (`POST /ui/silences`).
//!
//! Every change goes through `crate::silences`, as the API's do; validation is the core's
//! (`clarion_core::silence::plan_upsert`), tried on the draft before anything is offered or saved.

use std::collections::HashMap;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use clarion_config::{parse_duration, Scope};
use clarion_core::labels::LabelSet;
use clarion_core::silence::{plan_upsert, sort_for_listing, Silence, SilenceDraft, SilenceState};
use clarion_core::{Matchers, Timestamp};
use serde::Deserialize;

use super::session::Visit;
use super::{ago, render, time, Chrome, Section};
use crate::silences::{self, SilenceChangeError};

/// Expired silences listed at most (the most recently ended).
const MAX_EXPIRED: usize = 200;
/// Alerts a preview lists at most; its count covers all of them.
const MAX_PREVIEW: usize = 100;
/// What the "Extend by" select offers.
const EXTENSIONS: [&str; 3] = ["1h", "4h", "1d"];
/// The duration a new silence's form starts with.
const DEFAULT_DURATION: &str = "2h";

/// One silence as listed.
pub struct SilenceLine {
    pub id: String,
    pub matchers: String,
    pub state: &'static str,
    pub starts: String,
    pub ends: String,
    /// How long until it starts (pending), ends (active) or since it ended (expired).
    pub when: String,
    pub created_by: String,
    pub comment: String,
    /// Firing alerts it silences now.
    pub silencing: usize,
}

#[derive(Template)]
#[template(path = "silences.html")]
struct ListPage {
    chrome: Chrome,
    note: Option<&'static str>,
    live: Vec<SilenceLine>,
    expired: Vec<SilenceLine>,
    expired_total: usize,
    may_change: bool,
    extensions: [&'static str; 3],
}

#[derive(Debug, Deserialize)]
pub struct NoteQuery {
    #[serde(default)]
    note: Option<String>,
}

/// What a change may report after its redirect (`?note=`): only these.
const NOTES: [(&str, &str); 3] = [
    ("created", "Silence created. Matching alerts are silenced from now on."),
    ("expired", "Silence expired: the alerts it matched notify again."),
    ("extended", "Silence extended."),
];

fn line(s: &Silence, st: SilenceState, silencing: usize, now: Timestamp) -> SilenceLine {
    let when = match st {
        SilenceState::Pending => format!("starts in {}", ago(now, s.starts_at)),
        SilenceState::Active => format!("ends in {}", ago(now, s.ends_at)),
        SilenceState::Expired => format!("ended {} ago", ago(s.ends_at, now)),
    };
    SilenceLine {
        id: s.id.clone(),
        matchers: s.matchers.to_string(),
        state: st.as_str(),
        starts: time(s.starts_at),
        ends: time(s.ends_at),
        when,
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
        silencing,
    }
}

/// `GET /ui/silences`.
pub async fn list(visit: Visit, Query(q): Query<NoteQuery>) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    let state = &visit.state;
    let now = state.now();
    // How many firing alerts each silence silences now, from one pass over a snapshot: CPU work over every
    // alert, so on a blocking thread.
    let snapshot = state.memory().snapshot();
    let counted = tokio::task::spawn_blocking(move || {
        let mut silencing: HashMap<String, usize> = HashMap::new();
        for (_, alert) in &snapshot.alerts {
            if alert.ends_at < now {
                continue;
            }
            for id in snapshot.silences.silenced_by(&alert.labels, now) {
                *silencing.entry(id).or_default() += 1;
            }
        }
        silencing
    })
    .await;
    let silencing = match counted {
        Ok(silencing) => silencing,
        Err(e) => {
            tracing::error!(error = %e, "counting what silences silence failed");
            return visit.refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the alerts; try again.");
        }
    };
    let mut all: Vec<_> = state
        .memory()
        .silences_where(|_| true)
        .into_iter()
        .map(|s| {
            let st = s.state_at(now);
            (s, st)
        })
        .collect();
    sort_for_listing(&mut all);
    let (mut live, mut expired) = (Vec::new(), Vec::new());
    let mut expired_total = 0;
    for (s, st) in &all {
        let count = silencing.get(&s.id).copied().unwrap_or(0);
        if *st != SilenceState::Expired {
            live.push(line(s, *st, count, now));
        } else {
            expired_total += 1;
            if expired.len() < MAX_EXPIRED {
                expired.push(line(s, *st, count, now));
            }
        }
    }
    let page = ListPage {
        chrome: visit.chrome("Silences", Section::Silences),
        note: q.note.and_then(|n| NOTES.iter().find(|(k, _)| *k == n).map(|(_, text)| *text)),
        live,
        expired,
        expired_total,
        may_change: visit.may(Scope::Admin),
        extensions: EXTENSIONS,
    };
    render(StatusCode::OK, &page)
}

/// The fields of a new silence, as the form and its preview address carry them.
#[derive(Debug, Default, Deserialize)]
pub struct SilenceFields {
    #[serde(default)]
    csrf: String,
    matchers: Option<String>,
    #[serde(default)]
    duration: String,
    created_by: Option<String>,
    #[serde(default)]
    comment: String,
}

/// A firing alert a preview lists.
pub struct PreviewLine {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub team: String,
}

#[derive(Template)]
#[template(path = "silence_new.html")]
struct NewPage {
    chrome: Chrome,
    matchers: String,
    duration: String,
    created_by: String,
    comment: String,
    problems: Vec<String>,
    /// The alerts the matchers match now, when the form was previewed and is valid.
    preview: Option<Vec<PreviewLine>>,
    /// How many firing alerts they match (the preview lists at most [`MAX_PREVIEW`]).
    matched: usize,
    may_change: bool,
}

/// The draft the fields describe, starting `now`, or every reason they do not make a valid silence.
fn draft_of(
    matchers: &str,
    duration: &str,
    created_by: &str,
    comment: &str,
    now: Timestamp,
) -> Result<SilenceDraft, Vec<String>> {
    let mut problems = Vec::new();
    let parsed = Matchers::parse(matchers).map_err(|e| {
        problems.push(format!(
            "The matchers are not valid: {e}. Write them as in the API, e.g. {{alertname=\"DiskFilling\", instance=~\"db.*\"}}."
        ))
    });
    let lasts = parse_duration(duration.trim()).map_err(|e| {
        problems.push(format!("The duration is not valid: {e}."));
    });
    if created_by.trim().is_empty() {
        problems.push("Say who creates the silence (Created by).".to_string());
    }
    if comment.trim().is_empty() {
        problems.push("Say why in the comment: the people the silenced alerts would have told read it.".to_string());
    }
    let (Ok(parsed), Ok(lasts)) = (parsed, lasts) else { return Err(problems) };
    if lasts.is_zero() {
        problems.push("The duration must be longer than zero.".to_string());
        return Err(problems);
    }
    let draft = SilenceDraft {
        id: None,
        matchers: parsed,
        starts_at: now,
        ends_at: clarion_core::later(now, lasts),
        created_by: created_by.trim().to_string(),
        comment: comment.trim().to_string(),
        annotations: LabelSet::new(),
    };
    // The core's rules (a matcher that matches something, an end after the start), tried without saving.
    if let Err(e) = plan_upsert(draft.clone(), None, now, String::new) {
        problems.push(format!("{e}."));
    }
    if problems.is_empty() {
        Ok(draft)
    } else {
        Err(problems)
    }
}

/// The firing alerts `matchers` match now (at most [`MAX_PREVIEW`]) and how many there are.
fn preview(visit: &Visit, matchers: &Matchers, now: Timestamp) -> (Vec<PreviewLine>, usize) {
    let snapshot = visit.state.memory().snapshot();
    let mut lines = Vec::new();
    let mut matched = 0;
    for (_, alert) in &snapshot.alerts {
        if alert.ends_at < now || !matchers.matches(&alert.labels) {
            continue;
        }
        matched += 1;
        if lines.len() >= MAX_PREVIEW {
            continue;
        }
        let routes = snapshot.route.matching(&alert.labels);
        lines.push(PreviewLine {
            name: alert.labels.get("alertname").unwrap_or_default().to_string(),
            labels: alert
                .labels
                .iter()
                .filter(|(k, _)| *k != "alertname")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            team: routes.first().map_or_else(|| "(no route)".to_string(), |r| r.opts.receiver.clone()),
        });
    }
    (lines, matched)
}

/// The new-silence page for `f`: previewed when it carries matchers.
fn new_page(visit: &Visit, f: SilenceFields) -> (StatusCode, NewPage) {
    let now = visit.state.now();
    let previewed = f.matchers.is_some();
    let mut page = NewPage {
        chrome: visit.chrome("New silence", Section::Silences),
        matchers: f.matchers.unwrap_or_default(),
        duration: if previewed { f.duration } else { DEFAULT_DURATION.to_string() },
        created_by: f.created_by.unwrap_or_else(|| visit.signed_in().unwrap_or_default()),
        comment: f.comment,
        problems: Vec::new(),
        preview: None,
        matched: 0,
        may_change: visit.may(Scope::Admin),
    };
    if !previewed {
        return (StatusCode::OK, page);
    }
    match draft_of(&page.matchers, &page.duration, &page.created_by, &page.comment, now) {
        Ok(draft) => {
            let (lines, matched) = preview(visit, &draft.matchers, now);
            page.preview = Some(lines);
            page.matched = matched;
            (StatusCode::OK, page)
        }
        Err(problems) => {
            page.problems = problems;
            (StatusCode::BAD_REQUEST, page)
        }
    }
}

/// `GET /ui/silences/new?matchers=…&duration=…&created_by=…&comment=…`: the form; with matchers, its
/// preview. Changes nothing.
pub async fn new(visit: Visit, Query(f): Query<SilenceFields>) -> Response {
    if let Err(refused) = visit.require(Scope::Read) {
        return refused;
    }
    // A preview reads every alert: on a blocking thread.
    let page = {
        let visit = visit.clone();
        tokio::task::spawn_blocking(move || new_page(&visit, f)).await
    };
    match page {
        Ok((status, page)) => render(status, &page),
        Err(e) => {
            tracing::error!(error = %e, "previewing a silence failed");
            visit.refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not read the alerts; try again.")
        }
    }
}

/// `POST /ui/silences`: creates the silence the fields describe, starting now.
pub async fn create(visit: Visit, Form(f): Form<SilenceFields>) -> Response {
    if let Err(refused) = visit.may_post(&f.csrf, Scope::Admin) {
        return refused;
    }
    let now = visit.state.now();
    let draft = draft_of(
        f.matchers.as_deref().unwrap_or_default(),
        &f.duration,
        f.created_by.as_deref().unwrap_or_default(),
        &f.comment,
        now,
    );
    let draft = match draft {
        Ok(draft) => draft,
        Err(_) => {
            // The form again, with its problems: nothing was created.
            let fields = SilenceFields { matchers: Some(f.matchers.unwrap_or_default()), ..f };
            let (_, page) = new_page(&visit, fields);
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    match silences::upsert(&visit.state, draft).await {
        Ok(id) => Redirect::to(&format!("/ui/silences?note=created#silence-{id}")).into_response(),
        Err(e) => refusal(&visit, &e),
    }
}

/// Why a change was not made, as a page.
fn refusal(visit: &Visit, e: &SilenceChangeError) -> Response {
    match e {
        SilenceChangeError::NotFound => {
            visit.refuse(StatusCode::NOT_FOUND, "This silence does not exist (any more): nothing changed.")
        }
        SilenceChangeError::Expired => visit.refuse(
            StatusCode::CONFLICT,
            "This silence has expired and cannot be extended: nothing changed. Create a new silence instead.",
        ),
        SilenceChangeError::Invalid(e) => visit.refuse(StatusCode::BAD_REQUEST, &format!("{e}. Nothing changed.")),
        SilenceChangeError::Store(e) => {
            tracing::error!(error = %e, "saving a silence failed");
            visit.refuse(StatusCode::INTERNAL_SERVER_ERROR, "Clarion could not save the silence; try again.")
        }
    }
}

/// `POST /ui/silences/{id}/expire`.
pub async fn expire(visit: Visit, Path(id): Path<String>, Form(f): Form<super::session::CsrfOnly>) -> Response {
    if let Err(refused) = visit.may_post(&f.csrf, Scope::Admin) {
        return refused;
    }
    match silences::expire(&visit.state, &id).await {
        Ok(()) => Redirect::to(&format!("/ui/silences?note=expired#silence-{id}")).into_response(),
        Err(e) => refusal(&visit, &e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ExtendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    duration: String,
}

/// `POST /ui/silences/{id}/extend` (`duration`: a Prometheus duration such as `1h`).
pub async fn extend(visit: Visit, Path(id): Path<String>, Form(f): Form<ExtendForm>) -> Response {
    if let Err(refused) = visit.may_post(&f.csrf, Scope::Admin) {
        return refused;
    }
    let by: Duration = match parse_duration(f.duration.trim()) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => return visit.refuse(StatusCode::BAD_REQUEST, "Extend by more than nothing: nothing changed."),
        Err(e) => return visit.refuse(StatusCode::BAD_REQUEST, &format!("{e}. Nothing changed.")),
    };
    match silences::extend(&visit.state, &id, by).await {
        Ok(id) => Redirect::to(&format!("/ui/silences?note=extended#silence-{id}")).into_response(),
        Err(e) => refusal(&visit, &e),
    }
}
