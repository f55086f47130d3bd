//! `open_for_serving`: an SQLite file is served by one store at a time, until it is closed;
//! PostgreSQL, shared by several instances, takes no lock.

use rallybot_storage::StorageError;

use crate::harness::{Kind, Target};

pub async fn a_database_is_served_once_until_closed(served: Target) {
    // Commands open the database beside a serving process.
    let beside = rallybot_storage::open(&served.url).await.unwrap();
    beside.close().await;

    let second = rallybot_storage::open_for_serving(&served.url).await;
    match served.kind {
        Kind::Sqlite => {
            let refused = second.unwrap_err();
            assert!(
                matches!(refused, StorageError::AlreadyServed { .. }),
                "{refused:?}"
            );
            let message = refused.to_string();
            assert!(
                message.contains("another rallybot process is serving"),
                "{message}"
            );
            assert!(message.contains("rallybot.db"), "{message}");

            served.store.close().await;
            let reopened = rallybot_storage::open_for_serving(&served.url)
                .await
                .unwrap();
            // The reopened store holds the lock in its turn.
            assert!(rallybot_storage::open_for_serving(&served.url)
                .await
                .is_err());
            reopened.close().await;
        }
        Kind::Postgres => {
            let second = second.unwrap();
            second.close().await;
        }
    }
}
