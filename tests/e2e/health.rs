//! `/healthz` fails when the database cannot take a write, and recovers with it: on SQLite while
//! another process holds the write lock, on PostgreSQL while the database is read-only (as a
//! replica after a fail-over would be).

use crate::harness::{postgres, spawn_app, spawn_app_with, TestOptions};
use sqlx::Connection as _;

#[tokio::test]
async fn healthz_fails_while_sqlite_cannot_be_written() {
    let app = spawn_app().await;
    assert_eq!(app.healthz_until(200).await, "ok");
    // Root ignores file permissions, so the write is blocked the way another process would
    // block it: by holding SQLite's write lock.
    let mut other = sqlx::SqliteConnection::connect(&app.settings.storage.url)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let body = app.healthz_until(503).await;
    assert!(body.starts_with("database: "), "{body}");
    assert_eq!(body.lines().count(), 1, "only the database fails: {body}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(app.healthz_until(200).await, "ok");
    other.close().await.unwrap();
    app.stop().await;
}

/// The database name at the end of a PostgreSQL URL.
fn database_name(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// Makes `database` read-only (or writable again) for every connection, closing the ones open.
async fn set_read_only(server: &str, database: &str, read_only: bool) {
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
    let setting = if read_only { "on" } else { "off" };
    sqlx::query(&format!(
        "ALTER DATABASE {database} SET default_transaction_read_only = {setting}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
}

#[tokio::test]
async fn healthz_fails_while_postgres_is_read_only() {
    let (Some(backend), Some(server)) = (postgres(), rallybot_storage::scratch::postgres_server())
    else {
        return;
    };
    let app = spawn_app_with(TestOptions {
        backend,
        ..Default::default()
    })
    .await;
    assert_eq!(app.healthz_until(200).await, "ok");
    let database = database_name(&app.settings.storage.url);
    set_read_only(&server, &database, true).await;
    let body = app.healthz_until(503).await;
    assert!(body.starts_with("database: "), "{body}");
    set_read_only(&server, &database, false).await;
    assert_eq!(app.healthz_until(200).await, "ok");
    app.stop().await;
}
