//! A new user's set-up: `wecom.aibot.mode = "websocket"` and nothing else of WeCom's — no
//! callback URL, so no callback token or key on any surface, no app secret, no group robot —
//! takes part in the whole seed-000 season against the simulator. The rehearsal clock moves
//! through the campaign (`POST /admin/clock`) while a group the bot was @-mentioned in and the
//! unions' officers receive the season's announcements, reminders, digests and nudges, each
//! delivered once, all through `aibot_send_msg`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rallybot::config::Secret;
use rallybot::devtools::simulator::Endpoint;
use rallybot_storage::PushStatus;

use crate::harness::aibot_ws::spawn_ws_rehearsal;
use crate::harness::background::shanghai;
use crate::harness::{postgres, Backend, TestApp};

/// How far the clock moves at a time: well inside the scheduler's `missed_grace` (6 h).
const STEP: &str = "3h";

fn local(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    shanghai()
        .with_ymd_and_hms(2022, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn no_callback_url(settings: &mut rallybot::Settings) {
    let wecom = &mut settings.wecom;
    for secret in [
        &mut wecom.app.token,
        &mut wecom.app.encoding_aes_key,
        &mut wecom.aibot.token,
        &mut wecom.aibot.encoding_aes_key,
        &mut wecom.robot.token,
        &mut wecom.robot.encoding_aes_key,
    ] {
        *secret = Secret::default();
    }
    wecom.groups.clear();
}

/// Waits until no push that is due now is still to be sent.
async fn drained(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = app.clock.now();
        let mut waiting = app
            .store
            .pushes(Some(PushStatus::Pending), 100_000)
            .await
            .unwrap();
        waiting.extend(
            app.store
                .pushes(Some(PushStatus::Sending), 100_000)
                .await
                .unwrap(),
        );
        waiting.retain(|p| p.not_before <= now);
        if waiting.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pushes not delivered: {waiting:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_season_over_the_long_connection_alone_delivers_every_push_once_on_sqlite() {
    season(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_season_over_the_long_connection_alone_delivers_every_push_once_on_postgres() {
    if let Some(backend) = postgres() {
        season(backend).await;
    }
}

async fn season(backend: Backend) {
    let app = spawn_ws_rehearsal(backend, local(7, 20, 9), no_callback_url).await;
    // The bot learns the group it is @-mentioned in.
    let answer = app.ws_say_in_group("hrb-group", "zhangsan", "阶段").await;
    assert!(!answer.is_empty());
    let end = local(11, 2, 12);
    while app.clock.now() < end {
        let moved = app
            .admin_clock(serde_json::json!({ "advance": STEP }))
            .await;
        assert_eq!(moved.status(), 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
        drained(&app).await;
    }

    let rows = app.store.pushes(None, 100_000).await.unwrap();
    assert!(
        rows.iter().all(|p| p.status == PushStatus::Sent),
        "{:?}",
        rows.iter()
            .filter(|p| p.status != PushStatus::Sent)
            .collect::<Vec<_>>()
    );
    let received = app.simulator.received();
    let other: Vec<_> = received
        .iter()
        .filter(|r| r.endpoint.is_message() && r.endpoint != Endpoint::AibotSend)
        .filter(|r| r.endpoint != Endpoint::AibotRespond)
        .collect();
    assert!(
        other.is_empty(),
        "pushed outside the long connection: {other:?}"
    );
    let mut delivered: HashMap<(Option<&str>, Option<&str>), usize> = HashMap::new();
    for r in received
        .iter()
        .filter(|r| r.delivered() && r.endpoint == Endpoint::AibotSend)
    {
        *delivered
            .entry((r.key.as_deref(), r.content()))
            .or_default() += 1;
    }
    let twice: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let total: usize = delivered.values().sum();
    assert_eq!(total, rows.len(), "one delivery per outbox row");
    let to_group = delivered
        .keys()
        .filter(|(chat, _)| *chat == Some("hrb-group"))
        .count();
    let to_people = total - to_group;
    assert!(to_group >= 3, "the group hears the season: {to_group}");
    assert!(to_people >= 10, "officers are nudged: {to_people}");
    assert!(
        app.simulator.violations().is_empty(),
        "{:?}",
        app.simulator.violations()
    );
    println!(
        "seed 000 over the long connection on {}: {to_group} pushes to the group, {to_people} \
         to people",
        backend.name()
    );
    app.stop().await;
}
