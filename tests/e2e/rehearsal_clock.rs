//! Rehearsing a campaign: with `clock.rehearsal = true`, `POST /admin/clock` moves the bot's
//! clock for whoever holds the admin token; without it, the endpoint does not exist. The
//! rehearsal starts where `clock.start` says (by default the campaign's first day); moving the
//! clock back opens again what lies after the new time, each occurrence still queued once, and
//! instances on one database share every move.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rallybot::background::rehearsal::SharedRehearsal;
use rallybot::background::scheduler::{Scheduler, SchedulerConfig};
use rallybot::App;
use rallybot_handlers::clock::{Clock, RehearsalClock, SystemClock};
use rallybot_storage::Database;

use crate::harness::background::{at, Harness};
use crate::harness::settings::settings;
use crate::harness::{postgres, scratch, spawn_app, spawn_app_with, Backend, TestOptions};

#[tokio::test]
async fn the_admin_clock_needs_the_token_and_moves_the_campaign_clock() {
    let app = spawn_app().await;
    let before = app.clock.now();
    let anonymous = app
        .http
        .post(format!("{}/admin/clock", app.base_url))
        .json(&serde_json::json!({"advance": "24h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .http
        .post(format!("{}/admin/clock", app.base_url))
        .bearer_auth("wrong")
        .json(&serde_json::json!({"advance": "24h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        app.clock.now() - before < chrono::Duration::hours(1),
        "not moved yet"
    );

    let moved = app.admin_clock(serde_json::json!({"advance": "24h"})).await;
    assert_eq!(moved.status(), 200);
    let gap = app.clock.now() - before;
    assert!(gap >= chrono::Duration::hours(24) && gap < chrono::Duration::hours(25));

    let set = app
        .admin_clock(serde_json::json!({"set": "2022-09-01T08:00:00+08:00"}))
        .await;
    assert_eq!(set.status(), 200);
    assert_eq!(
        app.clock.now().date_naive(),
        chrono::NaiveDate::from_ymd_opt(2022, 9, 1).unwrap()
    );
    let bad = app
        .admin_clock(serde_json::json!({"advance": "soon"}))
        .await;
    assert_eq!(bad.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_clock_does_not_exist_without_rehearsal() {
    let app = spawn_app_with(TestOptions {
        configure: |s| s.clock.rehearsal = false,
        ..Default::default()
    })
    .await;
    let response = app.admin_clock(serde_json::json!({"advance": "24h"})).await;
    assert_eq!(response.status(), 404);
    app.stop().await;
}

/// Within a minute of `expected` (real time runs on while the test does).
fn close_to(clock: &dyn Clock, expected: DateTime<Utc>) -> bool {
    let gap = clock.now() - expected;
    gap >= Duration::zero() && gap < Duration::minutes(1)
}

async fn starts_where_the_organizer_says(backend: Backend) {
    let database = scratch(backend).await;
    let build = |start: &str| {
        let mut s = settings(database.url(), "http://127.0.0.1:9");
        s.clock.start = start.into();
        App::build(s)
    };
    // The default: the campaign's first day (黑龙江: the 宣传发动 stage from 7月21日).
    let app = build("").await.unwrap();
    assert!(close_to(
        app.clock().as_ref(),
        at("2022-07-21T00:00:00+08:00")
    ));
    app.store().close().await;
    let app = build("2022-10-11 09:59").await.unwrap();
    assert!(close_to(
        app.clock().as_ref(),
        at("2022-10-11T09:59:00+08:00")
    ));
    // Moved through the admin endpoint's path, the clock is where a restart (or another
    // instance) with the same start carries on; a new start begins again there.
    let shared = SharedRehearsal::join(
        app.rehearsal_clock().unwrap(),
        app.store(),
        "2022-10-11 09:59",
        &app.campaign(),
    )
    .await
    .unwrap();
    shared.clock().set(at("2022-10-20T10:00:00+08:00")).unwrap();
    shared.publish().await.unwrap();
    app.store().close().await;
    let again = build("2022-10-11 09:59").await.unwrap();
    assert!(close_to(
        again.clock().as_ref(),
        at("2022-10-20T10:00:00+08:00")
    ));
    again.store().close().await;
    let other = build("campaign").await.unwrap();
    assert!(close_to(
        other.clock().as_ref(),
        at("2022-07-21T00:00:00+08:00")
    ));
    other.store().close().await;
    let bad = build("soon").await.unwrap_err();
    assert!(
        format!("{bad:#}").contains("clock.start \"soon\""),
        "{bad:#}"
    );
}

#[tokio::test]
async fn a_rehearsal_starts_where_the_organizer_says_on_sqlite() {
    starts_where_the_organizer_says(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_rehearsal_starts_where_the_organizer_says_on_postgres() {
    if let Some(backend) = postgres() {
        starts_where_the_organizer_says(backend).await;
    }
}

/// One instance of a rehearsal: its own clock, following the shared one, and its scheduler.
struct Instance {
    shared: Arc<SharedRehearsal>,
    scheduler: Scheduler,
}

impl Instance {
    async fn join(h: &Harness, store: Arc<dyn Database>, name: &str) -> Instance {
        let clock = Arc::new(RehearsalClock::new());
        // As a rehearsal started without `clock.start` once did: today, after the campaign.
        let shared = Arc::new(
            SharedRehearsal::join(clock.clone(), store.clone(), "now", &h.campaign)
                .await
                .unwrap(),
        );
        let scheduler = Scheduler::new(
            h.campaign.clone(),
            store,
            clock,
            SchedulerConfig::new(name, h.organizers.clone()),
        )
        .unwrap()
        .with_rehearsal(Some(shared.clone()));
        Instance { shared, scheduler }
    }

    /// `POST /admin/clock {"set": …}` on this instance.
    async fn set(&self, to: &str) {
        self.shared.move_here(|clock| clock.set(at(to))).unwrap();
        self.shared.publish().await.unwrap();
    }

    /// `POST /admin/clock {"advance": …}` on this instance.
    async fn advance(&self, by: Duration) {
        self.shared.move_here(|clock| clock.advance(by)).unwrap();
        self.shared.publish().await.unwrap();
    }
}

/// Queued pushes per job, and each key's count.
async fn queued(h: &Harness) -> (BTreeMap<String, usize>, usize) {
    let mut jobs = BTreeMap::new();
    let mut keys = std::collections::BTreeSet::new();
    let rows = h.all_pushes().await;
    for row in &rows {
        let job = row.key.split('/').next().unwrap_or_default().to_string();
        *jobs.entry(job).or_insert(0) += 1;
        keys.insert(row.key.clone());
    }
    assert_eq!(keys.len(), rows.len(), "a key queued twice");
    (jobs, rows.len())
}

async fn moving_back_reopens_once_across_instances(backend: Backend) {
    let h = Harness::new(backend, at("2022-07-20T00:00:00+08:00")).await;
    h.add_groups(&["g1", "g2"]).await;
    let a = Instance::join(&h, h.another_store().await, "instance-a").await;
    let b = Instance::join(&h, h.another_store().await, "instance-b").await;
    // Today, after the campaign: everything past is marked as handled (too late to send).
    assert!(a.scheduler.step().await.unwrap().leading);
    assert!(!b.scheduler.step().await.unwrap().leading);
    assert_eq!(queued(&h).await.1, 0);

    // The organizer sets the clock back on A, just before the 活动开展 stage starts, then
    // advances it on B. Each instance follows the other's moves.
    a.set("2022-07-31T23:59:00+08:00").await;
    b.scheduler.step().await.unwrap();
    assert!(close_to(
        b.shared.clock().as_ref(),
        at("2022-07-31T23:59:00+08:00")
    ));
    b.advance(Duration::hours(1)).await;
    a.scheduler.step().await.unwrap();
    b.scheduler.step().await.unwrap();
    assert!(close_to(
        a.shared.clock().as_ref(),
        at("2022-08-01T00:59:00+08:00")
    ));
    let (jobs, _) = queued(&h).await;
    assert_eq!(jobs.get("announce:activity"), Some(&2), "{jobs:?}");

    // Monday 8 August, the first nudges after the week of grace.
    a.set("2022-08-08T09:59:00+08:00").await;
    b.scheduler.step().await.unwrap();
    a.scheduler.step().await.unwrap();
    assert_eq!(queued(&h).await.0.get("nudge"), None);
    b.advance(Duration::hours(1)).await;
    a.scheduler.step().await.unwrap();
    b.scheduler.step().await.unwrap();
    let (jobs, total) = queued(&h).await;
    let nudges = jobs.get("nudge").copied().unwrap_or(0);
    assert!(nudges > 10, "{jobs:?}");

    // Back again over both moments: nothing is queued a second time.
    for (set, advance) in [
        ("2022-08-08T09:30:00+08:00", Duration::hours(1)),
        ("2022-07-31T23:00:00+08:00", Duration::hours(2)),
    ] {
        b.set(set).await;
        a.scheduler.step().await.unwrap();
        b.scheduler.step().await.unwrap();
        a.advance(advance).await;
        b.scheduler.step().await.unwrap();
        a.scheduler.step().await.unwrap();
        assert_eq!(queued(&h).await.1, total, "after {set}");
    }
    let gap = a.shared.clock().now() - b.shared.clock().now();
    assert!(gap.num_seconds().abs() < 5, "{gap}");
    // Both instances read real time through their clocks: nothing here depended on the
    // harness's fixed clock.
    assert!(SystemClock.now() > at("2025-01-01T00:00:00Z"));
}

#[tokio::test]
async fn moving_the_clock_back_reopens_what_follows_once_on_sqlite() {
    moving_back_reopens_once_across_instances(Backend::Sqlite).await;
}

#[tokio::test]
async fn moving_the_clock_back_reopens_what_follows_once_on_postgres() {
    if let Some(backend) = postgres() {
        moving_back_reopens_once_across_instances(backend).await;
    }
}

/// An instance whose scheduler is reading the shared clock when a move is made on it (the
/// admin endpoint's) does not adopt what it read: that is the other instance's earlier move,
/// and adopting it set the clock back a whole step, long enough for a registration begun there
/// to have expired when it was confirmed on the other instance. PostgreSQL only: several
/// instances share a database only there (and a SQLite read may be answered at once, before a
/// move can be made during it).
async fn a_move_made_while_following_is_not_undone(backend: Backend) {
    let h = Harness::new(backend, at("2022-07-20T00:00:00+08:00")).await;
    let a = Instance::join(&h, h.another_store().await, "instance-a").await;
    let b = Instance::join(&h, h.another_store().await, "instance-b").await;
    // The walk's step to 9:00 on both; `a` has not followed `b`'s publication of it. `a`'s
    // scheduler starts reading the shared clock, and the next step lands on `a` meanwhile. A
    // read may be answered within its first poll, before a move can be made during it: then
    // `b` publishes the step again and `a` reads again.
    a.set("2022-07-21T09:00:00+08:00").await;
    let mut attempts = 0;
    let follow = loop {
        attempts += 1;
        assert!(
            attempts <= 50,
            "no read of the shared clock was ever under way"
        );
        b.set("2022-07-21T09:00:00+08:00").await;
        let mut follow = Box::pin(a.shared.follow());
        if futures::poll!(&mut follow).is_pending() {
            break follow;
        }
    };
    a.shared
        .move_here(|clock| clock.set(at("2022-07-21T12:00:00+08:00")))
        .unwrap();
    assert!(!follow.await.unwrap(), "nothing adopted");
    assert!(close_to(
        a.shared.clock().as_ref(),
        at("2022-07-21T12:00:00+08:00")
    ));
    // Published, the move is followed by the other instance as before.
    a.shared.publish().await.unwrap();
    assert!(b.shared.follow().await.unwrap());
    assert!(close_to(
        b.shared.clock().as_ref(),
        at("2022-07-21T12:00:00+08:00")
    ));
}

#[tokio::test]
async fn a_move_made_while_following_is_not_undone_on_postgres() {
    if let Some(backend) = postgres() {
        a_move_made_while_following_is_not_undone(backend).await;
    }
}
