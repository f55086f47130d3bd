//! The 黑龙江 2022 campaign (seed 000) driven from before its first day to after its last by
//! calling `tick(now)` on a `FixedClock`: every stage announcement, deadline reminder, quota
//! nudge and leaderboard digest arrives at the simulated WeCom exactly once, never in quiet
//! hours, never over a rate limit.
//!
//! The expectations are computed here from the campaign's data (dates, offsets, targets) with
//! the pace rule of SPEC §6, not with the scheduler's own code.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use rallybot_handlers::campaign::Audience;
use rallybot_handlers::link::Link;
use rallybot_handlers::store::{EntrantKind, NewEntry, NewReport, ReviewStatus};
use rallybot_storage::PushStatus;

use crate::harness::background::{delivery_counts, shanghai, Harness};
use crate::harness::{postgres, Backend};

const GROUPS: [&str; 3] = ["hrb-group", "qqhr-group", "province-group"];

/// Local wall-clock time on a date.
fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    shanghai()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn in_quiet_hours(t: DateTime<Utc>) -> bool {
    let time = t.with_timezone(&shanghai()).time();
    time >= NaiveTime::from_hms_opt(21, 0, 0).unwrap()
        || time < NaiveTime::from_hms_opt(8, 0, 0).unwrap()
}

/// Officer → expected number of quota nudges, from the unions file and the reports below:
/// 哈尔滨 reported 10 (its whole target), 牡丹江 5, everyone else nothing. Nudges go out on
/// weekdays at 10:00 while the 线下活动 window (the 活动开展 stage, 61 days) is open, after its
/// first week (the default grace); on day `d` a union is behind when done is below
/// target × (d − 1) / 61 × (1 − slack) rounded to the nearest whole number (halves up). The
/// province's target is its cities' sum; its officers are nudged when it is behind or when any
/// city is (the digest of the unions below), city officers when their city is (no county here
/// has a target).
fn expected_nudges(h: &Harness) -> BTreeMap<String, usize> {
    let metric = h
        .campaign
        .metrics
        .iter()
        .find(|m| m.key == "offline")
        .unwrap();
    let (start, end) = (metric.window_start, metric.window_end);
    assert_eq!(start, local(2022, 8, 1, 0, 0));
    assert_eq!(end, local(2022, 10, 1, 0, 0));
    let done: BTreeMap<&str, i64> = [("hrb", 10), ("mdj", 5)].into_iter().collect();
    let mut targets: BTreeMap<String, (i64, i64)> = BTreeMap::new(); // code → (target, done)
    let mut province = (0, 0);
    for union in &h.campaign.unions.list {
        if let Some(target) = union.targets.get("offline") {
            let d = done.get(union.code.as_str()).copied().unwrap_or(0);
            targets.insert(union.code.clone(), (*target, d));
            province.0 += target;
            province.1 += d;
        }
    }
    assert_eq!(province.0, 120, "附件1: 120 offline activities in total");
    targets.insert("hlj".into(), province);

    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut day = start.with_timezone(&shanghai()).date_naive();
    while shanghai()
        .from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
        < end
    {
        let t = local(day.year(), day.month(), day.day(), 10, 0);
        let grace = t < start + Duration::days(7);
        if !grace && !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let over = (day - start.with_timezone(&shanghai()).date_naive()).num_days();
            let behind: BTreeSet<&str> = targets
                .iter()
                .filter(|(_, (target, d))| {
                    let bar = (*target as f64 * over as f64 / 61.0 * (1.0 - 0.1) + 0.5).floor();
                    (*d as f64) < bar
                })
                .map(|(code, _)| code.as_str())
                .collect();
            let mut nudged: BTreeSet<&str> = behind.clone();
            if !behind.is_empty() {
                nudged.insert("hlj");
            }
            for code in nudged {
                for officer in &h.campaign.unions.get(code).unwrap().officers {
                    *expected.entry(officer.clone()).or_insert(0) += 1;
                }
            }
        }
        day = day.succ_opt().unwrap();
    }
    expected
}

/// Drives the season with ticks `step` apart; an odd step, so held pushes go out at the first
/// tick after the quiet hours rather than exactly at their end.
async fn season(backend: Backend, step: Duration) {
    let h = Harness::new(backend, local(2022, 7, 20, 0, 0)).await;
    h.add_groups(&GROUPS).await;
    for (union, amount) in [("hrb", 10), ("mdj", 5)] {
        h.store
            .add_report(&NewReport {
                union_code: union.into(),
                metric: "offline".into(),
                amount,
                note: "走进企业".into(),
                reporter: format!("{union}_officer01"),
                now: h.now(),
                callback_key: format!("report/{union}"),
            })
            .await
            .unwrap();
    }
    let entry = h
        .store
        .submit_entry(&NewEntry {
            track: "talent".into(),
            code_prefix: "B".into(),
            entrant_kind: EntrantKind::Member,
            entrant_id: "worker01".into(),
            submitter: "worker01".into(),
            union_code: "hrb".into(),
            link: Link::parse("https://example.org/video/1").unwrap(),
            title: "红歌联唱".into(),
            status: ReviewStatus::Approved,
            now: h.now(),
            callback_key: "submit/1".into(),
        })
        .await
        .unwrap();

    let scheduler = h.scheduler(h.store.clone(), "instance-a");
    let sender = h.sender(h.store.clone(), h.sender_config("instance-a"));
    let end = local(2022, 11, 2, 12, 0);
    while h.now() < end {
        scheduler.tick(h.now()).await.unwrap();
        sender.tick(h.now()).await.unwrap();
        h.clock.advance(step);
    }

    let delivered = h.sim.delivered();
    assert!(h.sim.violations().is_empty(), "{:?}", h.sim.violations());
    for r in &delivered {
        assert!(
            !in_quiet_hours(r.at),
            "pushed in quiet hours: {:?} {:?}",
            r.at,
            r.content()
        );
    }
    let counts = delivery_counts(&delivered);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let rows = h.all_pushes().await;
    assert!(
        rows.iter().all(|p| p.status == PushStatus::Sent),
        "every push sent"
    );
    assert_eq!(rows.len(), delivered.len(), "one delivery per outbox row");

    let to = |destination: &str, marker: &str| -> Vec<DateTime<Utc>> {
        delivered
            .iter()
            .filter(|r| r.destinations().iter().any(|d| d == destination))
            .filter(|r| r.content().unwrap_or_default().contains(marker))
            .map(|r| r.at)
            .collect()
    };

    // Stage announcements: once per group, on the stage's first day, after the quiet hours.
    let mut expected_total = 0;
    for stage in &h.campaign.stages {
        let text = stage.announce.as_deref().unwrap().trim();
        for group in GROUPS {
            let times: Vec<_> = delivered
                .iter()
                .filter(|r| r.destinations() == vec![format!("webhook:{group}")])
                .filter(|r| r.content() == Some(text))
                .map(|r| r.at)
                .collect();
            assert_eq!(times.len(), 1, "{} to {group}", stage.key);
            assert!(times[0] >= stage.starts && times[0] < stage.starts + Duration::hours(9));
            expected_total += 1;
        }
    }

    // Deadline reminders: one per offset, to the deadline's audience, before the deadline.
    let officers: BTreeSet<String> = h
        .campaign
        .unions
        .list
        .iter()
        .flat_map(|u| u.officers.iter().cloned())
        .collect();
    assert_eq!(officers.len(), 21);
    for deadline in &h.campaign.deadlines {
        let destinations: Vec<String> = match deadline.audience {
            Audience::All => GROUPS.iter().map(|g| format!("webhook:{g}")).collect(),
            Audience::Officers => officers.iter().map(|o| format!("user:{o}")).collect(),
            Audience::Organizers => h.organizers.iter().map(|o| format!("user:{o}")).collect(),
        };
        let marker = format!("【截止提醒】{}", deadline.name);
        for destination in destinations {
            let mut times = to(&destination, &marker);
            times.sort();
            assert_eq!(
                times.len(),
                deadline.remind.len(),
                "{marker} to {destination}"
            );
            let mut offsets = deadline.remind.clone();
            offsets.sort_by(|a, b| b.cmp(a));
            for (t, offset) in times.iter().zip(offsets) {
                assert!(
                    *t >= deadline.due - offset && *t < deadline.due,
                    "{marker} at {t}"
                );
            }
            expected_total += deadline.remind.len();
        }
    }

    // Quota nudges: exactly the expected number per officer, at 10:00 on weekdays.
    let expected = expected_nudges(&h);
    assert!(expected.contains_key("qqhr_officer01"));
    assert!(expected.contains_key("mdj_officer01"));
    assert!(!expected.contains_key("hrb_officer01"), "哈尔滨 is on pace");
    assert!(
        expected["mdj_officer01"] < expected["qqhr_officer01"],
        "牡丹江 lags later"
    );
    for officer in &officers {
        let times = to(&format!("user:{officer}"), "【进度提醒】");
        assert_eq!(
            times.len(),
            expected.get(officer).copied().unwrap_or(0),
            "nudges to {officer}"
        );
        for t in &times {
            let local = t.with_timezone(&shanghai());
            // Sent at the first tick after 10:00.
            assert!(
                local.hour() == 10 && i64::from(local.minute()) < step.num_minutes(),
                "nudge at {local}"
            );
            assert!(!matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
        }
        expected_total += times.len();
    }
    let qqhr = delivered
        .iter()
        .find(|r| {
            r.destinations() == vec!["user:qqhr_officer01".to_string()]
                && r.content().unwrap_or_default().contains("【进度提醒】")
        })
        .unwrap();
    assert!(qqhr.content().unwrap().contains("齐齐哈尔市总工会"));
    assert!(qqhr.content().unwrap().contains("线下活动：已完成0/10"));
    assert!(qqhr.content().unwrap().contains("须于9月30日24:00前完成10"));

    // The leaderboard digest: every evening at 20:00 while voting is open (8月1日–9月30日).
    for group in GROUPS {
        let times = to(&format!("webhook:{group}"), "【每日榜单】");
        assert_eq!(times.len(), 61, "digests to {group}");
        assert!(times
            .iter()
            .all(|t| t.with_timezone(&shanghai()).hour() == 20));
        expected_total += times.len();
    }
    assert!(delivered
        .iter()
        .any(|r| r.content().unwrap_or_default().contains(&entry.code)));

    assert_eq!(delivered.len(), expected_total, "nothing else was pushed");
}

#[tokio::test]
async fn seed_000_season_on_sqlite() {
    season(Backend::Sqlite, Duration::minutes(17)).await;
}

#[tokio::test]
async fn seed_000_season_on_postgres() {
    if let Some(backend) = postgres() {
        // Fewer, longer steps: every tick is a few round trips to the server.
        season(backend, Duration::minutes(59)).await;
    }
}

#[tokio::test]
async fn plan_lists_the_first_week_without_sending() {
    let h = Harness::new(Backend::Sqlite, local(2022, 7, 20, 0, 0)).await;
    h.add_groups(&GROUPS).await;
    let plan = rallybot::background::scheduler::plan(
        &h.campaign,
        h.store.as_ref(),
        &h.organizers,
        local(2022, 7, 21, 0, 0),
        local(2022, 8, 8, 23, 59),
    )
    .await
    .unwrap();
    // Two announcements to three groups, and the first nudges of 8 August (after the week of
    // grace, everyone is behind at 10:00 except unions without a target).
    let announcements: Vec<_> = plan
        .iter()
        .filter(|p| p.job.starts_with("announce:"))
        .collect();
    assert_eq!(announcements.len(), 6);
    for p in &announcements {
        assert!(!in_quiet_hours(p.send_at));
        assert_eq!(p.send_at.with_timezone(&shanghai()).hour(), 8);
    }
    let nudges: Vec<_> = plan.iter().filter(|p| p.job == "nudge").collect();
    assert!(nudges.iter().any(|p| p.recipient == "user:qqhr_officer01"));
    assert!(nudges
        .iter()
        .all(|p| p.occurrence == local(2022, 8, 8, 10, 0)));
    let mut out = Vec::new();
    rallybot::cli::print_plan(&plan, h.campaign.timezone, &mut out).unwrap();
    let printed = String::from_utf8(out).unwrap();
    assert!(
        printed.contains("2022-07-21 08:00 (due 07-21 00:00, quiet hours)"),
        "{printed}"
    );
    assert!(printed.contains("Nothing was sent."));
    assert!(h.sim.received().is_empty());
    assert!(h.all_pushes().await.is_empty());
}

/// `rallybot schedule` on a fresh install, before the first `serve`: the configured groups get
/// the stage announcements (as `serve` would push them), and no database file appears. Once
/// `serve` has run, the groups it stored and those robots taught it are shown, each once.
#[tokio::test]
async fn schedule_before_the_first_serve_uses_the_configured_groups_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rallybot.db");
    let url = format!("sqlite://{}", file.display());
    let mut settings = crate::harness::settings::settings(&url, "http://127.0.0.1:9");
    settings.wecom.groups = vec![rallybot::config::GroupSettings {
        name: "哈尔滨市总工会职工群".into(),
        webhook_key: rallybot::config::Secret::new("k-hrb"),
        union: "hrb".into(),
    }];
    let schedule = |settings: rallybot::Settings| async move {
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        rallybot::cli::schedule(&settings, "2022-07-21", "2022-08-02", &mut out, &mut notes)
            .await
            .unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(notes).unwrap(),
        )
    };
    let (printed, notes) = schedule(settings.clone()).await;
    let to_group = |printed: &str, group: &str| {
        printed
            .lines()
            .filter(|l| l.contains("announce:") && l.contains(&format!("群 {group}")))
            .count()
    };
    assert_eq!(to_group(&printed, "哈尔滨市总工会职工群"), 2, "{printed}");
    assert!(printed.contains("2 to groups"), "{printed}");
    assert!(!notes.contains("no group"), "{notes}");
    assert!(notes.contains("nothing was created"), "{notes}");
    assert!(!file.exists(), "schedule created {}", file.display());

    // After `serve`: the configured group is stored, a robot taught it another one.
    let store = rallybot_storage::open(&url).await.unwrap();
    for (chat_id, name) in [
        ("config:哈尔滨市总工会职工群", "哈尔滨市总工会职工群"),
        ("wrk-robot-1", "齐齐哈尔职工群"),
    ] {
        store
            .upsert_group(&rallybot_handlers::store::GroupRecord {
                chat_id: chat_id.into(),
                name: name.into(),
                webhook_url: "http://127.0.0.1:9/cgi-bin/webhook/send?key=k".into(),
                union_code: None,
                learned_at: local(2022, 7, 1, 9, 0),
            })
            .await
            .unwrap();
    }
    store.close().await;
    let (printed, notes) = schedule(settings).await;
    assert_eq!(to_group(&printed, "哈尔滨市总工会职工群"), 2, "{printed}");
    assert_eq!(to_group(&printed, "齐齐哈尔职工群"), 2, "{printed}");
    assert!(printed.contains("4 to groups"), "{printed}");
    assert!(notes.is_empty(), "{notes}");
}
