//! Limits, codes, registrations and claims under many simultaneous requests.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use rallybot_handlers::store::{
    AuditEvent, DialogueRecord, EntrantKind, RegisterOutcome, StoreError,
};

use crate::fixtures::{
    approved, at, day, fresh_key, like, member, submission, vote, Shared, Whole,
};

/// Runs `count` copies of `task` at once and collects their results in order.
async fn together<T, F, Fut>(count: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..count).map(|n| tokio::spawn(task(n))).collect();
    join_all(handles)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

pub async fn two_hundred_single_votes_count_five(store: Shared) {
    approved(&store, "votes", "A", "author", "https://a.example/1", at(0)).await;
    let outcomes = together(200, |n| {
        let store = store.clone();
        async move {
            store
                .give(&vote("voter", "A0001", 1, day(0), at(n as i64)))
                .await
        }
    })
    .await;
    let granted: u32 = outcomes.iter().map(|o| o.as_ref().unwrap().granted).sum();
    assert_eq!(granted, 5);
    assert!(outcomes.iter().all(|o| o.as_ref().unwrap().used_today <= 5));
    assert_eq!(store.entry("A0001").await.unwrap().unwrap().score, 5);
    assert_eq!(store.usage("voter", day(0)).await.unwrap()[0].used, 5);
}

pub async fn two_hundred_likes_count_three(store: Shared) {
    for n in 1..=4 {
        approved(
            &store,
            "likes",
            "B",
            &format!("author{n}"),
            &format!("https://b.example/{n}"),
            at(0),
        )
        .await;
    }
    let outcomes = together(200, |n| {
        let store = store.clone();
        let code = format!("B{:04}", n % 4 + 1);
        async move { store.give(&like("fan", &code, day(0), at(1))).await }
    })
    .await;
    let granted: u32 = outcomes.iter().map(|o| o.as_ref().unwrap().granted).sum();
    assert_eq!(granted, 3);
    let mut total = 0;
    for n in 1..=4 {
        total += store
            .entry(&format!("B{n:04}"))
            .await
            .unwrap()
            .unwrap()
            .score;
    }
    assert_eq!(total, 3);
}

pub async fn one_id_number_races_to_one_registration(store: Shared) {
    let outcomes = together(20, |n| {
        let store = store.clone();
        async move {
            store
                .register_member(
                    &member(&format!("user{n}"), "same-hash", "U1"),
                    &fresh_key(),
                )
                .await
        }
    })
    .await;
    let registered = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(RegisterOutcome::Registered)))
        .count();
    let taken = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::IdNumberTaken)))
        .count();
    assert_eq!((registered, taken), (1, 19), "{outcomes:?}");
    assert_eq!(
        store.registrations_by_union().await.unwrap(),
        vec![("U1".to_owned(), 1)]
    );

    // The same person registering twice at once: one registration, the rest updates.
    let outcomes = together(10, |_| {
        let store = store.clone();
        async move {
            store
                .register_member(&member("twice", "hash-twice", "U2"), &fresh_key())
                .await
        }
    })
    .await;
    let registered = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(RegisterOutcome::Registered)))
        .count();
    let updated = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(RegisterOutcome::Updated)))
        .count();
    assert_eq!((registered, updated), (1, 9), "{outcomes:?}");
}

pub async fn concurrent_submissions_get_distinct_codes(store: Shared) {
    let outcomes = together(100, |n| {
        let store = store.clone();
        async move {
            store
                .submit_entry(&submission(
                    "votes",
                    "A",
                    &format!("user{n}"),
                    &format!("https://a.example/{n}"),
                    at(0),
                ))
                .await
        }
    })
    .await;
    let codes: BTreeSet<String> = outcomes.into_iter().map(|o| o.unwrap().code).collect();
    let expected: BTreeSet<String> = (1..=100).map(|n| format!("A{n:04}")).collect();
    assert_eq!(codes, expected);
}

pub async fn the_same_link_raced_enters_once(store: Shared) {
    let outcomes = together(20, |n| {
        let store = store.clone();
        async move {
            store
                .submit_entry(&submission(
                    "votes",
                    "A",
                    &format!("user{n}"),
                    "https://a.example/same",
                    at(0),
                ))
                .await
        }
    })
    .await;
    let entered = outcomes.iter().filter(|o| o.is_ok()).count();
    let duplicates = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::DuplicateLink { code }) if code == "A0001"))
        .count();
    assert_eq!((entered, duplicates), (1, 19));
    assert_eq!(outcomes.iter().flatten().next().unwrap().code, "A0001");
}

/// Every kind of write at once: none may fail with a busy or locked database.
pub async fn many_concurrent_writers_all_succeed(store: Whole) {
    let domain: Shared = store.clone();
    approved(
        &domain,
        "votes",
        "A",
        "author",
        "https://a.example/0",
        at(0),
    )
    .await;
    let outcomes = together(64, |n| {
        let store = store.clone();
        async move {
            let user = format!("user{n}");
            store
                .register_member(&member(&user, &format!("hash-{n}"), "U1"), &fresh_key())
                .await?;
            store
                .submit_entry(&submission(
                    "votes",
                    "A",
                    &user,
                    &format!("https://a.example/{}", n + 1),
                    at(1),
                ))
                .await?;
            store.give(&vote(&user, "A0001", 2, day(0), at(2))).await?;
            let event = AuditEvent {
                at: at(3),
                actor: user.clone(),
                action: "report".to_owned(),
                subject: "A0001".to_owned(),
                detail: String::new(),
                callback_key: Some(fresh_key()),
            };
            store.audit(&event).await?;
            let answered = [(format!("cb-{n}"), "ok".to_owned())];
            store.record_callback_replies(&answered, at(4)).await?;
            let dialogue = DialogueRecord {
                chat: "chat".to_owned(),
                user: user.clone(),
                state: "{}".to_owned(),
                updated_at: at(5),
                callback_key: String::new(),
                reply: String::new(),
            };
            store.save_dialogue(&dialogue).await?;
            store
                .enqueue_push(&crate::outbox::push(&format!("push-{n}"), 0))
                .await?;
            store.try_lease("scheduler", &user, at(6), at(36)).await?;
            Ok::<_, StoreError>(())
        }
    })
    .await;
    for outcome in &outcomes {
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    assert_eq!(store.entry("A0001").await.unwrap().unwrap().score, 128);
    // Each user's counted vote is audited by the give, then once more explicitly.
    assert_eq!(store.audit_log(0, 1000).await.unwrap().len(), 128);
    assert_eq!(store.pushes(None, 1000).await.unwrap().len(), 64);
    let users: Vec<String> = (0..64).map(|n| format!("user{n}")).collect();
    assert_eq!(store.members_by_userid(&users).await.unwrap().len(), 64);
    for user in &users {
        assert!(
            store.dialogue("chat", user).await.unwrap().is_some(),
            "{user}"
        );
    }
}

pub async fn concurrent_claimers_never_share_a_push(store: Whole) {
    for n in 0..120 {
        store
            .enqueue_push(&crate::outbox::push(&format!("push-{n}"), n % 7))
            .await
            .unwrap();
    }
    let batches = together(4, |_| {
        let store = store.clone();
        async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_pushes(at(100), at(160), 7).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|p| p.id));
            }
        }
    })
    .await;
    let all: Vec<i64> = batches.into_iter().flatten().collect();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 120, "a push was claimed twice or not at all");
    assert_eq!(distinct.len(), 120);
}

/// Many voters on many entries at once: scores add up and the places stay exact.
pub async fn crowd_voting_keeps_scores_and_places_exact(store: Shared) {
    for n in 1..=12 {
        approved(
            &store,
            "votes",
            "A",
            &format!("author{}", n % 8),
            &format!("https://a.example/{n}"),
            at(0),
        )
        .await;
    }
    let outcomes = together(400, |n| {
        let store = store.clone();
        let code = format!("A{:04}", n % 12 + 1);
        let voter = format!("voter{}", n % 37);
        let amount = (n % 3 + 1) as u32;
        async move {
            let outcome = store
                .give(&vote(&voter, &code, amount, day(0), at((n / 10) as i64)))
                .await;
            (code, outcome.unwrap().granted)
        }
    })
    .await;
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for (code, granted) in outcomes {
        *expected.entry(code).or_default() += i64::from(granted);
    }
    for (code, score) in &expected {
        assert_eq!(
            store.entry(code).await.unwrap().unwrap().score,
            *score,
            "{code}"
        );
    }
    let ranking = store.ranking("votes").await.unwrap();
    assert_eq!(ranking.len(), 8);
    for window in ranking.windows(2) {
        let (a, b) = (&window[0].entry, &window[1].entry);
        assert!((-a.score, a.score_reached_at, &a.code) < (-b.score, b.score_reached_at, &b.code));
    }
    for ranked in &ranking {
        let own = store
            .rank_of("votes", EntrantKind::Member, &ranked.entry.entrant_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(own.place, ranked.place);
    }
}

/// Gives that are refused travel in the same batches as gives that count, without harming
/// them.
pub async fn refused_gives_amid_a_crowd_refuse_alone(store: Shared) {
    approved(&store, "votes", "A", "author", "https://a.example/1", at(0)).await;
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "pending",
            "https://a.example/2",
            at(0),
        ))
        .await
        .unwrap();
    let outcomes = together(90, |n| {
        let store = store.clone();
        let code = ["A0001", "A0002", "A0099"][n % 3].to_owned();
        let voter = format!("voter{n}");
        async move {
            (
                code.clone(),
                store.give(&vote(&voter, &code, 1, day(0), at(1))).await,
            )
        }
    })
    .await;
    for (code, outcome) in outcomes {
        match code.as_str() {
            "A0001" => assert_eq!(outcome.unwrap().granted, 1),
            "A0002" => assert!(
                matches!(outcome, Err(StoreError::NotApproved)),
                "{outcome:?}"
            ),
            _ => assert!(
                matches!(outcome, Err(StoreError::NoSuchEntry)),
                "{outcome:?}"
            ),
        }
    }
    assert_eq!(store.entry("A0001").await.unwrap().unwrap().score, 30);
    assert_eq!(store.entry("A0002").await.unwrap().unwrap().score, 0);
}
