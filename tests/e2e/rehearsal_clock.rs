//! Rehearsing a campaign: with `clock.rehearsal = true`, `POST /admin/clock` moves the bot's
//! clock for whoever holds the admin token; without it, the endpoint does not exist.

use crate::harness::{spawn_app, spawn_app_with, TestOptions};

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
