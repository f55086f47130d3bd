//! Opening storage from a URL: backends by scheme, in-memory SQLite, files created on first
//! use and kept across reopening, migrations that can run twice.

use chrono::{TimeZone, Utc};
use rallybot_handlers::store::TokenRecord;
use rallybot_storage::{Backend, StorageError};

fn token() -> TokenRecord {
    TokenRecord {
        token: "t".to_owned(),
        expires_at: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
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
