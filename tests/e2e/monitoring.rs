//! Watching a running bot: `/healthz` answers, and `/metrics` counts callbacks, their latency
//! and the commands people use.

use crate::harness::spawn_app;

#[tokio::test]
async fn health_and_metrics_answer() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    app.say("zhangsan", "帮助").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("rallybot_callbacks_total{surface=\"app\",outcome=\"replied\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rallybot_callback_latency_seconds_count{surface=\"app\"} 1"));
    assert!(metrics.contains("rallybot_commands_total{command=\"帮助\"} 1"));
    app.stop().await;
}
