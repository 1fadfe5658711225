//! Every statistic and detector of the feedback loop on synthetic histories with known answers.

use std::time::Duration;

use chrono::TimeZone;

use super::effectiveness::{by_alertname, by_team};
use super::flap::{hold, most_starts_in_window, FlapRule, Hold};
use super::noise::{self, Kind, Subject};
use super::*;

fn t(secs: i64) -> Timestamp {
    chrono::Utc.timestamp_opt(1_800_000_000 + secs, 0).single().unwrap_or_default()
}

const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn week() -> Window {
    Window { since: t(0), until: t(7 * DAY) }
}

fn episode(name: &str, fp: u64, start: i64, life: Option<i64>) -> Episode {
    let end = life.map(|l| t(start + l));
    Episode {
        fingerprint: Fingerprint(fp),
        alertname: name.into(),
        started: t(start),
        ended: end,
        groups: vec![("ops".into(), format!("{{}}:{{alertname=\"{name}\"}}"))],
        seen_firing: secs(life.unwrap_or(0) as u64),
        silenced: Duration::ZERO,
        has_runbook: true,
        has_action: true,
    }
}

fn page(id: i64, name: &str, opened: i64, ack: Option<i64>, resolved: Option<i64>) -> PageFacts {
    PageFacts {
        id,
        team: "ops".into(),
        group_key: format!("{{}}:{{alertname=\"{name}\"}}"),
        opened_at: t(opened),
        acknowledged_at: ack.map(t),
        action_done_at: None,
        resolved_at: resolved.map(t),
        escalated: false,
        outside_hours: false,
        feedback: Vec::new(),
    }
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let v: Vec<Duration> = (1..=10).map(secs).collect();
    assert_eq!(percentile(&v, 50), Some(secs(5)));
    assert_eq!(percentile(&v, 90), Some(secs(9)));
    assert_eq!(percentile(&v, 100), Some(secs(10)));
    assert_eq!(percentile(&[secs(7)], 90), Some(secs(7)), "one value is every percentile");
    assert_eq!(percentile(&[secs(3), secs(1), secs(2)], 50), Some(secs(2)), "unsorted input");
    assert_eq!(percentile(&[], 50), None);
    assert_eq!(rate(1, 4), Some(0.25));
    assert_eq!(rate(0, 0), None);
}

#[test]
fn durations_are_written_as_in_rules() {
    assert_eq!(format_duration(secs(90)), "1m30s");
    assert_eq!(format_duration(secs(600)), "10m");
    assert_eq!(format_duration(secs(7 * 86_400)), "7d");
    assert_eq!(format_duration(secs(0)), "0s");
    assert_eq!(format_rough(secs(23 * 86_400 + 23 * 3600 + 59 * 60 + 7)), "23d23h");
    assert_eq!(format_rough(secs(3600 + 5 * 60 + 13)), "1h5m");
    assert_eq!(format_rough(secs(145)), "2m25s");
    assert_eq!(format_rough(secs(40)), "40s");
}

#[test]
fn verdicts_parse_in_either_spelling() {
    for v in Verdict::ALL {
        assert_eq!(Verdict::parse(v.as_str()), Some(v));
    }
    assert_eq!(Verdict::parse("false_positive"), Some(Verdict::FalsePositive));
    assert_eq!(Verdict::parse("Not-Actionable"), Some(Verdict::NotActionable));
    assert_eq!(Verdict::parse("great"), None);
}

#[test]
fn a_team_row_counts_pages_opened_in_the_window() {
    let mut pages = vec![
        page(1, "A", HOUR, Some(HOUR + 60), Some(2 * HOUR)), // ack after 1 min
        page(2, "A", DAY, Some(DAY + 300), Some(DAY + HOUR)), // 5 min
        page(3, "A", 2 * DAY, None, Some(2 * DAY + HOUR)),   // never
        page(4, "A", 3 * DAY, Some(3 * DAY + 600), None),    // 10 min, still open
        page(5, "A", -DAY, Some(-DAY + 10), Some(-DAY + 100)), // before the window
    ];
    pages[1].escalated = true;
    pages[2].escalated = true;
    pages[3].action_done_at = Some(t(3 * DAY + 900));
    pages[0].outside_hours = true;
    pages[0].feedback = vec![Verdict::Useful];
    pages[2].feedback = vec![Verdict::FalsePositive, Verdict::PoorDetails];
    let episodes = vec![episode("A", 1, HOUR - 120, Some(3600)), episode("A", 1, -DAY, Some(50))];
    let rows = by_team(&pages, &episodes, &week());
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!((r.key.as_str(), r.firings, r.pages, r.acknowledged), ("ops", 1, 4, 3));
    assert_eq!(r.ack_rate, Some(0.75));
    assert_eq!(r.time_to_ack_p50, Some(secs(300)));
    assert_eq!(r.time_to_ack_p90, Some(secs(600)));
    assert_eq!((r.escalated, r.escalation_rate), (2, Some(0.5)));
    assert_eq!((r.action_done, r.action_done_rate), (1, Some(0.25)));
    assert_eq!((r.outside_hours, r.outside_hours_share), (1, Some(0.25)));
    assert_eq!(
        (r.feedback.useful, r.feedback.false_positive, r.feedback.poor_details, r.feedback.total()),
        (1, 1, 1, 3)
    );
}

#[test]
fn an_alert_name_row_counts_the_pages_that_carried_its_firings() {
    // A fires twice into one page (acknowledged), then once into a second page nobody acknowledges;
    // B fires once and resolves before any page opened (group_wait): a firing with no page.
    let episodes = vec![
        episode("A", 1, 0, Some(600)),
        episode("A", 2, 60, Some(500)),
        episode("A", 1, DAY, Some(600)),
        episode("B", 9, 2 * DAY, Some(10)),
    ];
    let pages = vec![page(1, "A", 30, Some(150), Some(700)), page(2, "A", DAY + 30, None, Some(DAY + 700))];
    let rows = by_alertname(&pages, &episodes, &week());
    assert_eq!(
        rows.iter().map(|r| (r.key.as_str(), r.firings, r.pages, r.acknowledged)).collect::<Vec<_>>(),
        vec![("A", 3, 2, 1), ("B", 1, 0, 0)]
    );
    assert_eq!(rows[0].time_to_ack_p50, Some(secs(120)));
    assert_eq!(rows[1].ack_rate, None, "no page, no rate");
}

#[test]
fn starts_are_counted_in_a_sliding_window() {
    let day = secs(86_400);
    assert_eq!(most_starts_in_window(&[], day), 0);
    assert_eq!(most_starts_in_window(&[t(0), t(HOUR), t(2 * HOUR), t(DAY + 3 * HOUR)], day), 3);
    // Four starts, the first and the last exactly one window apart: the window is half-open.
    assert_eq!(most_starts_in_window(&[t(DAY), t(0), t(10), t(20)], day), 3);
    assert_eq!(most_starts_in_window(&[t(0), t(10), t(20), t(DAY - 1)], day), 4);
}

#[test]
fn the_flap_guard_holds_from_the_fourth_cycle_until_it_settles() {
    let rule = FlapRule::default(); // more than 3 starts in 24h; settle 1h
                                    // Fires for 10 minutes every 30 minutes, four times, then stays resolved.
    let cycles: Vec<flap::Cycle> = (0..4).map(|i| (t(i * 30 * MIN), Some(t(i * 30 * MIN + 10 * MIN)))).collect();
    assert_eq!(hold(&cycles, &rule, t(89 * MIN)), None, "three cycles do not flap");
    let fourth = t(90 * MIN);
    assert_eq!(
        hold(&cycles, &rule, t(95 * MIN)),
        Some(Hold { since: fourth, cycles: 4, until: t(90 * MIN + HOUR) }),
        "the fourth start holds it, until an hour past its last change (the start: it still fires)"
    );
    assert_eq!(hold(&cycles, &rule, t(100 * MIN)).map(|h| (h.since, h.until)), Some((fourth, t(100 * MIN + HOUR))));
    assert_eq!(hold(&cycles, &rule, t(100 * MIN + HOUR)), None, "settled: an hour without a change");
    // A fifth start after it settled (still within 24h) holds it again, as a new hold.
    let mut more = cycles.clone();
    more.push((t(5 * HOUR), None));
    assert_eq!(hold(&more, &rule, t(5 * HOUR + 60)).map(|h| (h.since, h.cycles)), Some((t(5 * HOUR), 5)));
    // A fifth start within the hold keeps the first hold's identity.
    let mut within = cycles;
    within.push((t(120 * MIN), None));
    assert_eq!(hold(&within, &rule, t(121 * MIN)).map(|h| h.since), Some(fourth));
}

#[test]
fn a_hold_lasts_at_most_one_window_and_the_next_start_holds_again() {
    let rule = FlapRule::default();
    // Flips every 20 minutes for two days: never settles.
    let cycles: Vec<flap::Cycle> = (0..144).map(|i| (t(i * 20 * MIN), Some(t(i * 20 * MIN + 10 * MIN)))).collect();
    let first = hold(&cycles, &rule, t(2 * HOUR)).map(|h| (h.since, h.until));
    assert_eq!(first, Some((t(60 * MIN), t(120 * MIN + HOUR))), "held from the fourth start");
    let later = hold(&cycles, &rule, t(DAY + 2 * HOUR)).map(|h| h.since);
    assert_eq!(later, Some(t(DAY + 60 * MIN)), "a day on, the first start after the cap holds it again");
    // Durations at the end of time do not overflow.
    let huge = FlapRule { cycles: 3, window: Duration::MAX, settle: Duration::MAX };
    assert!(hold(&cycles, &huge, t(2 * HOUR)).is_some());
    assert_eq!(most_starts_in_window(&[t(0), t(1)], Duration::MAX), 2);
}

#[test]
fn a_slow_alert_never_flaps() {
    let rule = FlapRule::default();
    let cycles: Vec<flap::Cycle> = (0..30).map(|i| (t(i * 8 * HOUR), Some(t(i * 8 * HOUR + HOUR)))).collect();
    for at in (0..30 * 8).map(|h| t(h * HOUR + 30 * MIN)) {
        assert_eq!(hold(&cycles, &rule, at), None, "three starts a day is not more than three");
    }
}

fn rules() -> NoiseRules {
    NoiseRules::default()
}

fn kinds(findings: &[noise::Finding], name: &str) -> Vec<Kind> {
    findings.iter().filter(|f| f.subject == Subject::Alert(name.into())).map(|f| f.kind).collect()
}

#[test]
fn never_acknowledged_and_transient_rules_are_found_with_their_evidence() {
    // 12 firings of 90 s each, 12 hours apart, a page for each, never acknowledged.
    let mut episodes = Vec::new();
    let mut pages = Vec::new();
    for i in 0..12 {
        episodes.push(episode("Blip", 1, i * 12 * HOUR, Some(90)));
        pages.push(page(i + 1, "Blip", i * 12 * HOUR + 30, None, Some(i * 12 * HOUR + 120)));
    }
    let findings = noise::report(&episodes, &pages, &[], &rules(), &week());
    assert_eq!(kinds(&findings, "Blip"), vec![Kind::NeverAcknowledged, Kind::Transient]);
    let never = &findings[0];
    assert_eq!(never.evidence, "12 firings in 7d, 0 acknowledged, median life 1m30s");
    assert!(never.recommendation.starts_with("delete the rule"), "{}", never.recommendation);
    assert_eq!(findings[1].evidence, "12 of 12 firings resolved by themselves within 5m (p90 1m30s)");
    assert_eq!(findings[1].recommendation, "raise `for:` to 5m");
}

#[test]
fn an_acknowledgement_counts_for_the_firings_it_came_during() {
    // One page stays open for a week, acknowledged in the first hour; a second alert of the group fires
    // twelve times later on, short-lived, and nobody acknowledges those.
    let mut episodes = vec![episode("Disk", 1, 0, Some(6 * DAY))];
    for i in 0..12 {
        episodes.push(episode("Disk", 2, DAY + i * 8 * HOUR, Some(60)));
    }
    let pages = vec![page(1, "Disk", 30, Some(600), Some(6 * DAY + 60))];
    let findings = noise::report(&episodes, &pages, &[], &rules(), &week());
    assert_eq!(kinds(&findings, "Disk"), vec![Kind::Transient], "12 of 13 firings resolved by themselves");
    assert_eq!(findings[0].evidence, "12 of 13 firings resolved by themselves within 5m (p90 1m)");
}

#[test]
fn a_long_lived_unacknowledged_rule_goes_to_a_ticket_channel() {
    let episodes: Vec<Episode> = (0..10).map(|i| episode("Slow", 1, i * 14 * HOUR, Some(3 * HOUR))).collect();
    let findings = noise::report(&episodes, &[], &[], &rules(), &week());
    assert_eq!(kinds(&findings, "Slow"), vec![Kind::NeverAcknowledged]);
    assert!(findings[0].recommendation.starts_with("route it to a ticket channel"));
}

#[test]
fn transient_needs_half_of_the_firings_and_recommends_a_for_above_their_p90() {
    // 10 firings: 6 short (4 of 2 min, 2 of 7 min — the 7-minute ones are not transient), 4 acked long ones.
    let mut episodes: Vec<Episode> = Vec::new();
    let mut pages = Vec::new();
    for i in 0..4 {
        episodes.push(episode("Short", 1, i * 10 * HOUR, Some(2 * MIN)));
    }
    for i in 4..6 {
        episodes.push(episode("Short", 1, i * 10 * HOUR, Some(7 * MIN)));
    }
    for i in 6..10 {
        episodes.push(episode("Short", 1, i * 10 * HOUR, Some(HOUR)));
        pages.push(page(i, "Short", i * 10 * HOUR + 30, Some(i * 10 * HOUR + 60), Some(i * 10 * HOUR + HOUR)));
    }
    assert!(
        kinds(&noise::report(&episodes, &pages, &[], &rules(), &week()), "Short").is_empty(),
        "4 of 10 is not half"
    );
    episodes[4].ended = Some(episodes[4].started + chrono::Duration::seconds(4 * MIN + 30));
    let findings = noise::report(&episodes, &pages, &[], &rules(), &week());
    assert_eq!(kinds(&findings, "Short"), vec![Kind::Transient]);
    assert_eq!(findings[0].recommendation, "raise `for:` to 5m", "p90 of 2m,2m,2m,2m,4m30s is 4m30s");
    let mut longer = rules();
    longer.transient = secs(10 * 60);
    let findings = noise::report(&episodes, &pages, &[], &longer, &week());
    assert_eq!(findings[0].recommendation, "raise `for:` to 10m", "p90 of the short lives is 7m");
}

#[test]
fn flapping_missing_fields_silences_and_routes_are_found() {
    let mut episodes = Vec::new();
    // Flaps: five firings of one alert within 5 hours on day 2.
    for i in 0..5 {
        episodes.push(episode("Flappy", 7, DAY + i * HOUR, Some(20 * MIN)));
    }
    // Mostly silenced: fired 10 hours, 9.5 of them silenced.
    let mut hushed = episode("Hushed", 8, 0, Some(10 * HOUR));
    hushed.silenced = secs(19 * 1800);
    episodes.push(hushed);
    // No runbook, no action, and two routes.
    let mut bare = episode("Bare", 9, 0, Some(HOUR));
    bare.has_runbook = false;
    bare.has_action = false;
    bare.groups.push(("dba".into(), "{}/1:{alertname=\"Bare\"}".into()));
    episodes.push(bare);
    let findings = noise::report(&episodes, &[], &[], &rules(), &week());
    assert_eq!(kinds(&findings, "Flappy"), vec![Kind::Flapping]);
    assert_eq!(kinds(&findings, "Hushed"), vec![Kind::MostlySilenced]);
    assert_eq!(kinds(&findings, "Bare"), vec![Kind::NoRunbook, Kind::NoAction, Kind::SeveralRoutes]);
    let text = |k: Kind| findings.iter().find(|f| f.kind == k).map(|f| f.evidence.clone()).unwrap_or_default();
    assert_eq!(text(Kind::Flapping), "5 fire/resolve cycles within 1d (more than 3 is flapping)");
    assert_eq!(text(Kind::MostlySilenced), "silenced 95% of the 10h it was firing");
    assert_eq!(text(Kind::SeveralRoutes), "a firing was sent through 2 routes (to dba, ops)");
    // Four firings spread over four days do not flap.
    let spread: Vec<Episode> = (0..4).map(|i| episode("Daily", 1, i * DAY, Some(HOUR))).collect();
    assert!(noise::report(&spread, &[], &[], &rules(), &week()).is_empty());
}

#[test]
fn a_healthy_rule_has_no_finding() {
    // Fires a few times, lasts half an hour, always acknowledged, runbook and action, one route.
    let episodes: Vec<Episode> = (0..12).map(|i| episode("Healthy", 1, i * 13 * HOUR, Some(30 * MIN))).collect();
    let pages: Vec<PageFacts> = (0..12)
        .map(|i| page(i + 1, "Healthy", i * 13 * HOUR + 30, Some(i * 13 * HOUR + 300), Some(i * 13 * HOUR + 1900)))
        .collect();
    assert_eq!(noise::report(&episodes, &pages, &[], &rules(), &week()), vec![]);
}

#[test]
fn only_active_silences_idle_long_enough_are_reported() {
    let silence = |id: &str, start: i64, end: i64, matched: Option<i64>| SilenceFacts {
        id: id.into(),
        matchers: "{alertname=\"Gone\"}".into(),
        created_by: "alice".into(),
        starts_at: t(start),
        ends_at: t(end),
        last_matched_at: matched.map(t),
    };
    let now = 7 * DAY;
    let silences = vec![
        silence("idle", DAY - 1, 30 * DAY, None),      // idle for 6 days: reported
        silence("young", now - HOUR, 30 * DAY, None),  // an hour old: not yet
        silence("used", DAY, 30 * DAY, Some(2 * DAY)), // matched once
        silence("expired", 0, 2 * DAY, None),          // no longer active
    ];
    let findings = noise::idle_silences(&silences, &rules(), t(now));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].subject, Subject::Silence("idle".into()));
    assert_eq!(findings[0].evidence, "{alertname=\"Gone\"} by alice matched nothing in 6d");
    assert_eq!(findings[0].recommendation, "expire this silence: `clarion silence expire idle`");
}
