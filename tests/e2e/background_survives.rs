//! One bad request or one bad tick must not stop the pushes for good: an out-of-range clock
//! move is refused, a background loop that panics is restarted and counted, and `/healthz`
//! says so while a loop is down.

use std::time::Duration;

use crate::harness::{spawn_app, TestApp};

/// Generous: the restart delay is a second, the sender polls every two.
const PATIENCE: Duration = Duration::from_secs(60);

/// A member's entry approved by the reviewer; resolves when the submitter has been told through
/// the outbox and the simulator, i.e. when the push sender still works.
async fn review_result_is_delivered(app: &TestApp, user: &str, n: u32) {
    app.register(user, "张三", n, "哈尔滨").await;
    let link = format!("https://mp.weixin.qq.com/s/{user}-story");
    let submitted = app
        .say_text(user, &format!("提交 奋进故事 {link} 我的故事"))
        .await;
    let code = submitted
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| word.len() == 5 && word.starts_with('C'))
        .unwrap_or_else(|| panic!("no entry code in {submitted}"))
        .to_string();
    let approved = app.say_text("reviewer", &format!("审核 {code} 通过")).await;
    assert!(approved.contains(&code), "{approved}");
    let user = user.to_string();
    tokio::time::timeout(
        PATIENCE,
        app.simulator.wait_until(|all| {
            all.iter()
                .any(|r| r.delivered() && r.recipients() == [user.as_str()])
        }),
    )
    .await
    .expect("the review result is pushed to the submitter");
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

#[tokio::test]
async fn an_out_of_range_clock_move_is_refused_and_pushes_keep_flowing() {
    let app = spawn_app().await;
    let before = app.clock.now();
    for body in [
        serde_json::json!({"advance": "99999999999d"}),
        serde_json::json!({"advance": "-99999999999d"}),
        serde_json::json!({"advance": "3000000d"}),
    ] {
        let refused = app.admin_clock(body.clone()).await;
        assert_eq!(refused.status(), 400, "{body}");
        let answer: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(answer["error"], "clock_out_of_range", "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("9999-12-31")),
            "{answer}"
        );
    }
    let drift = app.clock.now() - before;
    assert!(
        drift >= chrono::Duration::zero() && drift < chrono::Duration::hours(1),
        "the clock did not move: {drift}"
    );
    // The scheduler, the sender and the endpoints all read that clock: still working.
    review_result_is_delivered(&app, "zhangsan", 1).await;
    assert_eq!(app.healthz_until(200).await, "ok");
    let text = metrics(&app).await;
    assert!(
        text.contains("rallybot_background_restarts_total{loop=\"sender\"} 0")
            && text.contains("rallybot_background_restarts_total{loop=\"scheduler\"} 0"),
        "nothing panicked: {text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_loop_that_panics_is_restarted_counted_and_pushes_keep_flowing() {
    let app = spawn_app().await;
    app.loops.sender.fail_next_beats(1);
    app.loops.scheduler.fail_next_beats(1);
    for name in ["sender", "scheduler"] {
        let counted = format!("rallybot_background_restarts_total{{loop=\"{name}\"}} 1");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !metrics(&app).await.contains(&counted) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} restart not counted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Restarted, the sender delivers again, and both loops count as up.
    review_result_is_delivered(&app, "lisi", 2).await;
    assert_eq!(app.loops.sender.restarts(), 1);
    assert_eq!(app.healthz_until(200).await, "ok");
    app.stop().await;
}

#[tokio::test]
async fn healthz_is_unavailable_while_a_loop_is_down() {
    let app = spawn_app().await;
    assert_eq!(app.healthz_until(200).await, "ok");
    // A scheduler that panics on every tick never comes back up by itself.
    app.loops.scheduler.fail_next_beats(u32::MAX);
    let body = app.healthz_until_saying(503, "scheduler: down").await;
    assert!(!body.contains("sender"), "{body}");
    assert!(metrics(&app)
        .await
        .contains("rallybot_background_up{loop=\"scheduler\"} 0"));
    // Once its ticks finish again, it is healthy again.
    app.loops.scheduler.fail_next_beats(0);
    assert_eq!(app.healthz_until(200).await, "ok");
    app.stop().await;
}

#[tokio::test]
async fn the_purge_of_old_replies_is_a_supervised_loop_in_healthz() {
    let app = spawn_app().await;
    // Its first round runs at start; from then on it is reported like the other loops.
    let up = "rallybot_background_up{loop=\"callback-purge\"} 1";
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !metrics(&app).await.contains(up) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "purge loop not reported up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(app
        .loops
        .all()
        .iter()
        .any(|status| status.name() == "callback-purge"));
    assert_eq!(app.healthz_until(200).await, "ok");
    app.stop().await;
}
