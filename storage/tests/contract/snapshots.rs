//! Frozen results: a snapshot is stored once per stage, track and version, a changed one is
//! the next version (the old one stays as it was), and the frozen places read back with their
//! entries but the scores they were frozen with.

use rallybot_handlers::store::{FrozenPlace, NewSnapshot};

use crate::fixtures::{approved_votes, at, day, vote, Shared};

fn place(place: u64, code: &str, score: i64, zone: &str) -> FrozenPlace {
    FrozenPlace {
        place,
        code: code.to_owned(),
        score,
        doubtful: 0,
        zone: zone.to_owned(),
    }
}

fn snapshot(track: &str, hash: &str, places: Vec<FrozenPlace>) -> NewSnapshot {
    NewSnapshot {
        stage: "vote".to_owned(),
        track: track.to_owned(),
        cutoff: at(100),
        frozen_at: at(110),
        ledger_rows: 7,
        last_ledger_id: 9,
        hash: hash.to_owned(),
        places,
    }
}

pub async fn a_changed_snapshot_is_a_new_version_never_an_edit(store: Shared) {
    let first = snapshot(
        "votes",
        "aaaa",
        vec![place(1, "A0002", 5, "一等奖"), place(2, "A0001", 2, "")],
    );
    let head = store.freeze_results(&first).await.unwrap().unwrap();
    assert_eq!(head.version, 1);
    assert_eq!(
        (
            head.cutoff,
            head.frozen_at,
            head.ledger_rows,
            head.last_ledger_id
        ),
        (at(100), at(110), 7, 9)
    );
    assert_eq!(head.hash, "aaaa");
    // Nothing changed: nothing stored.
    assert_eq!(store.freeze_results(&first).await.unwrap(), None);

    let second = snapshot("votes", "bbbb", vec![place(1, "A0002", 5, "一等奖")]);
    let next = store.freeze_results(&second).await.unwrap().unwrap();
    assert_eq!(next.version, 2);
    assert_ne!(next.id, head.id);
    // Another track counts its own versions.
    let other = store
        .freeze_results(&snapshot("likes", "aaaa", Vec::new()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.version, 1);

    let heads = store.snapshots(Some("votes")).await.unwrap();
    assert_eq!(heads, vec![head.clone(), next.clone()]);
    assert_eq!(store.snapshots(None).await.unwrap().len(), 3);
    assert_eq!(
        store.snapshot_places(head.id).await.unwrap(),
        first.places,
        "the first version is kept as it was"
    );
    assert_eq!(store.snapshot_places(next.id).await.unwrap(), second.places);
    assert!(store.snapshot_places(9_999).await.unwrap().is_empty());
}

pub async fn frozen_rankings_keep_the_frozen_places_and_scores(store: Shared) {
    let entries = approved_votes(&store, 2, at(0)).await;
    let today = day(0);
    store
        .give(&vote("m1", &entries[1].code, 3, today, at(1)))
        .await
        .unwrap();
    let frozen = snapshot(
        "votes",
        "cccc",
        vec![
            place(1, &entries[1].code, 3, "一等奖"),
            place(2, &entries[0].code, 0, ""),
        ],
    );
    let head = store.freeze_results(&frozen).await.unwrap().unwrap();
    // Votes after the freeze move the live ranking, not the frozen one.
    store
        .give(&vote("m2", &entries[0].code, 5, today, at(2)))
        .await
        .unwrap();
    assert_eq!(
        store.top("votes", 1).await.unwrap()[0].entry.code,
        entries[0].code
    );

    let ranked = store.frozen_ranking(head.id, None).await.unwrap();
    let seen: Vec<(u64, &str, i64)> = ranked
        .iter()
        .map(|r| (r.place, r.entry.code.as_str(), r.entry.score))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, entries[1].code.as_str(), 3),
            (2, entries[0].code.as_str(), 0)
        ]
    );
    assert_eq!(ranked[0].entry.title, entries[1].title);
    let first = store.frozen_ranking(head.id, Some(1)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].place, 1);
}
