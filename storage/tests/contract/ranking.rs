//! The ranking: best entry per entrant, order by score, then the earlier time the score was
//! reached, then code; `top`, `rank_of` and `ranking` agree.

use std::collections::BTreeMap;

use rallybot_handlers::store::{EntrantKind, EntryRecord, ReviewStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fixtures::{approval, approved, approved_votes, at, day, submission, vote, Shared};

fn codes(ranked: &[rallybot_handlers::store::Ranked]) -> Vec<(u64, String)> {
    ranked
        .iter()
        .map(|r| (r.place, r.entry.code.clone()))
        .collect()
}

fn expected(places: &[(u64, &str)]) -> Vec<(u64, String)> {
    places.iter().map(|(p, c)| (*p, (*c).to_owned())).collect()
}

pub async fn ties_go_to_the_earlier_time_then_the_code(store: Shared) {
    approved_votes(&store, 2, at(0)).await;
    approved(
        &store,
        "votes",
        "A",
        "author3",
        "https://a.example/3",
        at(5),
    )
    .await;
    approved(
        &store,
        "votes",
        "A",
        "author4",
        "https://a.example/4",
        at(5),
    )
    .await;
    store
        .give(&vote("v1", "A0002", 3, day(0), at(10)))
        .await
        .unwrap();
    store
        .give(&vote("v1", "A0001", 3, day(0), at(20)))
        .await
        .unwrap();

    let ranking = store.ranking("votes").await.unwrap();
    assert_eq!(
        codes(&ranking),
        expected(&[(1, "A0002"), (2, "A0001"), (3, "A0003"), (4, "A0004")])
    );
    assert_eq!(ranking[0].entry.score, 3);
    assert_eq!(ranking[0].entry.score_reached_at, Some(at(10)));
    assert_eq!(
        codes(&store.top("votes", 2).await.unwrap()),
        expected(&[(1, "A0002"), (2, "A0001")])
    );
    for (entrant, place) in [
        ("author2", 1),
        ("author1", 2),
        ("author3", 3),
        ("author4", 4),
    ] {
        let ranked = store
            .rank_of("votes", EntrantKind::Member, entrant)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ranked.place, place, "{entrant}");
        assert_eq!(ranked.entry.entrant_id, entrant);
    }

    // Overtaking: author1 goes ahead with a higher score, reached later.
    store
        .give(&vote("v2", "A0001", 1, day(0), at(30)))
        .await
        .unwrap();
    assert_eq!(
        codes(&store.top("votes", 10).await.unwrap()),
        expected(&[(1, "A0001"), (2, "A0002"), (3, "A0003"), (4, "A0004")])
    );
    assert!(store.top("other", 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .rank_of("votes", EntrantKind::Member, "nobody")
            .await
            .unwrap(),
        None
    );
}

pub async fn only_the_best_entry_of_an_entrant_ranks(store: Shared) {
    approved_votes(&store, 2, at(0)).await;
    let second = store
        .submit_entry(&submission(
            "votes",
            "A",
            "author1",
            "https://a.example/3",
            at(1),
        ))
        .await
        .unwrap();
    store
        .give(&vote("v1", "A0001", 3, day(0), at(10)))
        .await
        .unwrap();
    store
        .give(&vote("v1", "A0002", 2, day(0), at(10)))
        .await
        .unwrap();
    store
        .review_entry(&approval(&second.code, at(20)))
        .await
        .unwrap();
    store
        .give(&vote("v1", "A0003", 1, day(0), at(30)))
        .await
        .unwrap();
    assert_eq!(
        codes(&store.ranking("votes").await.unwrap()),
        expected(&[(1, "A0001"), (2, "A0002")])
    );

    // The second entry overtakes the first and replaces it.
    store
        .give(&vote("v2", "A0003", 5, day(0), at(40)))
        .await
        .unwrap();
    assert_eq!(
        codes(&store.ranking("votes").await.unwrap()),
        expected(&[(1, "A0003"), (2, "A0002")])
    );
    let ranked = store
        .rank_of("votes", EntrantKind::Member, "author1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ranked.place, ranked.entry.code.as_str(), ranked.entry.score),
        (1, "A0003", 6)
    );

    // Rejecting it puts the entrant's next best back in its place.
    let mut rejection = approval("A0003", at(50));
    rejection.approve = false;
    store.review_entry(&rejection).await.unwrap();
    assert_eq!(
        codes(&store.ranking("votes").await.unwrap()),
        expected(&[(1, "A0001"), (2, "A0002")])
    );
    let ranked = store
        .rank_of("votes", EntrantKind::Member, "author1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ranked.place, ranked.entry.code.as_str()), (1, "A0001"));
}

pub async fn units_rank_like_members(store: Shared) {
    for (n, unit) in [(1, "U1"), (2, "U2")] {
        let mut new = submission("units", "C", unit, &format!("https://c.example/{n}"), at(0));
        new.entrant_kind = EntrantKind::Unit;
        new.submitter = "officer".to_owned();
        let entry = store.submit_entry(&new).await.unwrap();
        store
            .review_entry(&approval(&entry.code, at(0)))
            .await
            .unwrap();
    }
    let mut give = vote("v1", "C0002", 2, day(0), at(10));
    give.track = "units".to_owned();
    store.give(&give).await.unwrap();
    let ranked = store
        .rank_of("units", EntrantKind::Unit, "U2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ranked.place, ranked.entry.entrant_kind),
        (1, EntrantKind::Unit)
    );
    assert_eq!(
        store
            .rank_of("units", EntrantKind::Member, "U2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .rank_of("units", EntrantKind::Unit, "U1")
            .await
            .unwrap()
            .unwrap()
            .place,
        2
    );
}

/// A random campaign: `ranking`, `top` and `rank_of` all agree with the order computed here
/// from the entries themselves.
pub async fn places_agree_with_a_recomputed_order(store: Shared) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut codes_made = Vec::new();
    for n in 0..60 {
        let entrant = format!("author{}", n % 25);
        let secs = rng.gen_range(0..5);
        let entry = approved(
            &store,
            "votes",
            "A",
            &entrant,
            &format!("https://a.example/{n}"),
            at(secs),
        )
        .await;
        codes_made.push(entry.code);
    }
    for n in 0..400 {
        let code = &codes_made[rng.gen_range(0..codes_made.len())];
        let voter = format!("voter{}", rng.gen_range(0..40));
        // Several gives share a time, so ties on both score and time happen.
        let secs = 10 + n / 4;
        store
            .give(&vote(&voter, code, rng.gen_range(1..=3), day(0), at(secs)))
            .await
            .unwrap();
    }

    let mut best: BTreeMap<String, EntryRecord> = BTreeMap::new();
    for code in &codes_made {
        let entry = store.entry(code).await.unwrap().unwrap();
        assert_eq!(entry.status, ReviewStatus::Approved);
        let key = entry.entrant_id.clone();
        let better = match best.get(&key) {
            None => true,
            Some(current) => order_key(&entry) < order_key(current),
        };
        if better {
            best.insert(key, entry);
        }
    }
    let mut order: Vec<EntryRecord> = best.into_values().collect();
    order.sort_by_key(order_key);

    let ranking = store.ranking("votes").await.unwrap();
    assert_eq!(ranking.len(), order.len());
    for (ranked, (place, entry)) in ranking
        .iter()
        .zip(order.iter().zip(1u64..))
        .map(|(r, (e, p))| (r, (p, e)))
    {
        assert_eq!((ranked.place, &ranked.entry), (place, entry));
        let own = store
            .rank_of("votes", EntrantKind::Member, &entry.entrant_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((own.place, &own.entry), (place, entry));
    }
    let top = store.top("votes", 10).await.unwrap();
    assert_eq!(top.as_slice(), &ranking[..10]);
}

fn order_key(entry: &EntryRecord) -> (i64, Option<rallybot_handlers::store::Timestamp>, String) {
    (-entry.score, entry.score_reached_at, entry.code.clone())
}
