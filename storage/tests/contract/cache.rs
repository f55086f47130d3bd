//! Reads through a serving store: on SQLite they are cached, and every write forgets what it
//! changes, so a read after a write is fresh and a read racing a write never keeps a stale
//! value; on PostgreSQL nothing is cached and the same holds trivially.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rallybot_handlers::store::{DialogueRecord, EntrantKind, Review, StandingAsk};

use crate::fixtures::{approval, approved, at, day, fresh_key, member, submission, vote, Shared};
use crate::scoring::reading;

fn ask(track: &str, entrant: &str) -> StandingAsk {
    StandingAsk {
        track: track.to_owned(),
        kind: EntrantKind::Member,
        entrant: entrant.to_owned(),
        marks: vec![1],
    }
}

/// (place, score) of each asked entrant.
async fn places(store: &Shared, asks: &[StandingAsk]) -> Vec<Option<(u64, i64)>> {
    store
        .standings(asks)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.ranked.map(|r| (r.place, r.entry.score)))
        .collect()
}

/// (code, score) of the top `n` of a track.
async fn leaders(store: &Shared, track: &str, n: u32) -> Vec<(String, i64)> {
    store
        .top(track, n)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.entry.code, r.entry.score))
        .collect()
}

pub async fn a_member_read_after_registering_is_fresh(store: Shared) {
    assert_eq!(store.member("zhangsan").await.unwrap(), None);
    store
        .register_member(&member("zhangsan", "hash-1", "U1"), &fresh_key())
        .await
        .unwrap();
    let first = store.member("zhangsan").await.unwrap().unwrap();
    assert_eq!(first.union_code, "U1");
    let mut moved = member("zhangsan", "hash-1", "U2");
    moved.name = "张三".to_owned();
    store.register_member(&moved, &fresh_key()).await.unwrap();
    assert_eq!(store.member("zhangsan").await.unwrap(), Some(moved));
}

pub async fn a_dialogue_read_after_saving_or_clearing_is_fresh(store: Shared) {
    let step = |state: &str, secs| DialogueRecord {
        chat: "chat".to_owned(),
        user: "zhangsan".to_owned(),
        state: state.to_owned(),
        updated_at: at(secs),
        callback_key: String::new(),
        reply: String::new(),
    };
    assert_eq!(store.dialogue("chat", "zhangsan").await.unwrap(), None);
    store.save_dialogue(&step("name", 1)).await.unwrap();
    assert_eq!(
        store.dialogue("chat", "zhangsan").await.unwrap(),
        Some(step("name", 1))
    );
    store.save_dialogue(&step("phone", 2)).await.unwrap();
    assert_eq!(
        store.dialogue("chat", "zhangsan").await.unwrap(),
        Some(step("phone", 2))
    );
    store.clear_dialogue("chat", "zhangsan").await.unwrap();
    assert_eq!(store.dialogue("chat", "zhangsan").await.unwrap(), None);
}

pub async fn standings_and_top_follow_gives_readings_and_reviews(store: Shared) {
    let a1 = approved(&store, "votes", "A", "zhang", "https://a.example/1", at(0)).await;
    let a2 = approved(&store, "votes", "A", "li", "https://a.example/2", at(0)).await;
    let asks = [ask("votes", "li"), ask("reading", "wang")];
    assert_eq!(places(&store, &asks).await, [Some((2, 0)), None]);
    assert_eq!(
        leaders(&store, "votes", 2).await,
        [(a1.code.clone(), 0), (a2.code.clone(), 0)]
    );

    // A give moves li ahead.
    store
        .give(&vote("v1", &a2.code, 2, day(0), at(10)))
        .await
        .unwrap();
    assert_eq!(places(&store, &asks).await, [Some((1, 2)), None]);
    assert_eq!(
        leaders(&store, "votes", 2).await,
        [(a2.code.clone(), 2), (a1.code.clone(), 0)]
    );

    // A reading creates wang's entry in the reading track and scores it.
    assert!(leaders(&store, "reading", 5).await.is_empty());
    store
        .add_reading(&reading("wang", 30, 0, 20))
        .await
        .unwrap();
    assert_eq!(places(&store, &asks).await, [Some((1, 2)), Some((1, 5))]);
    assert_eq!(
        leaders(&store, "reading", 5).await,
        [("R0001".to_owned(), 5)]
    );

    // An approval puts a new entry in the ranking; a rejection takes li's out.
    let pending = store
        .submit_entry(&submission(
            "votes",
            "A",
            "zhao",
            "https://a.example/3",
            at(30),
        ))
        .await
        .unwrap();
    assert_eq!(leaders(&store, "votes", 5).await.len(), 2);
    store
        .review_entry(&approval(&pending.code, at(31)))
        .await
        .unwrap();
    assert_eq!(leaders(&store, "votes", 5).await.len(), 3);
    let rejection = Review {
        code: a2.code.clone(),
        approve: false,
        reason: Some("重复".to_owned()),
        reviewer: "reviewer".to_owned(),
        now: at(40),
        callback_key: fresh_key(),
    };
    store.review_entry(&rejection).await.unwrap();
    assert_eq!(places(&store, &asks).await, [None, Some((1, 5))]);
    assert_eq!(
        leaders(&store, "votes", 5).await,
        [(a1.code.clone(), 0), (pending.code.clone(), 0)]
    );
}

/// Readers keep reading while one writer changes the values one step at a time; after each
/// step the writer reads its own writes back. A read that started before a write and finished
/// after it must not leave its older value behind for the next reader.
pub async fn reads_racing_writes_never_keep_a_stale_value(store: Shared) {
    const STEPS: u32 = 300;
    let entry = approved(&store, "votes", "A", "zhang", "https://a.example/1", at(0)).await;
    let asks = [ask("votes", "zhang")];
    let writing = Arc::new(AtomicBool::new(true));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let store = store.clone();
        let writing = writing.clone();
        let asks = asks.clone();
        readers.push(tokio::spawn(async move {
            while writing.load(Ordering::SeqCst) {
                store.member("zhangsan").await.unwrap();
                store.dialogue("chat", "zhangsan").await.unwrap();
                store.standings(&asks).await.unwrap();
                store.top("votes", 3).await.unwrap();
                // Cached reads never wait: give the other tasks their turn.
                tokio::task::yield_now().await;
            }
        }));
    }
    for step in 1..=STEPS {
        let name = format!("step {step}");
        let mut changed = member("zhangsan", "hash-1", "U1");
        changed.name = name.clone();
        store.register_member(&changed, &fresh_key()).await.unwrap();
        let dialogue = DialogueRecord {
            chat: "chat".to_owned(),
            user: "zhangsan".to_owned(),
            state: name.clone(),
            updated_at: at(i64::from(step)),
            callback_key: String::new(),
            reply: String::new(),
        };
        store.save_dialogue(&dialogue).await.unwrap();
        // A different voter each step, so no daily limit is reached.
        let voter = format!("voter{step}");
        let counted = store
            .give(&vote(&voter, &entry.code, 1, day(0), at(i64::from(step))))
            .await
            .unwrap();
        assert_eq!(counted.granted, 1);

        let score = i64::from(step);
        assert_eq!(store.member("zhangsan").await.unwrap().unwrap().name, name);
        assert_eq!(
            store.dialogue("chat", "zhangsan").await.unwrap(),
            Some(dialogue)
        );
        assert_eq!(places(&store, &asks).await, [Some((1, score))], "{name}");
        assert_eq!(
            leaders(&store, "votes", 3).await,
            [(entry.code.clone(), score)],
            "{name}"
        );
    }
    writing.store(false, Ordering::SeqCst);
    for reader in readers {
        reader.await.unwrap();
    }
}
