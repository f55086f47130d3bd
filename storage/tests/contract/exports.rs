//! What the organizers' exports read: members in batches, and the ledger in keyset pages with
//! the message behind each counted give.

use rallybot_handlers::store::Reading;

use crate::fixtures::{approved_votes, at, day, fresh_key, member, vote, Shared};

pub async fn members_are_read_by_userid_in_batches(store: Shared) {
    for (userid, hash) in [("m1", "h1"), ("m2", "h2"), ("m3", "h3")] {
        store
            .register_member(&member(userid, hash, "U1"), &fresh_key())
            .await
            .unwrap();
    }
    assert!(store.members_by_userid(&[]).await.unwrap().is_empty());
    let asked = ["m3".to_owned(), "nobody".to_owned(), "m1".to_owned()];
    let mut found = store.members_by_userid(&asked).await.unwrap();
    found.sort_by(|a, b| a.userid.cmp(&b.userid));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0], member("m1", "h1", "U1"));
    assert_eq!(found[1].userid, "m3");
    assert_eq!(found[1].phone_enc, "ciphertext-m3");
}

pub async fn the_ledger_reads_in_keyset_pages_with_the_message_of_each_give(store: Shared) {
    approved_votes(&store, 2, at(0)).await;
    let mut expected = Vec::new();
    for (voter, code, amount, secs) in [
        ("v1", "A0001", 2, 10),
        ("v2", "A0002", 5, 20),
        ("v1", "A0001", 3, 30),
        // The limit is reached: nothing is counted, nothing is in the ledger.
        ("v1", "A0001", 1, 40),
        ("v3", "A0001", 1, 50),
    ] {
        let give = vote(voter, code, amount, day(0), at(secs));
        let granted = store.give(&give).await.unwrap().granted;
        if granted > 0 {
            expected.push((
                voter.to_owned(),
                code.to_owned(),
                i64::from(granted),
                at(secs),
                give.callback_key.clone(),
            ));
        }
    }
    let reading_key = fresh_key();
    let reading = store
        .add_reading(&Reading {
            track: "reading".to_owned(),
            code_prefix: "R".to_owned(),
            member: "v1".to_owned(),
            union_code: "U1".to_owned(),
            minutes: 45,
            bands: vec![(30, 5), (60, 8)],
            day: day(0),
            now: at(60),
            callback_key: reading_key.clone(),
        })
        .await
        .unwrap();

    // Pages of two, each after the last id of the one before.
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let page = store.ledger_page(after, 2, None).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.id;
        rows.extend(page);
    }
    assert_eq!(rows.len(), 5);
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    let votes: Vec<_> = rows
        .iter()
        .filter(|r| r.track == "votes")
        .map(|r| {
            (
                r.member.clone(),
                r.entry_code.clone(),
                r.amount,
                r.at,
                r.callback_key.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(votes, expected);
    let read = rows.last().unwrap();
    assert_eq!(
        (read.track.as_str(), read.entry_code.as_str(), read.amount),
        ("reading", reading.entry_code.as_str(), 5)
    );
    assert_eq!(read.callback_key.as_deref(), Some(reading_key.as_str()));

    // One track only.
    let only = store.ledger_page(0, 100, Some("reading")).await.unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].id, read.id);
    let tail = store
        .ledger_page(rows[2].id, 100, Some("votes"))
        .await
        .unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].id, rows[3].id);
}
