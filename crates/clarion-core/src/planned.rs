//! Planned events: which notices an occurrence is owed, when, and whether it gives enough notice.
//!
//! An occurrence `[start, end)` of a planned event is owed a reminder at `start - lead` for each lead
//! time of its calendar, a notice when it starts and one when it ends; an event is also announced when it
//! first appears, and told about when it is rescheduled or cancelled (those come from comparing two
//! versions of a calendar, in the server). Each notice has a stable [`NoticeKind::key`], so the outbox
//! stores it once however often it is computed.

use std::time::Duration;

use crate::Timestamp;

/// What a notice says about its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    Announced,
    Rescheduled,
    Cancelled,
    /// `lead` before the start.
    Reminder(Duration),
    Started,
    Ended,
}

impl NoticeKind {
    /// Part of the notice's idempotency key.
    pub fn key(&self) -> String {
        match self {
            NoticeKind::Announced => "announced".into(),
            NoticeKind::Rescheduled => "rescheduled".into(),
            NoticeKind::Cancelled => "cancelled".into(),
            NoticeKind::Reminder(lead) => format!("reminder-{}s", lead.as_secs()),
            NoticeKind::Started => "started".into(),
            NoticeKind::Ended => "ended".into(),
        }
    }

    /// The words that open the notice's title.
    pub fn headline(&self) -> String {
        match self {
            NoticeKind::Announced => "Planned".into(),
            NoticeKind::Rescheduled => "Rescheduled".into(),
            NoticeKind::Cancelled => "Cancelled".into(),
            NoticeKind::Reminder(lead) => format!("Starts in {}", human(*lead)),
            NoticeKind::Started => "Started".into(),
            NoticeKind::Ended => "Ended".into(),
        }
    }
}

/// `7 days`, `1 day`, `1 hour`, `90 minutes`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s.is_multiple_of(86_400) && s > 0 {
        (s / 86_400, "day")
    } else if s.is_multiple_of(3_600) && s > 0 {
        (s / 3_600, "hour")
    } else {
        (s.div_ceil(60), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The timed notices of occurrence `[start, end)` due in `(after, until]`: reminders (one per lead time),
/// started, ended — in time order.
pub fn timed_notices(
    start: Timestamp,
    end: Timestamp,
    leads: &[Duration],
    after: Timestamp,
    until: Timestamp,
) -> Vec<(NoticeKind, Timestamp)> {
    let mut out: Vec<(NoticeKind, Timestamp)> = leads
        .iter()
        .filter_map(|lead| {
            Some((NoticeKind::Reminder(*lead), start.checked_sub_signed(chrono::Duration::from_std(*lead).ok()?)?))
        })
        .chain([(NoticeKind::Started, start), (NoticeKind::Ended, end)])
        .filter(|(_, at)| after < *at && *at <= until)
        .collect();
    out.sort_by_key(|(_, at)| *at);
    out
}

/// Whether an event first seen at `now` and starting at `start` gives at least `minimum` notice.
pub fn gives_notice(start: Timestamp, now: Timestamp, minimum: Duration) -> bool {
    chrono::Duration::from_std(minimum)
        .ok()
        .and_then(|m| now.checked_add_signed(m))
        .is_none_or(|earliest| start >= earliest)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(hours: i64) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 12, 10, 0, 0, 0).single().unwrap_or_default()
            + chrono::Duration::hours(hours)
    }

    #[test]
    fn an_occurrence_is_reminded_at_each_lead_time_then_told_of_its_start_and_end() {
        let leads = [Duration::from_secs(7 * 86_400), Duration::from_secs(86_400), Duration::from_secs(3_600)];
        let (start, end) = (t(200), t(202));
        let all = timed_notices(start, end, &leads, t(0), t(300));
        let kinds: Vec<String> = all.iter().map(|(k, _)| k.key()).collect();
        assert_eq!(kinds, ["reminder-604800s", "reminder-86400s", "reminder-3600s", "started", "ended"]);
        assert_eq!(all[1].1, t(176), "a day before");
        // Only what falls in the window: (after, until].
        let window = timed_notices(start, end, &leads, t(176), t(199));
        assert_eq!(window.iter().map(|(k, _)| k.key()).collect::<Vec<_>>(), ["reminder-3600s"]);
        assert_eq!(NoticeKind::Reminder(leads[0]).headline(), "Starts in 7 days");
        assert_eq!(NoticeKind::Reminder(Duration::from_secs(5_400)).headline(), "Starts in 90 minutes");
    }

    #[test]
    fn notice_is_enough_when_the_start_is_at_least_the_minimum_away() {
        let three_days = Duration::from_secs(3 * 86_400);
        assert!(gives_notice(t(72), t(0), three_days));
        assert!(!gives_notice(t(71), t(0), three_days));
        assert!(gives_notice(t(1), t(0), Duration::ZERO));
    }
}
