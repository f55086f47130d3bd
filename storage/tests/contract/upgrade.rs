//! Upgrading a database that holds data: entries stored before links were compared by key
//! (migration 0005) get their keys, variants entered before stay, and nothing else changes.

use rallybot_handlers::store::{ReviewStatus, StoreError};

use crate::fixtures::{approval, at, submission};
use crate::harness::{Kind, Old};
use crate::scoring::reading;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn link_keys_are_filled_in_on_sqlite() {
    entries_before_link_keys_get_them(Old::sqlite(4).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn link_keys_are_filled_in_on_postgres() {
    if let Some(old) = Old::postgres(4).await {
        entries_before_link_keys_get_them(old).await;
    }
}

/// Entries as the release before 0005 stored them: links as typed (serialised by `url`), the
/// same article twice in `votes` under two variants, the same link in another track, and a
/// linkless reading entry.
fn entries_of_release_four(kind: Kind) -> String {
    let rows = [
        (
            "A0001",
            "votes",
            Some("https://mp.weixin.qq.com/s/Auyufp-tU1Ue"),
            "approved",
            1,
        ),
        (
            "A0002",
            "votes",
            Some("http://mp.weixin.qq.com/s/Auyufp-tU1Ue/"),
            "pending",
            2,
        ),
        (
            "A0003",
            "votes",
            Some("https://example.org/a?from=timeline"),
            "pending",
            3,
        ),
        (
            "A0004",
            "votes",
            Some("https://example.org/b"),
            "approved",
            4,
        ),
        (
            "B0001",
            "likes",
            Some("https://mp.weixin.qq.com/s/Auyufp-tU1Ue"),
            "pending",
            5,
        ),
        ("R0001", "reading", None, "approved", 6),
    ];
    let mut sql = String::from(
        "INSERT INTO code_sequences (prefix, last) VALUES ('A', 4), ('B', 1), ('R', 1);\n",
    );
    for (code, track, link, status, secs) in rows {
        let time = match kind {
            Kind::Sqlite => at(secs).timestamp_millis().to_string(),
            Kind::Postgres => format!("TIMESTAMPTZ '{}'", at(secs).to_rfc3339()),
        };
        let link = link.map_or_else(|| "NULL".to_owned(), |l| format!("'{l}'"));
        let reached = if status == "approved" {
            time.clone()
        } else {
            "NULL".to_owned()
        };
        sql.push_str(&format!(
            "INSERT INTO entries (code, track, entrant_kind, entrant_id, submitter, union_code, \
             link, title, status, submitted_at, score, score_reached_at) VALUES \
             ('{code}', '{track}', 'member', 'author-{code}', 'author-{code}', 'U1', {link}, \
             'title of {code}', '{status}', {time}, 0, {reached});\n"
        ));
    }
    sql
}

async fn entries_before_link_keys_get_them(old: Old) {
    old.raw()
        .execute(&entries_of_release_four(old.raw().kind()))
        .await;
    let (db, raw) = old.upgrade().await;
    let store = db.store();

    let keys = raw
        .pairs("SELECT code, link_key FROM entries ORDER BY code")
        .await;
    let short = "https://mp.weixin.qq.com/s/Auyufp-tU1Ue";
    assert_eq!(
        keys,
        [
            ("A0001".to_owned(), Some(short.to_owned())),
            // The earlier entry of the same article has its key; this one keeps its place.
            ("A0002".to_owned(), Some(format!("{short} A0002"))),
            ("A0003".to_owned(), Some("https://example.org/a".to_owned())),
            ("A0004".to_owned(), Some("https://example.org/b".to_owned())),
            ("B0001".to_owned(), Some(short.to_owned())),
            ("R0001".to_owned(), None),
        ]
    );
    // Links are shown as they were typed.
    let a2 = store.entry("A0002").await.unwrap().unwrap();
    assert_eq!(a2.link, "http://mp.weixin.qq.com/s/Auyufp-tU1Ue/");

    // New variants are refused, naming the entry that has the key.
    let cases = [
        (
            "votes",
            "A",
            "https://mp.weixin.qq.com/s/Auyufp-tU1Ue#rd",
            "A0001",
        ),
        (
            "votes",
            "A",
            "http://mp.weixin.qq.com/s/Auyufp-tU1Ue/",
            "A0001",
        ),
        ("votes", "A", "https://example.org/a", "A0003"),
        (
            "likes",
            "B",
            "https://mp.weixin.qq.com/s/Auyufp-tU1Ue?scene=1",
            "B0001",
        ),
    ];
    for (track, prefix, link, holder) in cases {
        let error = store
            .submit_entry(&submission(track, prefix, "newcomer", link, at(10)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::DuplicateLink { ref code } if code == holder),
            "{link}: {error:?}"
        );
    }
    let next = store
        .submit_entry(&submission(
            "votes",
            "A",
            "newcomer",
            "https://example.org/c",
            at(11),
        ))
        .await
        .unwrap();
    assert_eq!(next.code, "A0005");

    // The entry kept from before works as any other; so do reading entries.
    let approved = store
        .review_entry(&approval("A0002", at(12)))
        .await
        .unwrap();
    assert_eq!(approved.entry.status, ReviewStatus::Approved);
    let existing = store
        .add_reading(&reading("author-R0001", 40, 0, 13))
        .await
        .unwrap();
    assert_eq!(existing.entry_code, "R0001");
    let newcomer = store
        .add_reading(&reading("new-reader", 40, 0, 14))
        .await
        .unwrap();
    assert_eq!(newcomer.entry_code, "R0002");

    // Opening again finds nothing left to fill in and changes no key.
    let again = rallybot_storage::connect(&db.target().url).await.unwrap();
    again.migrate().await.unwrap();
    again.close().await;
    let after = raw
        .pairs(
            "SELECT code, link_key FROM entries \
             WHERE code IN ('A0001', 'A0002', 'A0003', 'A0004', 'B0001', 'R0001') ORDER BY code",
        )
        .await;
    assert_eq!(after, keys);
    raw.close().await;
    db.finish().await;
}
