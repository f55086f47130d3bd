//! Votes, likes, views and reading points: daily limits, day boundaries, usage.

use rallybot_handlers::store::{DailyLimit, EntrantKind, Reading, StoreError, UsageRow};

use crate::fixtures::{approved, approved_votes, at, day, like, submission, vote, Shared};

pub async fn votes_are_capped_per_entry_per_day(store: Shared) {
    approved_votes(&store, 2, at(0)).await;

    let first = store
        .give(&vote("voter", "A0001", 3, day(0), at(10)))
        .await
        .unwrap();
    assert_eq!(
        (first.granted, first.used_today, first.entry_score),
        (3, 3, 3)
    );
    let second = store
        .give(&vote("voter", "a0001", 3, day(0), at(20)))
        .await
        .unwrap();
    assert_eq!(
        (second.granted, second.used_today, second.entry_score),
        (2, 5, 5)
    );
    let third = store
        .give(&vote("voter", "A0001", 1, day(0), at(30)))
        .await
        .unwrap();
    assert_eq!(
        (third.granted, third.used_today, third.entry_score),
        (0, 5, 5)
    );

    // Another entry has a limit of its own; another voter too.
    let other_entry = store
        .give(&vote("voter", "A0002", 5, day(0), at(40)))
        .await
        .unwrap();
    assert_eq!((other_entry.granted, other_entry.entry_score), (5, 5));
    let other_voter = store
        .give(&vote("voter2", "A0001", 9, day(0), at(50)))
        .await
        .unwrap();
    assert_eq!(
        (
            other_voter.granted,
            other_voter.used_today,
            other_voter.entry_score
        ),
        (5, 5, 10)
    );

    let entry = store.entry("A0001").await.unwrap().unwrap();
    assert_eq!(entry.score, 10);
    assert_eq!(entry.score_reached_at, Some(at(50)));
}

pub async fn a_counted_give_is_audited_in_the_same_write(store: Shared) {
    approved_votes(&store, 1, at(0)).await;
    let before = store.audit_log(0, 1000).await.unwrap().len();
    store
        .give(&vote("voter", "A0001", 4, day(0), at(10)))
        .await
        .unwrap();
    // No such entry: nothing is audited.
    store
        .give(&like("voter", "Z9999", day(0), at(20)))
        .await
        .unwrap_err();
    // The limit is reached: nothing is counted, nothing is audited.
    store
        .give(&vote("voter", "A0001", 2, day(0), at(30)))
        .await
        .unwrap();
    store
        .give(&vote("voter", "A0001", 1, day(0), at(40)))
        .await
        .unwrap();
    let log = store.audit_log(0, 1000).await.unwrap();
    let gives: Vec<_> = log[before..]
        .iter()
        .map(|(_, e)| {
            (
                e.at,
                e.actor.as_str(),
                e.action.as_str(),
                e.subject.as_str(),
                e.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        gives,
        vec![
            (at(10), "voter", "vote", "A0001", "granted=4 used_today=4"),
            (at(30), "voter", "vote", "A0001", "granted=1 used_today=5"),
        ]
    );
}

pub async fn a_refused_give_leaves_the_score_time_alone(store: Shared) {
    approved(
        &store,
        "votes",
        "A",
        "author1",
        "https://a.example/1",
        at(0),
    )
    .await;
    store
        .give(&vote("voter", "A0001", 5, day(0), at(10)))
        .await
        .unwrap();
    let refused = store
        .give(&vote("voter", "A0001", 1, day(0), at(99)))
        .await
        .unwrap();
    assert_eq!(refused.granted, 0);
    let entry = store.entry("A0001").await.unwrap().unwrap();
    assert_eq!(entry.score_reached_at, Some(at(10)));
}

pub async fn likes_are_capped_per_member_per_track_per_day(store: Shared) {
    for n in 1..=3 {
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
    let a = store
        .give(&like("fan", "B0001", day(0), at(10)))
        .await
        .unwrap();
    let b = store
        .give(&like("fan", "B0002", day(0), at(11)))
        .await
        .unwrap();
    let c = store
        .give(&like("fan", "B0003", day(0), at(12)))
        .await
        .unwrap();
    let d = store
        .give(&like("fan", "B0001", day(0), at(13)))
        .await
        .unwrap();
    assert_eq!([a.granted, b.granted, c.granted, d.granted], [1, 1, 1, 0]);
    assert_eq!(
        [a.used_today, b.used_today, c.used_today, d.used_today],
        [1, 2, 3, 3]
    );
    assert_eq!(d.entry_score, 1);
    assert_eq!(
        store.usage("fan", day(0)).await.unwrap(),
        vec![UsageRow {
            track: "likes".to_owned(),
            entry_code: String::new(),
            used: 3
        }]
    );
}

pub async fn a_new_day_resets_the_limits(store: Shared) {
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
        "likes",
        "B",
        "author2",
        "https://b.example/1",
        at(0),
    )
    .await;
    store
        .give(&vote("voter", "A0001", 5, day(0), at(10)))
        .await
        .unwrap();
    for _ in 0..3 {
        store
            .give(&like("voter", "B0001", day(0), at(10)))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .give(&vote("voter", "A0001", 1, day(0), at(20)))
            .await
            .unwrap()
            .granted,
        0
    );
    assert_eq!(
        store
            .give(&like("voter", "B0001", day(0), at(20)))
            .await
            .unwrap()
            .granted,
        0
    );

    let next_vote = store
        .give(&vote("voter", "A0001", 5, day(1), at(86_400)))
        .await
        .unwrap();
    assert_eq!(
        (
            next_vote.granted,
            next_vote.used_today,
            next_vote.entry_score
        ),
        (5, 5, 10)
    );
    let next_like = store
        .give(&like("voter", "B0001", day(1), at(86_400)))
        .await
        .unwrap();
    assert_eq!(
        (
            next_like.granted,
            next_like.used_today,
            next_like.entry_score
        ),
        (1, 1, 4)
    );
    assert_eq!(store.usage("voter", day(0)).await.unwrap().len(), 2);
}

pub async fn gives_need_an_existing_approved_entry(store: Shared) {
    let error = store
        .give(&vote("voter", "A0001", 1, day(0), at(10)))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NoSuchEntry), "{error:?}");

    store
        .submit_entry(&submission(
            "votes",
            "A",
            "author",
            "https://a.example/1",
            at(0),
        ))
        .await
        .unwrap();
    let error = store
        .give(&vote("voter", "A0001", 1, day(0), at(10)))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotApproved), "{error:?}");

    let mut rejection = crate::fixtures::approval("A0001", at(20));
    rejection.approve = false;
    store.review_entry(&rejection).await.unwrap();
    let error = store
        .give(&vote("voter", "A0001", 1, day(0), at(30)))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotApproved), "{error:?}");
    // A refused give is not charged to the day's limit.
    assert!(store.usage("voter", day(0)).await.unwrap().is_empty());
}

pub async fn usage_lists_what_was_used_today(store: Shared) {
    approved_votes(&store, 2, at(0)).await;
    approved(
        &store,
        "views",
        "V",
        "author3",
        "https://v.example/1",
        at(0),
    )
    .await;
    store
        .give(&vote("voter", "A0002", 2, day(0), at(10)))
        .await
        .unwrap();
    store
        .give(&vote("voter", "A0001", 4, day(0), at(10)))
        .await
        .unwrap();
    let mut view = vote("voter", "V0001", 1, day(0), at(10));
    view.track = "views".to_owned();
    view.limit = DailyLimit::PerWorkPerDay(3);
    store.give(&view).await.unwrap();
    store
        .give(&vote("voter", "A0001", 1, day(1), at(90_000)))
        .await
        .unwrap();
    store
        .give(&vote("someone", "A0001", 1, day(0), at(10)))
        .await
        .unwrap();

    let row = |track: &str, code: &str, used| UsageRow {
        track: track.to_owned(),
        entry_code: code.to_owned(),
        used,
    };
    assert_eq!(
        store.usage("voter", day(0)).await.unwrap(),
        vec![
            row("views", "V0001", 1),
            row("votes", "A0001", 4),
            row("votes", "A0002", 2)
        ]
    );
    assert_eq!(
        store.usage("voter", day(1)).await.unwrap(),
        vec![row("votes", "A0001", 1)]
    );
    assert!(store.usage("voter", day(2)).await.unwrap().is_empty());
}

pub fn reading(member: &str, minutes: u32, n: u64, secs: i64) -> Reading {
    Reading {
        track: "reading".to_owned(),
        code_prefix: "R".to_owned(),
        member: member.to_owned(),
        union_code: "U5".to_owned(),
        minutes,
        bands: vec![(30, 5), (60, 8), (120, 10)],
        day: day(n),
        now: crate::fixtures::at(secs),
        callback_key: crate::fixtures::fresh_key(),
    }
}

pub async fn reading_minutes_become_points(store: Shared) {
    let first = store
        .add_reading(&reading("reader", 20, 0, 10))
        .await
        .unwrap();
    assert_eq!(first.entry_code, "R0001");
    assert_eq!(
        (first.minutes_today, first.points_today, first.total_points),
        (20, 0, 0)
    );

    // The first report created the member's approved entry, ranked at once.
    let entry = store.entry("R0001").await.unwrap().unwrap();
    assert_eq!(entry.track, "reading");
    assert_eq!(entry.entrant_id, "reader");
    assert_eq!(entry.submitter, "reader");
    assert_eq!(entry.union_code, "U5");
    assert_eq!(
        entry.status,
        rallybot_handlers::store::ReviewStatus::Approved
    );
    assert_eq!(entry.score_reached_at, Some(at(10)));

    let second = store
        .add_reading(&reading("reader", 15, 0, 20))
        .await
        .unwrap();
    assert_eq!(
        (
            second.minutes_today,
            second.points_today,
            second.total_points
        ),
        (35, 5, 5)
    );
    let third = store
        .add_reading(&reading("reader", 30, 0, 30))
        .await
        .unwrap();
    assert_eq!(
        (third.minutes_today, third.points_today, third.total_points),
        (65, 8, 8)
    );
    let fourth = store
        .add_reading(&reading("reader", 10, 0, 40))
        .await
        .unwrap();
    assert_eq!(
        (
            fourth.minutes_today,
            fourth.points_today,
            fourth.total_points
        ),
        (75, 8, 8)
    );

    // A new day starts from zero minutes and adds to the total.
    let next_day = store
        .add_reading(&reading("reader", 150, 1, 90_000))
        .await
        .unwrap();
    assert_eq!(next_day.entry_code, "R0001");
    assert_eq!(
        (
            next_day.minutes_today,
            next_day.points_today,
            next_day.total_points
        ),
        (150, 10, 18)
    );

    let other = store
        .add_reading(&reading("other", 30, 1, 90_010))
        .await
        .unwrap();
    assert_eq!(other.entry_code, "R0002");

    let entry = store.entry("R0001").await.unwrap().unwrap();
    assert_eq!(entry.score, 18);
    assert_eq!(entry.score_reached_at, Some(at(90_000)));
    let ranked = store
        .rank_of("reading", EntrantKind::Member, "reader")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ranked.place, 1);
    let ranked = store
        .rank_of("reading", EntrantKind::Member, "other")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ranked.place, ranked.entry.score), (2, 5));
    assert_eq!(
        store.approved_entries_by_union("reading").await.unwrap(),
        vec![("U5".to_owned(), 2)]
    );
}
