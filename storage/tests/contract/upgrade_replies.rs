//! Upgrading a database that holds callback replies (migration 0013): each distinct text is
//! stored once, every recorded callback still gets its reply, and a text shared by an old and a
//! recent callback outlives the purge of the old one.

use chrono::Duration;
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::store::Timestamp;

use crate::harness::{Kind, Old};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replies_are_kept_once_per_text_on_sqlite() {
    replies_before_bodies_are_kept(Old::sqlite(12).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replies_are_kept_once_per_text_on_postgres() {
    if let Some(old) = Old::postgres(12).await {
        replies_before_bodies_are_kept(old).await;
    }
}

const HELP: &str = r#"{"text":"你可以发送：帮助","mention":true,"command":"帮助"}"#;

async fn replies_before_bodies_are_kept(old: Old) {
    let now = SystemClock.now();
    let old_time = now - Duration::hours(30);
    let time = |at: Timestamp| match old.raw().kind() {
        Kind::Sqlite => at.timestamp_millis().to_string(),
        Kind::Postgres => format!("TIMESTAMPTZ '{}'", at.to_rfc3339()),
    };
    old.raw()
        .execute(&format!(
            "INSERT INTO callback_replies (key, reply, answered_at) VALUES \
             ('k1', '{HELP}', {old}), ('k2', '{HELP}', {now}), ('k3', '', {now});",
            old = time(old_time),
            now = time(now),
        ))
        .await;
    let (db, raw) = old.upgrade().await;
    let store = db.store();
    let asked: Vec<String> = ["k1", "k2", "k3", "k4"].map(String::from).to_vec();
    assert_eq!(
        store.callback_replies(&asked).await.unwrap(),
        vec![
            Some(HELP.to_owned()),
            Some(HELP.to_owned()),
            Some(String::new()),
            None
        ]
    );
    let bodies = raw
        .pairs("SELECT body, NULL FROM callback_reply_bodies ORDER BY body")
        .await;
    assert_eq!(
        bodies,
        [(String::new(), None), (HELP.to_owned(), None)],
        "each text once"
    );
    assert_eq!(
        store
            .purge_callbacks(now - Duration::hours(24))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.callback_replies(&asked).await.unwrap(),
        vec![None, Some(HELP.to_owned()), Some(String::new()), None]
    );
    raw.close().await;
    db.finish().await;
}
