//! Frozen results: a snapshot is stored once per stage, track and version, a changed one is
//! the next version (the old one stays as it was), and the frozen places read back with their
//! entries but the scores they were frozen with; a snapshot found current again notes the
//! inputs it is current for; the inputs a freeze pass compares move with every write that can
//! change a track's frozen results, and only with those; and the approved entries a snapshot
//! is worked out from are listed whole, each once, however votes move the ranking meanwhile.

use rallybot_handlers::store::{
    FlagDecision, FlagScope, FrozenPlace, NewFlag, NewSnapshot, Resubmission, ResultInputs, Review,
    ReviewStatus, SignalKind,
};

use crate::fixtures::{
    approved, approved_votes, at, day, fresh_key, like, submission, vote, Shared,
};

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
        inputs: format!("inputs of {hash}"),
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
    assert_eq!(head.inputs.as_deref(), Some("inputs of aaaa"));
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
    // The same standings found again from other inputs: nothing stored, but the latest
    // version notes them (and only it).
    let mut again = second.clone();
    again.inputs = "newer inputs".to_owned();
    assert_eq!(store.freeze_results(&again).await.unwrap(), None);
    let heads = store.snapshots(Some("votes")).await.unwrap();
    assert_eq!(heads[0], head);
    assert_eq!(heads[1].inputs.as_deref(), Some("newer inputs"));
    assert_eq!(
        (heads[1].id, heads[1].version, &heads[1].hash),
        (next.id, 2, &next.hash)
    );
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

/// The codes `approved_entries` lists for `track`.
async fn approved_codes(store: &Shared, track: &str) -> Vec<String> {
    store
        .approved_entries(track)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.code)
        .collect()
}

pub async fn approved_entries_are_every_approved_entry_of_a_track_ranked_or_not(store: Shared) {
    // author1's A0001 and A0002 (one of them ranks), author2's A0003.
    approved(
        &store,
        "votes",
        "A",
        "author1",
        "https://a.example/1",
        at(0),
    )
    .await;
    approved(
        &store,
        "votes",
        "A",
        "author1",
        "https://a.example/2",
        at(1),
    )
    .await;
    approved(
        &store,
        "votes",
        "A",
        "author2",
        "https://a.example/3",
        at(2),
    )
    .await;
    // Pending and rejected entries, and other tracks', are left out.
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "author1",
            "https://a.example/pending",
            at(3),
        ))
        .await
        .unwrap(); // A0004
    let rejected = approved(
        &store,
        "votes",
        "A",
        "author2",
        "https://a.example/5",
        at(4),
    )
    .await;
    store
        .review_entry(&rejection(&rejected.code, 5))
        .await
        .unwrap();
    approved(
        &store,
        "likes",
        "B",
        "author1",
        "https://b.example/1",
        at(6),
    )
    .await;
    store
        .give(&vote("v1", "A0002", 2, day(0), at(10)))
        .await
        .unwrap();

    let listed = store.approved_entries("votes").await.unwrap();
    let codes: Vec<&str> = listed.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["A0001", "A0002", "A0003"]);
    assert!(listed.iter().all(|e| e.status == ReviewStatus::Approved));
    // With their live scores: what the ranking reads too.
    assert_eq!((listed[0].score, listed[1].score), (0, 2));
    assert_eq!(approved_codes(&store, "likes").await, ["B0001"]);
    assert!(approved_codes(&store, "nothing").await.is_empty());
}

pub async fn approved_entries_read_amid_votes_list_every_entry_once(store: Shared) {
    approved(
        &store,
        "votes",
        "A",
        "author1",
        "https://a.example/1",
        at(0),
    )
    .await;
    approved(
        &store,
        "votes",
        "A",
        "author1",
        "https://a.example/2",
        at(0),
    )
    .await;
    approved(
        &store,
        "votes",
        "A",
        "author2",
        "https://a.example/3",
        at(0),
    )
    .await;
    // Every vote puts the trailing one of author1's two entries ahead: which of them ranks
    // flips with each one, as when a later stage votes in a track frozen earlier.
    let voting = tokio::spawn({
        let store = store.clone();
        async move {
            for n in 0..200 {
                let (code, amount) = match n {
                    0 => ("A0001", 1),
                    n if n % 2 == 1 => ("A0002", 2),
                    _ => ("A0001", 2),
                };
                let give = vote(&format!("v{n}"), code, amount, day(0), at(10 + n));
                assert_eq!(store.give(&give).await.unwrap().granted, amount);
            }
        }
    });
    let mut reads = 0;
    while !voting.is_finished() {
        assert_eq!(
            approved_codes(&store, "votes").await,
            ["A0001", "A0002", "A0003"],
            "read {reads}"
        );
        reads += 1;
    }
    voting.await.unwrap();
    assert_eq!(store.entry("A0002").await.unwrap().unwrap().score, 200);
}

/// Reads the `votes` inputs for a stage ending at `at(100)`.
async fn inputs(store: &Shared) -> ResultInputs {
    store.result_inputs("votes", at(100)).await.unwrap()
}

fn rejection(code: &str, now: i64) -> Review {
    Review {
        code: code.to_owned(),
        approve: false,
        reason: Some("late complaint".to_owned()),
        reviewer: "reviewer".to_owned(),
        now: at(now),
        callback_key: fresh_key(),
    }
}

fn approval_at(code: &str, now: i64) -> Review {
    Review {
        approve: true,
        reason: None,
        ..rejection(code, now)
    }
}

pub async fn result_inputs_move_with_every_write_that_can_change_frozen_results(store: Shared) {
    let empty = ResultInputs {
        ledger_rows: 0,
        last_ledger_id: 0,
        changes: 0,
    };
    assert_eq!(inputs(&store).await, empty, "nothing yet");
    let entries = approved_votes(&store, 2, at(0)).await;
    let (a, b) = (entries[0].code.clone(), entries[1].code.clone());
    let approved_entries = inputs(&store).await;
    assert_eq!(approved_entries.ledger_rows, 0);

    // A give before the cutoff: one more row, a greater id.
    store
        .give(&vote("m1", &a, 2, day(0), at(10)))
        .await
        .unwrap();
    let given = inputs(&store).await;
    assert_eq!(given.ledger_rows, 1);
    assert!(given.last_ledger_id > 0);
    assert_eq!(given.changes, approved_entries.changes);
    // At or after the cutoff, and in another track: nothing that freezes here.
    store
        .give(&vote("m2", &a, 1, day(0), at(100)))
        .await
        .unwrap();
    store
        .give(&vote("m2", &b, 1, day(1), at(200)))
        .await
        .unwrap();
    let likes = approved(
        &store,
        "likes",
        "B",
        "author9",
        "https://b.example/9",
        at(0),
    )
    .await;
    store
        .give(&like("m1", &likes.code, day(0), at(20)))
        .await
        .unwrap();
    assert_eq!(inputs(&store).await, given);
    let likes_inputs = store.result_inputs("likes", at(100)).await.unwrap();
    assert_eq!(likes_inputs.ledger_rows, 1);
    // A give before the cutoff written late (after later ones): counted, whatever its id.
    store
        .give(&vote("m3", &b, 1, day(0), at(50)))
        .await
        .unwrap();
    let late = inputs(&store).await;
    assert_eq!(late.ledger_rows, 2);
    assert!(late.last_ledger_id > given.last_ledger_id);

    // A review that changes nothing changes nothing.
    store.review_entry(&approval_at(&a, 300)).await.unwrap();
    assert_eq!(inputs(&store).await, late);
    // Rejected: its gives withdrawn.
    store.review_entry(&rejection(&a, 300)).await.unwrap();
    let rejected = inputs(&store).await;
    assert!(rejected.changes > late.changes);
    assert_eq!(rejected.ledger_rows, late.ledger_rows);
    // Approved again: the marks cleared.
    store.review_entry(&approval_at(&a, 310)).await.unwrap();
    let approved_again = inputs(&store).await;
    assert!(approved_again.changes > rejected.changes);
    // Rejected and submitted again: back to pending.
    store.review_entry(&rejection(&b, 320)).await.unwrap();
    let before_resubmit = inputs(&store).await;
    let reopened = store
        .resubmit_entry(&Resubmission {
            code: b.clone(),
            link: "https://a.example/2".to_owned(),
            title: "again".to_owned(),
            now: at(330),
            callback_key: fresh_key(),
        })
        .await
        .unwrap();
    assert!(reopened.is_some());
    let resubmitted = inputs(&store).await;
    assert!(resubmitted.changes > before_resubmit.changes);

    // A flag raised on gives of the track, then decided.
    let flag = store
        .raise_flag(&NewFlag {
            track: "votes".to_owned(),
            kind: SignalKind::Burst,
            subject: a.clone(),
            reason: "a burst".to_owned(),
            evidence: "figures".to_owned(),
            scope: FlagScope {
                entries: vec![a.clone()],
                members: Vec::new(),
                from: at(0),
                until: at(1_000),
            },
            now: at(400),
        })
        .await
        .unwrap()
        .unwrap();
    let raised = inputs(&store).await;
    assert!(raised.changes > resubmitted.changes);
    store
        .decide_flag(&FlagDecision {
            id: flag.id,
            valid: true,
            reviewer: "reviewer".to_owned(),
            reason: None,
            now: at(410),
            callback_key: fresh_key(),
        })
        .await
        .unwrap()
        .unwrap();
    let decided = inputs(&store).await;
    assert!(decided.changes > raised.changes);

    // An entry created approved ranks at once.
    let mut created = submission("votes", "A", "author7", "https://a.example/7", at(420));
    created.status = ReviewStatus::Approved;
    store.submit_entry(&created).await.unwrap();
    let created_approved = inputs(&store).await;
    assert!(created_approved.changes > decided.changes);
    // A pending one does not rank: nothing to see.
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "author8",
            "https://a.example/8",
            at(430),
        ))
        .await
        .unwrap();
    assert_eq!(inputs(&store).await, created_approved);

    // None of it was another track's business.
    assert_eq!(
        store.result_inputs("likes", at(100)).await.unwrap(),
        likes_inputs
    );
}
