//! Opening storage from a URL: backends by scheme, in-memory SQLite, files created on first
//! use and kept across reopening, migrations that can run twice.

use chrono::{TimeZone, Utc};
use rallybot_handlers::link::Link;
use rallybot_handlers::store::{DailyLimit, EntrantKind, Give, NewEntry, ReviewStatus};
use rallybot_storage::{Backend, StorageError, TokenRecord};

fn token() -> TokenRecord {
    TokenRecord {
        token: "t".to_owned(),
        expires_at: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
    }
}

fn approved_entry() -> NewEntry {
    NewEntry {
        track: "votes".to_owned(),
        code_prefix: "A".to_owned(),
        entrant_kind: EntrantKind::Member,
        entrant_id: "author".to_owned(),
        submitter: "author".to_owned(),
        union_code: "U1".to_owned(),
        link: Link::parse("https://a.example/1").expect("a valid link"),
        title: "title".to_owned(),
        status: ReviewStatus::Approved,
        now: token().expires_at,
        callback_key: "submit".to_owned(),
    }
}

fn one_vote(voter: &str, code: &str) -> Give {
    Give {
        track: "votes".to_owned(),
        member: voter.to_owned(),
        entry_code: code.to_owned(),
        amount: 1,
        limit: DailyLimit::PerWorkPerDay(5),
        day: token().expires_at.date_naive(),
        now: token().expires_at,
        action: "vote".to_owned(),
        callback_key: format!("vote/{voter}/{code}"),
    }
}

#[tokio::test]
async fn an_in_memory_database_keeps_its_data_for_the_store_lifetime() {
    let store = rallybot_storage::open("sqlite::memory:").await.unwrap();
    store.save_token("app", &token()).await.unwrap();
    // Reads go through the same single connection, so they see the write.
    for _ in 0..10 {
        assert_eq!(store.load_token("app").await.unwrap(), Some(token()));
    }
}

#[tokio::test]
async fn a_database_file_is_created_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let url = format!("sqlite://{}", path.display());
    let backend = rallybot_storage::connect(&url).await.unwrap();
    assert_eq!(backend.kind(), "sqlite");
    assert!(matches!(backend, Backend::Sqlite(_)));
    assert!(path.exists());
    backend.migrate().await.unwrap();
    backend.store().save_token("app", &token()).await.unwrap();
    backend.close().await;

    let again = rallybot_storage::connect(&url).await.unwrap();
    // Migrating an up-to-date database changes nothing.
    again.migrate().await.unwrap();
    assert_eq!(
        again.store().load_token("app").await.unwrap(),
        Some(token())
    );
    again.close().await;
}

#[tokio::test]
async fn unknown_schemes_are_refused_without_echoing_the_url() {
    let error = rallybot_storage::connect("mysql://user:secret@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::UnsupportedUrl(ref scheme) if scheme == "mysql"));
    assert!(!error.to_string().contains("secret"));
}

/// Two stores on one file stand for two processes (the server and a command-line tool): their
/// writers contend for the file lock, and neither caller ever sees "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_both_write() {
    let scratch = rallybot_storage::scratch::Scratch::sqlite().unwrap();
    let first = rallybot_storage::open(scratch.url()).await.unwrap();
    let second = rallybot_storage::open(scratch.url()).await.unwrap();
    let entry = first.submit_entry(&approved_entry()).await.unwrap();
    let mut writers = Vec::new();
    for n in 0..40 {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let code = entry.code.clone();
        writers.push(tokio::spawn(async move {
            for m in 0..10 {
                let job = format!("job-{n}-{m}");
                store.set_job_mark(&job, token().expires_at).await?;
                store.save_token(&job, &token()).await?;
                store.give(&one_vote(&job, &code)).await?;
            }
            Ok::<_, rallybot_handlers::store::StoreError>(())
        }));
    }
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(second.entry(&entry.code).await.unwrap().unwrap().score, 400);
    for n in 0..40 {
        assert!(second
            .job_mark(&format!("job-{n}-9"))
            .await
            .unwrap()
            .is_some());
        assert!(first
            .load_token(&format!("job-{n}-9"))
            .await
            .unwrap()
            .is_some());
    }
}
