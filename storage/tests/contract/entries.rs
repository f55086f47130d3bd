//! Entries: code allocation, duplicate links, review, lookups and counts.

use rallybot_handlers::store::{EntrantKind, Resubmission, ReviewStatus, StoreError};

use crate::fixtures::{approval, approved, approved_votes, at, day, submission, vote, Shared};
use crate::scoring::reading;

pub async fn codes_are_allocated_per_track_in_order(store: Shared) {
    let first = store
        .submit_entry(&submission(
            "votes",
            "A",
            "zhangsan",
            "https://a.example/1",
            at(10),
        ))
        .await
        .unwrap();
    let second = store
        .submit_entry(&submission(
            "votes",
            "A",
            "lisi",
            "https://a.example/2",
            at(20),
        ))
        .await
        .unwrap();
    let other_track = store
        .submit_entry(&submission(
            "likes",
            "B",
            "zhangsan",
            "https://a.example/1",
            at(30),
        ))
        .await
        .unwrap();
    assert_eq!(first.code, "A0001");
    assert_eq!(second.code, "A0002");
    assert_eq!(other_track.code, "B0001");

    assert_eq!(first.track, "votes");
    assert_eq!(first.entrant_kind, EntrantKind::Member);
    assert_eq!(first.entrant_id, "zhangsan");
    assert_eq!(first.submitter, "zhangsan");
    assert_eq!(first.union_code, "U1");
    assert_eq!(first.link, "https://a.example/1");
    assert_eq!(first.title, "title of https://a.example/1");
    assert_eq!(first.status, ReviewStatus::Pending);
    assert_eq!(first.submitted_at, at(10));
    assert_eq!(first.score, 0);
    assert_eq!(first.score_reached_at, None);
    assert_eq!(first.reviewed_at, None);

    // Lookups are case-insensitive and return what was submitted.
    assert_eq!(store.entry("a0002").await.unwrap(), Some(second.clone()));
    assert_eq!(store.entry("A0002").await.unwrap(), Some(second));
    assert_eq!(store.entry("A0003").await.unwrap(), None);
}

pub async fn a_link_enters_a_track_once(store: Shared) {
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "zhangsan",
            "https://a.example/1",
            at(10),
        ))
        .await
        .unwrap();
    let error = store
        .submit_entry(&submission(
            "votes",
            "A",
            "lisi",
            "https://a.example/1",
            at(20),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::DuplicateLink { ref code } if code == "A0001"),
        "{error:?}"
    );
    // The refused submission did not use up a number.
    let next = store
        .submit_entry(&submission(
            "votes",
            "A",
            "lisi",
            "https://a.example/2",
            at(30),
        ))
        .await
        .unwrap();
    assert_eq!(next.code, "A0002");
    assert_eq!(store.entries_of("lisi").await.unwrap().len(), 1);
}

/// Variants of one article's link, none of which is another work.
const VARIANTS: &[&str] = &[
    "http://mp.weixin.qq.com/s/Auyufp-tU1Ue",
    "https://mp.weixin.qq.com./s/Auyufp-tU1Ue",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue#",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue#wechat_redirect",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue?",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue?from=timeline&isappinstalled=0",
    "https://mp.weixin.qq.com/s/Auyufp-tU1Ue/",
    "https://mp.weixin.qq.com//s/Auyufp-tU1Ue",
    "https://mp.weixin.qq.com/s/%41uyufp-tU1Ue",
];

pub async fn variants_of_a_link_enter_a_track_once(store: Shared) {
    let article = "https://mp.weixin.qq.com/s/Auyufp-tU1Ue";
    let first = store
        .submit_entry(&submission("votes", "A", "zhangsan", article, at(10)))
        .await
        .unwrap();
    assert_eq!(first.link, article);
    for (n, variant) in VARIANTS.iter().enumerate() {
        let error = store
            .submit_entry(&submission(
                "votes",
                "A",
                &format!("user{n}"),
                variant,
                at(20),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::DuplicateLink { ref code } if *code == first.code),
            "{variant}: {error:?}"
        );
    }
    // A variant entered first is the one named, and kept as typed.
    let typed = "http://example.org/news//17/?from=timeline#top";
    let other = store
        .submit_entry(&submission("votes", "A", "lisi", typed, at(30)))
        .await
        .unwrap();
    assert_eq!(other.link, typed);
    assert_eq!(store.entry(&other.code).await.unwrap().unwrap().link, typed);
    let error = store
        .submit_entry(&submission(
            "votes",
            "A",
            "wangwu",
            "https://example.org/news/17",
            at(40),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::DuplicateLink { ref code } if *code == other.code),
        "{error:?}"
    );
    // Different articles are different entries, and the same one in another track is fine.
    for (n, different) in [
        "https://mp.weixin.qq.com/s/Auyufp-tU1Uf",
        "https://mp.weixin.qq.com/s/auyufp-tu1ue",
        "https://example.org/news/18",
        "https://example.org/news/17?page=2",
    ]
    .iter()
    .enumerate()
    {
        store
            .submit_entry(&submission(
                "votes",
                "A",
                &format!("other{n}"),
                different,
                at(50),
            ))
            .await
            .unwrap_or_else(|e| panic!("{different}: {e:?}"));
    }
    let elsewhere = store
        .submit_entry(&submission("likes", "B", "zhangsan", VARIANTS[0], at(60)))
        .await
        .unwrap();
    assert_eq!(elsewhere.code, "B0001");
    // Refusals used up no numbers: A0001, A0002, then the four different articles.
    assert_eq!(
        store.entry("A0006").await.unwrap().unwrap().link,
        "https://example.org/news/17?page=2"
    );
    assert!(store.entry("A0007").await.unwrap().is_none());
    // Linkless reading entries never collide with each other.
    store
        .add_reading(&reading("reader1", 30, 0, 70))
        .await
        .unwrap();
    store
        .add_reading(&reading("reader2", 30, 0, 70))
        .await
        .unwrap();
}

pub async fn entries_created_approved_rank_at_once(store: Shared) {
    let mut new = submission("points", "R", "zhangsan", "https://a.example/r", at(10));
    new.status = ReviewStatus::Approved;
    let entry = store.submit_entry(&new).await.unwrap();
    assert_eq!(entry.status, ReviewStatus::Approved);
    assert_eq!(entry.score_reached_at, Some(at(10)));
    assert!(store.pending_entries(10).await.unwrap().is_empty());
    let ranked = store
        .rank_of("points", EntrantKind::Member, "zhangsan")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ranked.place, 1);
    assert_eq!(ranked.entry, entry);
}

pub async fn pending_entries_come_oldest_first(store: Shared) {
    for (n, secs) in [(1, 30), (2, 10), (3, 20), (4, 40)] {
        store
            .submit_entry(&submission(
                "votes",
                "A",
                &format!("user{n}"),
                &format!("https://a.example/{n}"),
                at(secs),
            ))
            .await
            .unwrap();
    }
    store
        .review_entry(&approval("A0003", at(50)))
        .await
        .unwrap();
    let pending = store.pending_entries(2).await.unwrap();
    let codes: Vec<_> = pending.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["A0002", "A0001"]);
    let all = store.pending_entries(10).await.unwrap();
    let codes: Vec<_> = all.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["A0002", "A0001", "A0004"]);
}

pub async fn review_approves_or_rejects(store: Shared) {
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "zhangsan",
            "https://a.example/1",
            at(10),
        ))
        .await
        .unwrap();
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "lisi",
            "https://a.example/2",
            at(20),
        ))
        .await
        .unwrap();

    let reviewed = store
        .review_entry(&approval("a0001", at(100)))
        .await
        .unwrap();
    assert!(reviewed.changed);
    let approved = reviewed.entry;
    assert_eq!(approved.status, ReviewStatus::Approved);
    assert_eq!(approved.reviewer.as_deref(), Some("reviewer"));
    assert_eq!(approved.reviewed_at, Some(at(100)));
    assert_eq!(approved.score_reached_at, Some(at(100)));
    assert_eq!(store.entry("A0001").await.unwrap(), Some(approved));

    let mut rejection = approval("A0002", at(200));
    rejection.approve = false;
    rejection.reason = Some("链接无法打开".to_owned());
    let rejected = store.review_entry(&rejection).await.unwrap().entry;
    assert_eq!(rejected.status, ReviewStatus::Rejected);
    assert_eq!(rejected.reason.as_deref(), Some("链接无法打开"));
    assert_eq!(rejected.score_reached_at, None);
    assert_eq!(store.entry("A0002").await.unwrap(), Some(rejected));

    let ranking = store.ranking("votes").await.unwrap();
    let codes: Vec<_> = ranking.iter().map(|r| r.entry.code.as_str()).collect();
    assert_eq!(codes, ["A0001"]);
    assert_eq!(
        store
            .rank_of("votes", EntrantKind::Member, "lisi")
            .await
            .unwrap(),
        None
    );

    let error = store
        .review_entry(&approval("A0099", at(300)))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NoSuchEntry), "{error:?}");
}

/// A second approval (another message) changes nothing, the ranking time included.
pub async fn approving_twice_changes_nothing(store: Shared) {
    approved(
        &store,
        "votes",
        "A",
        "zhangsan",
        "https://a.example/1",
        at(10),
    )
    .await;
    let again = store
        .review_entry(&approval("A0001", at(500)))
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.entry.score_reached_at, Some(at(10)));
    assert_eq!(again.entry.reviewed_at, Some(at(10)));
    assert_eq!(store.entry("A0001").await.unwrap(), Some(again.entry));
    assert_eq!(store.ranking("votes").await.unwrap().len(), 1);
}

pub async fn entries_of_lists_submitted_and_entered_newest_first(store: Shared) {
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "zhangsan",
            "https://a.example/1",
            at(10),
        ))
        .await
        .unwrap();
    let mut for_unit = submission("units", "C", "U7", "https://a.example/u", at(20));
    for_unit.entrant_kind = EntrantKind::Unit;
    for_unit.submitter = "zhangsan".to_owned();
    for_unit.union_code = "U7".to_owned();
    store.submit_entry(&for_unit).await.unwrap();
    store
        .submit_entry(&submission(
            "votes",
            "A",
            "lisi",
            "https://a.example/2",
            at(30),
        ))
        .await
        .unwrap();

    let mine = store.entries_of("zhangsan").await.unwrap();
    let codes: Vec<_> = mine.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["C0001", "A0001"]);
    let unit = store.entries_of("U7").await.unwrap();
    assert_eq!(unit.len(), 1);
    assert_eq!(unit[0].entrant_kind, EntrantKind::Unit);
    assert!(store.entries_of("nobody").await.unwrap().is_empty());
}

pub async fn approved_entries_are_counted_per_union(store: Shared) {
    for (n, union_code) in [(1, "U1"), (2, "U2"), (3, "U1"), (4, "U1")] {
        let mut new = submission(
            "votes",
            "A",
            &format!("user{n}"),
            &format!("https://a.example/{n}"),
            at(n),
        );
        new.union_code = union_code.to_owned();
        store.submit_entry(&new).await.unwrap();
    }
    for code in ["A0001", "A0002", "A0003"] {
        store.review_entry(&approval(code, at(100))).await.unwrap();
    }
    assert_eq!(
        store.approved_entries_by_union("votes").await.unwrap(),
        vec![("U1".to_owned(), 2), ("U2".to_owned(), 1)]
    );
    assert!(store
        .approved_entries_by_union("likes")
        .await
        .unwrap()
        .is_empty());
}

/// Rejecting an approved entry keeps its gives in the ledger, marked with when and why;
/// approving it again clears the mark. Other entries' gives are untouched.
pub async fn gives_to_a_withdrawn_entry_stay_marked(store: Shared) {
    let entries = approved_votes(&store, 2, at(0)).await;
    store
        .give(&vote("fan1", &entries[0].code, 3, day(0), at(10)))
        .await
        .unwrap();
    store
        .give(&vote("fan2", &entries[0].code, 2, day(0), at(20)))
        .await
        .unwrap();
    store
        .give(&vote("fan1", &entries[1].code, 1, day(0), at(30)))
        .await
        .unwrap();
    let mut rejection = approval(&entries[0].code, at(100));
    rejection.approve = false;
    rejection.reason = Some("与已获奖作品重复".to_owned());
    let rejected = store.review_entry(&rejection).await.unwrap();
    assert!(rejected.changed);
    assert_eq!(rejected.entry.status, ReviewStatus::Rejected);

    let ledger = store.ledger_page(0, 100, None).await.unwrap();
    assert_eq!(ledger.len(), 3, "nothing is deleted: {ledger:?}");
    for give in &ledger {
        if give.entry_code == entries[0].code {
            assert_eq!(
                give.withdrawn,
                Some((at(100), "与已获奖作品重复".to_owned())),
                "{give:?}"
            );
        } else {
            assert_eq!(give.withdrawn, None, "{give:?}");
        }
    }
    store
        .review_entry(&approval(&entries[0].code, at(200)))
        .await
        .unwrap();
    let ledger = store.ledger_page(0, 100, None).await.unwrap();
    assert!(ledger.iter().all(|g| g.withdrawn.is_none()), "{ledger:?}");
}

/// A rejected entry goes back to pending under its code; anything else is not reopened.
pub async fn a_rejected_entry_can_be_submitted_again(store: Shared) {
    let entry = store
        .submit_entry(&submission(
            "votes",
            "A",
            "lisi",
            "https://a.example/1",
            at(0),
        ))
        .await
        .unwrap();
    let again = |key: &str| Resubmission {
        code: entry.code.to_lowercase(),
        link: "https://a.example/1/".to_owned(),
        title: "修改后的标题".to_owned(),
        now: at(300),
        callback_key: key.to_owned(),
    };
    // Pending: nothing to reopen.
    assert_eq!(store.resubmit_entry(&again("k0")).await.unwrap(), None);
    let mut rejection = approval(&entry.code, at(100));
    rejection.approve = false;
    rejection.reason = Some("链接无法打开".to_owned());
    store.review_entry(&rejection).await.unwrap();

    let reopened = store.resubmit_entry(&again("k1")).await.unwrap().unwrap();
    assert_eq!(reopened.code, entry.code);
    assert_eq!(reopened.status, ReviewStatus::Pending);
    assert_eq!(reopened.reason, None);
    assert_eq!(reopened.title, "修改后的标题");
    assert_eq!(reopened.link, "https://a.example/1/");
    assert_eq!(reopened.submitted_at, at(300));
    assert_eq!(
        store.entry(&entry.code).await.unwrap(),
        Some(reopened.clone())
    );
    let pending = store.pending_entries(10).await.unwrap();
    assert_eq!(pending, vec![reopened.clone()]);
    // The retry of that message gets the same answer; another message finds it pending.
    assert_eq!(
        store.resubmit_entry(&again("k1")).await.unwrap(),
        Some(reopened)
    );
    assert_eq!(store.resubmit_entry(&again("k2")).await.unwrap(), None);
    assert_eq!(
        store
            .resubmit_entry(&Resubmission {
                code: "A0099".to_owned(),
                ..again("k3")
            })
            .await
            .unwrap(),
        None
    );
}
