//! Fair-play flags: raising one takes the gives of its scope that no flag holds out of their
//! entries' scores (疑); an open flag of the same kind and subject takes later gives instead of
//! a second flag; deciding clears (the gives count again) or voids (they stay out) once per
//! message; the ledger and the pass's reads show each give's flag.

use rallybot_handlers::store::{
    FlagDecision, FlagScope, FlagStatus, GiveState, NewFlag, SignalKind, Timestamp,
};

use crate::fixtures::{approved_votes, at, day, fresh_key, member, vote, Shared};

fn flag(kind: SignalKind, subject: &str, entries: &[&str], members: &[&str]) -> NewFlag {
    NewFlag {
        track: "votes".to_owned(),
        kind,
        subject: subject.to_owned(),
        reason: format!("reason for {subject}"),
        evidence: "evidence".to_owned(),
        scope: FlagScope {
            entries: entries.iter().map(|c| (*c).to_owned()).collect(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            from: at(0),
            until: at(1_000),
        },
        now: at(500),
    }
}

fn decision(id: i64, valid: bool, now: Timestamp) -> FlagDecision {
    FlagDecision {
        id,
        valid,
        reviewer: "reviewer".to_owned(),
        reason: Some("checked".to_owned()),
        now,
        callback_key: fresh_key(),
    }
}

/// Voters v1 (unit U2) and v2 (unit U3); A0001 gets 3 from v1 and 2 from v2, A0002 1 from v1.
async fn gives(store: &Shared) {
    for (userid, unit) in [("v1", "U2"), ("v2", "U3")] {
        store
            .register_member(
                &member(userid, &format!("hash-{userid}"), unit),
                &fresh_key(),
            )
            .await
            .unwrap();
    }
    approved_votes(store, 2, at(0)).await;
    for (voter, code, amount, secs) in [
        ("v1", "A0001", 3, 10),
        ("v2", "A0001", 2, 20),
        ("v1", "A0002", 1, 30),
    ] {
        store
            .give(&vote(voter, code, amount, day(0), at(secs)))
            .await
            .unwrap();
    }
}

async fn score(store: &Shared, code: &str) -> i64 {
    store.entry(code).await.unwrap().unwrap().score
}

pub async fn a_flag_takes_its_gives_out_of_the_score_as_doubtful(store: Shared) {
    gives(&store).await;
    assert!(store
        .doubtful(&["A0001".to_owned()])
        .await
        .unwrap()
        .is_empty());
    let raised = store
        .raise_flag(&flag(SignalKind::Fresh, "A0001", &["a0001"], &["v1"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((raised.gives, raised.amount), (1, 3));
    assert_eq!(raised.entries, vec!["A0001".to_owned()]);
    assert_eq!(raised.status, FlagStatus::Open);
    assert_eq!(raised.reason, "reason for A0001");
    assert_eq!(score(&store, "A0001").await, 2);
    assert_eq!(score(&store, "A0002").await, 1);
    let top = store.top("votes", 2).await.unwrap();
    assert_eq!(
        (top[0].entry.code.as_str(), top[0].entry.score),
        ("A0001", 2),
        "the ranking follows"
    );
    let codes = ["A0001".to_owned(), "A0002".to_owned()];
    assert_eq!(
        store.doubtful(&codes).await.unwrap(),
        vec![("A0001".to_owned(), 3)]
    );

    // The same kind and subject: the open flag takes the rest, refreshed.
    let mut more = flag(SignalKind::Fresh, "A0001", &["A0001"], &[]);
    more.reason = "newer reason".to_owned();
    let grown = store.raise_flag(&more).await.unwrap().unwrap();
    assert_eq!(grown.id, raised.id);
    assert_eq!((grown.gives, grown.amount), (2, 5));
    assert_eq!(grown.reason, "newer reason");
    assert_eq!(score(&store, "A0001").await, 0);
    // Nothing left to take: nothing written, whatever the kind.
    assert_eq!(store.raise_flag(&more).await.unwrap(), None);
    let other = flag(SignalKind::Burst, "A0001", &["A0001"], &[]);
    assert_eq!(store.raise_flag(&other).await.unwrap(), None);
    // Outside the scope's time, nothing either.
    let mut late = flag(SignalKind::Burst, "A0002", &["A0002"], &[]);
    late.scope.from = at(31);
    assert_eq!(store.raise_flag(&late).await.unwrap(), None);

    assert_eq!(
        store.flags(Some(FlagStatus::Open), 10).await.unwrap(),
        vec![grown.clone()]
    );
    assert_eq!(store.flag(grown.id).await.unwrap(), Some(grown.clone()));
    assert_eq!(store.flag(9_999).await.unwrap(), None);
    let ledger = store.ledger_page(0, 10, Some("votes")).await.unwrap();
    let states: Vec<Option<GiveState>> = ledger
        .iter()
        .map(|row| row.flag.as_ref().map(|f| f.state(None)))
        .collect();
    assert_eq!(
        states,
        vec![Some(GiveState::Doubtful), Some(GiveState::Doubtful), None]
    );
    let mark = ledger[0].flag.clone().unwrap();
    assert_eq!(
        (mark.id, mark.raised_at, mark.decided),
        (grown.id, at(500), None)
    );
    // Before it was raised, the give counted.
    assert_eq!(mark.state(Some(at(499))), GiveState::Counted);
}

pub async fn deciding_a_flag_clears_or_voids_it_once(store: Shared) {
    gives(&store).await;
    let a = store
        .raise_flag(&flag(SignalKind::Ring, "ring:a", &["A0001"], &[]))
        .await
        .unwrap()
        .unwrap();
    let b = store
        .raise_flag(&flag(SignalKind::Timing, "timing:b", &["A0002"], &[]))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(
        (score(&store, "A0001").await, score(&store, "A0002").await),
        (0, 0)
    );

    let clear = decision(a.id, true, at(600));
    let cleared = store.decide_flag(&clear).await.unwrap().unwrap();
    assert!(cleared.changed);
    assert_eq!(cleared.flag.status, FlagStatus::Cleared);
    let by = cleared.flag.decided.clone().unwrap();
    assert_eq!((by.reviewer.as_str(), by.at), ("reviewer", at(600)));
    assert_eq!(by.reason.as_deref(), Some("checked"));
    assert_eq!(score(&store, "A0001").await, 5);
    // The retry of that message gets its outcome; another decision changes nothing.
    let retry = store.decide_flag(&clear).await.unwrap().unwrap();
    assert!(retry.changed);
    assert_eq!(score(&store, "A0001").await, 5);
    let later = store
        .decide_flag(&decision(a.id, false, at(700)))
        .await
        .unwrap()
        .unwrap();
    assert!(!later.changed);
    assert_eq!(later.flag.status, FlagStatus::Cleared);
    assert_eq!(score(&store, "A0001").await, 5);

    let voided = store
        .decide_flag(&decision(b.id, false, at(650)))
        .await
        .unwrap()
        .unwrap();
    assert!(voided.changed);
    assert_eq!(voided.flag.status, FlagStatus::Void);
    assert_eq!(score(&store, "A0002").await, 0);
    let codes = ["A0001".to_owned(), "A0002".to_owned()];
    assert!(store.doubtful(&codes).await.unwrap().is_empty());
    assert!(store
        .flags(Some(FlagStatus::Open), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.flags(None, 10).await.unwrap().len(), 2);
    assert_eq!(
        store
            .decide_flag(&decision(9_999, true, at(600)))
            .await
            .unwrap(),
        None
    );

    let ledger = store.ledger_page(0, 10, Some("votes")).await.unwrap();
    let states: Vec<GiveState> = ledger
        .iter()
        .map(|row| row.flag.as_ref().unwrap().state(None))
        .collect();
    assert_eq!(
        states,
        vec![GiveState::Counted, GiveState::Counted, GiveState::Void]
    );
    // As of before the decision, the voided give was 疑.
    assert_eq!(
        ledger[2].flag.as_ref().unwrap().state(Some(at(640))),
        GiveState::Doubtful
    );

    // A new give to A0001 under the same signal opens a new flag: the old one is decided.
    store
        .give(&vote("v2", "A0001", 1, day(0), at(40)))
        .await
        .unwrap();
    let again = store
        .raise_flag(&flag(SignalKind::Ring, "ring:a", &["A0001"], &[]))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(again.id, a.id);
    assert_eq!((again.gives, again.amount), (1, 1));
}

pub async fn the_pass_reads_recent_gives_with_voter_and_entrant(store: Shared) {
    gives(&store).await;
    store
        .raise_flag(&flag(SignalKind::Unit, "A0002", &["A0002"], &[]))
        .await
        .unwrap();
    let all = store.vote_rows("votes", (at(0), 0), 10).await.unwrap();
    let seen: Vec<(&str, &str, &str, &str, i64, bool)> = all
        .iter()
        .map(|r| {
            (
                r.member.as_str(),
                r.member_union.as_str(),
                r.entry_code.as_str(),
                r.entrant.as_str(),
                r.amount,
                r.flagged,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("v1", "U2", "A0001", "author1", 3, false),
            ("v2", "U3", "A0001", "author1", 2, false),
            ("v1", "U2", "A0002", "author2", 1, true),
        ]
    );
    assert_eq!(all[0].registered_at, at(0));
    assert_eq!(all[0].entry_union, "U1");
    assert_eq!(all[1].at, at(20));
    // From a time on, and page by page after the last one read.
    let recent = store.vote_rows("votes", (at(20), 0), 10).await.unwrap();
    assert_eq!(recent.len(), 2);
    let mut after = (at(0), 0);
    let mut paged = Vec::new();
    loop {
        let page = store.vote_rows("votes", after, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = (last.at, last.id);
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert!(store
        .vote_rows("likes", (at(0), 0), 10)
        .await
        .unwrap()
        .is_empty());
}
