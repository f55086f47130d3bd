//! The WeCom simulator itself: tokens, rate limits, faults and recording behave like WeCom, so
//! tests that rely on it can trust it.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rallybot::devtools::simulator::{
    Endpoint, Fault, FaultTarget, Outcome, Simulator, Times, ViolationKind,
};
use rallybot_handlers::clock::FixedClock;
use serde_json::{json, Value};

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2022-08-10T10:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

async fn simulator() -> (Arc<FixedClock>, Simulator) {
    let clock = Arc::new(FixedClock::new(start_time()));
    let sim = Simulator::start(clock.clone()).await.unwrap();
    (clock, sim)
}

async fn token(http: &reqwest::Client, sim: &Simulator) -> String {
    let answer: Value = http
        .get(format!(
            "{}/cgi-bin/gettoken?corpid=ww1&corpsecret=s",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 0);
    assert_eq!(answer["expires_in"], 7200);
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn send_app(http: &reqwest::Client, sim: &Simulator, token: &str, user: &str) -> Value {
    http.post(format!(
        "{}/cgi-bin/message/send?access_token={token}",
        sim.base_url()
    ))
    .json(&json!({"touser": user, "msgtype": "text", "agentid": 1000002, "text": {"content": "你好"}}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

async fn send_webhook(
    http: &reqwest::Client,
    sim: &Simulator,
    key: &str,
) -> Result<Value, reqwest::Error> {
    http.post(sim.webhook_url(key))
        .json(&json!({"msgtype": "text", "text": {"content": "群消息"}}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

#[tokio::test]
async fn tokens_expire_on_the_simulator_clock() {
    let (clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    let token = token(&http, &sim).await;
    assert_eq!(send_app(&http, &sim, &token, "u1").await["errcode"], 0);
    assert_eq!(
        send_app(&http, &sim, "forged", "u1").await["errcode"],
        40014
    );
    clock.advance(Duration::seconds(7200));
    assert_eq!(send_app(&http, &sim, &token, "u1").await["errcode"], 42001);
    let fresh = self::token(&http, &sim).await;
    sim.expire_tokens();
    assert_eq!(send_app(&http, &sim, &fresh, "u1").await["errcode"], 42001);
    assert_eq!(sim.delivered_to_user("u1").len(), 1);
    assert_eq!(sim.tokens_issued(), 2);
}

#[tokio::test]
async fn webhook_limit_is_twenty_per_sliding_minute() {
    let (clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    for _ in 0..20 {
        assert_eq!(send_webhook(&http, &sim, "g1").await.unwrap()["errcode"], 0);
    }
    assert_eq!(
        send_webhook(&http, &sim, "g1").await.unwrap()["errcode"],
        45009
    );
    // Another robot has its own window.
    assert_eq!(send_webhook(&http, &sim, "g2").await.unwrap()["errcode"], 0);
    clock.advance(Duration::seconds(59));
    assert_eq!(
        send_webhook(&http, &sim, "g1").await.unwrap()["errcode"],
        45009
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(send_webhook(&http, &sim, "g1").await.unwrap()["errcode"], 0);

    assert_eq!(sim.delivered_to_webhook("g1").len(), 21);
    let violations = sim.violations();
    assert_eq!(violations.len(), 2);
    assert!(violations
        .iter()
        .all(|v| v.kind == ViolationKind::RateLimit && v.key == "webhook:g1"));
}

#[tokio::test]
async fn app_messages_are_limited_per_member() {
    let (_clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    let token = token(&http, &sim).await;
    for _ in 0..30 {
        assert_eq!(send_app(&http, &sim, &token, "u1").await["errcode"], 0);
    }
    assert_eq!(send_app(&http, &sim, &token, "u1").await["errcode"], 45009);
    assert_eq!(send_app(&http, &sim, &token, "u2").await["errcode"], 0);
    // A message to several members is refused whole when one of them is over the limit.
    assert_eq!(
        send_app(&http, &sim, &token, "u2|u1").await["errcode"],
        45009
    );
    assert_eq!(sim.delivered_to_user("u1").len(), 30);
    assert_eq!(sim.delivered_to_user("u2").len(), 1);
    assert_eq!(sim.violations().len(), 2);
}

#[tokio::test]
async fn unknown_members_and_revoked_robots_are_permanent_errors() {
    let (_clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    let token = token(&http, &sim).await;
    sim.add_invalid_user("ghost");
    let all_invalid = send_app(&http, &sim, &token, "ghost").await;
    assert_eq!(all_invalid["errcode"], 81013);
    assert_eq!(all_invalid["invaliduser"], "ghost");
    let partly = send_app(&http, &sim, &token, "ghost|u1").await;
    assert_eq!(partly["errcode"], 0);
    assert_eq!(partly["invaliduser"], "ghost");
    sim.revoke_webhook("gone");
    assert_eq!(
        send_webhook(&http, &sim, "gone").await.unwrap()["errcode"],
        93000
    );
}

#[tokio::test]
async fn faults_apply_to_the_next_requests_then_stop() {
    let (_clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    sim.inject(Fault::Errcode(-1), Times::Next(2));
    sim.inject(Fault::Http(502), Times::Next(1));
    assert_eq!(send_webhook(&http, &sim, "g").await.unwrap()["errcode"], -1);
    assert_eq!(send_webhook(&http, &sim, "g").await.unwrap()["errcode"], -1);
    let server_error = send_webhook(&http, &sim, "g").await.unwrap_err();
    assert_eq!(server_error.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(send_webhook(&http, &sim, "g").await.unwrap()["errcode"], 0);
    let outcomes: Vec<Outcome> = sim.received().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Answered { errcode: -1 },
            Outcome::Answered { errcode: -1 },
            Outcome::HttpError { status: 502 },
            Outcome::Answered { errcode: 0 },
        ]
    );
    assert_eq!(sim.delivered().len(), 1);
}

#[tokio::test]
async fn dropped_connections_fail_the_client_and_tell_whether_anything_arrived() {
    let (_clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    sim.inject(Fault::Drop, Times::Next(1));
    assert!(send_webhook(&http, &sim, "g").await.is_err());
    assert!(sim.delivered().is_empty());
    sim.inject(Fault::LoseResponse, Times::Next(1));
    assert!(send_webhook(&http, &sim, "g").await.is_err());
    let delivered = sim.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].outcome, Outcome::ResponseLost);
}

#[tokio::test]
async fn fractions_and_targets_select_requests() {
    let (_clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    sim.inject_on(
        FaultTarget::Only(Endpoint::GetToken),
        Fault::Errcode(-1),
        Times::Fraction(1.0),
    );
    let refused: Value = http
        .get(format!(
            "{}/cgi-bin/gettoken?corpid=a&corpsecret=b",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["errcode"], -1);
    // The fault is limited to gettoken: webhooks still work.
    assert_eq!(send_webhook(&http, &sim, "g").await.unwrap()["errcode"], 0);
    sim.clear_faults();
    sim.inject(Fault::Errcode(45033), Times::Fraction(0.0));
    assert_eq!(send_webhook(&http, &sim, "g").await.unwrap()["errcode"], 0);
}

#[tokio::test]
async fn response_urls_work_once() {
    let (clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    let url = sim.issue_response_url();
    let body = json!({"msgtype": "markdown", "markdown": {"content": "好的"}});
    let first: Value = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: Value = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["errcode"], 0);
    assert_ne!(second["errcode"], 0);
    let late = sim.issue_response_url();
    clock.advance(Duration::hours(1));
    let expired: Value = http
        .post(&late)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(expired["errcode"], 0);
    assert_eq!(sim.delivered().len(), 1);
}

#[tokio::test]
async fn waiting_wakes_on_delivery() {
    let (_clock, sim) = simulator().await;
    let url = sim.webhook_url("g");
    let sender = tokio::spawn(async move {
        let http = reqwest::Client::new();
        for _ in 0..3 {
            http.post(&url)
                .json(&json!({"msgtype": "text", "text": {"content": "x"}}))
                .send()
                .await
                .unwrap();
        }
    });
    tokio::time::timeout(StdDuration::from_secs(30), sim.wait_for_delivered(3))
        .await
        .expect("three deliveries");
    sender.await.unwrap();
    let delivered = sim.delivered_to_webhook("g");
    assert_eq!(delivered.len(), 3);
    assert_eq!(delivered[0].content(), Some("x"));
    assert_eq!(delivered[0].at, start_time());
}

#[tokio::test]
async fn oversize_markdown_is_refused_like_wecom() {
    let (_clock, sim) = simulator().await;
    let http = reqwest::Client::new();
    let long = "长".repeat(1400); // 4200 bytes
    let answer: Value = http
        .post(sim.webhook_url("g"))
        .json(&json!({"msgtype": "markdown", "markdown": {"content": long}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 40058);
    assert_eq!(sim.violations()[0].kind, ViolationKind::Oversize);
}
