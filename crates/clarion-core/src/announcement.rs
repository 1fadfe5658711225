//! Announcements: a message a person writes to some teams, or to everyone.
//!
//! Unlike an alert, an announcement that falls short of the communication standard is refused with every
//! finding: a person can fix it before anyone reads it, and "make this happen" with no context must not go
//! out. [`accept`] is the whole decision — audience, deadline, standard — as a pure function; the caller
//! commits what it returns (one [`notification::Announcement`] per addressed team) to the outbox.

use crate::clarity::ClarityField;
use crate::notification;
use crate::standard::{Finding, Message, MessageKind, Standard};
use crate::Timestamp;

/// The severity an announcement posted without one is shown with. Its findings do not invent one: they
/// speak of "announcements", not of "announcements of severity info".
pub const DEFAULT_SEVERITY: &str = "info";

/// An announcement as a person wrote it. Clarity fields are optional so that a missing one is reported as
/// a finding of the standard, with the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnouncementDraft {
    /// One line saying what changes (the summary).
    pub title: Option<String>,
    /// More about what changes.
    pub what_changes: Option<String>,
    /// Why (the context).
    pub why: Option<String>,
    /// What it means for the audience.
    pub impact: Option<String>,
    /// What the audience must do, or "none".
    pub action: Option<String>,
    /// By when: a date (`2026-12-01`) or an RFC 3339 time.
    pub deadline: Option<String>,
    /// Who is accountable.
    pub owner: Option<String>,
    pub severity: Option<String>,
    /// The teams addressed, by name.
    pub teams: Vec<String>,
    /// Address every team.
    pub everyone: bool,
}

/// Why an announcement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnouncementError {
    #[error("give `teams` or `everyone: true`, not both")]
    TeamsAndEveryone,
    #[error("an announcement needs an audience: `teams: [...]` or `everyone: true`")]
    NoAudience,
    #[error("unknown team {name:?} (known teams: {})", known.join(", "))]
    UnknownTeam { name: String, known: Vec<String> },
    #[error("deadline {0:?} is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T17:00:00Z)")]
    BadDeadline(String),
    #[error("deadline {0:?} has passed: give one the audience can still meet")]
    DeadlineInPast(String),
    /// It falls short of the communication standard; every finding is listed.
    #[error("the announcement does not meet the communication standard ({} findings); nothing was sent", .0.len())]
    FallsShort(Vec<Finding>),
}

/// Checks `draft` against the teams that exist and the standard. Accepted, it becomes one notification
/// per addressed team (in the order given, each once; every team in configuration order for `everyone`),
/// all carrying `id`.
pub fn accept(
    draft: &AnnouncementDraft,
    teams: &[&str],
    standard: &Standard,
    id: &str,
    external_url: &str,
    now: Timestamp,
) -> Result<Vec<notification::Announcement>, AnnouncementError> {
    let audience = audience(draft, teams)?;
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(d) = text(&draft.deadline) {
        if deadline_end(&d).is_none() {
            return Err(AnnouncementError::BadDeadline(draft.deadline.clone().unwrap_or_default()));
        }
    }
    let given = text(&draft.severity);
    let severity = given.clone().unwrap_or_else(|| DEFAULT_SEVERITY.to_string());
    let mut message = Message::new(MessageKind::Announcement, given.as_deref().unwrap_or(""));
    for (field, value) in [
        (ClarityField::Summary, &draft.title),
        (ClarityField::Context, &draft.why),
        (ClarityField::Impact, &draft.impact),
        (ClarityField::Action, &draft.action),
        (ClarityField::Deadline, &draft.deadline),
        (ClarityField::Owner, &draft.owner),
    ] {
        message.set(field, value.as_deref());
    }
    let findings = standard.check(&message);
    if !findings.is_empty() {
        return Err(AnnouncementError::FallsShort(findings));
    }
    Ok(audience
        .into_iter()
        .map(|team| notification::Announcement {
            id: id.to_string(),
            team: team.to_string(),
            external_url: external_url.to_string(),
            severity: severity.clone(),
            title: text(&draft.title).unwrap_or_default(),
            what_changes: text(&draft.what_changes),
            context: text(&draft.why),
            impact: text(&draft.impact),
            action: text(&draft.action),
            deadline: text(&draft.deadline),
            owner: text(&draft.owner),
            sent_at: now,
            page: None,
            label: None,
            source: None,
        })
        .collect())
}

/// Refuses a deadline that has passed. For what a person writes (`POST /api/v1/announcements`, `clarion
/// announce`): the notices Clarion writes itself may carry one that has (a planned change's "it has
/// started" notice names its start), so [`accept`] does not check it.
pub fn refuse_past_deadline(draft: &AnnouncementDraft, now: Timestamp) -> Result<(), AnnouncementError> {
    let Some(d) = draft.deadline.as_deref().map(str::trim).filter(|d| !d.is_empty()) else { return Ok(()) };
    match deadline_end(d) {
        Some(end) if end < now => Err(AnnouncementError::DeadlineInPast(d.to_string())),
        _ => Ok(()),
    }
}

/// The teams addressed: those named (each once, in order), or every team.
fn audience<'a>(draft: &'a AnnouncementDraft, teams: &[&'a str]) -> Result<Vec<&'a str>, AnnouncementError> {
    if draft.everyone {
        if !draft.teams.is_empty() {
            return Err(AnnouncementError::TeamsAndEveryone);
        }
        return Ok(teams.to_vec());
    }
    if draft.teams.is_empty() {
        return Err(AnnouncementError::NoAudience);
    }
    let mut audience: Vec<&str> = Vec::new();
    for name in &draft.teams {
        if !teams.contains(&name.as_str()) {
            let known = teams.iter().map(|t| t.to_string()).collect();
            return Err(AnnouncementError::UnknownTeam { name: name.clone(), known });
        }
        if !audience.contains(&name.as_str()) {
            audience.push(name);
        }
    }
    Ok(audience)
}

/// The last instant a deadline allows: an RFC 3339 time itself, or the end of a date (`2026-12-01`, read
/// in UTC: a date that has ended everywhere is past). `None` for anything else.
fn deadline_end(text: &str) -> Option<Timestamp> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    // The date ends at midnight after it, UTC-12 being the last zone where it is still that day.
    let next = date.succ_opt()?.and_hms_opt(12, 0, 0)?;
    Some(chrono::DateTime::from_naive_utc_and_offset(next, chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::rule;
    use chrono::TimeZone;

    fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().unwrap_or_default()
    }

    fn clear() -> AnnouncementDraft {
        AnnouncementDraft {
            title: Some("Checkout database moves to the new cluster".into()),
            why: Some("The old hardware is out of support".into()),
            impact: Some("Writes pause for up to 30 seconds".into()),
            action: Some("Make sure your service retries writes".into()),
            deadline: Some("2026-12-01".into()),
            owner: Some("platform-team".into()),
            teams: vec!["payments".into(), "db".into(), "payments".into()],
            ..AnnouncementDraft::default()
        }
    }

    const TEAMS: &[&str] = &["ops", "payments", "db"];

    #[test]
    fn a_clear_announcement_becomes_one_notification_per_team_addressed() -> Result<(), AnnouncementError> {
        let out = accept(&clear(), TEAMS, &Standard::default(), "id1", "http://c", now())?;
        let teams: Vec<&str> = out.iter().map(|a| a.team.as_str()).collect();
        assert_eq!(teams, ["payments", "db"], "each team once, in the order given");
        assert_eq!(out[0].severity, DEFAULT_SEVERITY);
        assert_eq!(out[0].group_key(), "announcement/id1");
        let everyone = AnnouncementDraft { teams: vec![], everyone: true, ..clear() };
        assert_eq!(accept(&everyone, TEAMS, &Standard::default(), "id2", "", now())?.len(), 3);
        Ok(())
    }

    #[test]
    fn the_audience_and_the_deadline_are_checked_before_the_standard() {
        let refuse = |d: AnnouncementDraft| accept(&d, TEAMS, &Standard::default(), "x", "", now()).err();
        assert_eq!(refuse(AnnouncementDraft { teams: vec![], ..clear() }), Some(AnnouncementError::NoAudience));
        assert_eq!(refuse(AnnouncementDraft { everyone: true, ..clear() }), Some(AnnouncementError::TeamsAndEveryone));
        let unknown = refuse(AnnouncementDraft { teams: vec!["dba".into()], ..clear() }).map(|e| e.to_string());
        assert_eq!(unknown.as_deref(), Some("unknown team \"dba\" (known teams: ops, payments, db)"));
        let late = refuse(AnnouncementDraft { deadline: Some("next week".into()), ..clear() });
        assert_eq!(late, Some(AnnouncementError::BadDeadline("next week".into())));
        for past in ["2026-11-25", "2019-01-01", "2026-11-27T11:59:00Z"] {
            let got = refuse_past_deadline(&AnnouncementDraft { deadline: Some(past.into()), ..clear() }, now());
            assert_eq!(got, Err(AnnouncementError::DeadlineInPast(past.into())), "{past}");
        }
        // Today still counts (somewhere it is still today), and so does no deadline.
        for ahead in [Some("2026-11-27"), Some("2026-11-27T12:01:00Z"), None] {
            let d = AnnouncementDraft { deadline: ahead.map(str::to_string), ..clear() };
            assert_eq!(refuse_past_deadline(&d, now()), Ok(()), "{ahead:?}");
        }
    }

    #[test]
    fn an_announcement_that_falls_short_lists_every_finding() {
        let vague = AnnouncementDraft { impact: None, action: Some("Make this happen".into()), ..clear() };
        match accept(&vague, TEAMS, &Standard::default(), "x", "", now()) {
            Err(AnnouncementError::FallsShort(findings)) => {
                let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
                assert!(rules.contains(&rule::VAGUE_ACTION), "{rules:?}");
                assert!(findings.iter().any(|f| f.field == Some(ClarityField::Impact)), "{findings:#?}");
            }
            other => panic!("expected findings, got {other:?}"),
        }
    }

    #[test]
    fn findings_use_the_authors_field_names_and_invent_no_severity() {
        let vague = AnnouncementDraft { why: None, title: None, ..clear() };
        let Err(AnnouncementError::FallsShort(findings)) = accept(&vague, TEAMS, &Standard::default(), "x", "", now())
        else {
            panic!("a vague announcement is refused");
        };
        let text: Vec<String> = findings.iter().map(|f| format!("{} (fix: {})", f.message, f.fix)).collect();
        let all = text.join("\n");
        assert!(all.contains("`why` is missing") && all.contains("--why"), "{all}");
        assert!(all.contains("`title` is missing") && all.contains("--title"), "{all}");
        assert!(!all.contains("`context`") && !all.contains("severity info"), "{all}");
    }
}
