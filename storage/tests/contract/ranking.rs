//! The ranking: best entry per entrant, order by score, then the earlier time the score was
//! reached, then code; `top`, `rank_of`, `ranking` and `standings` agree.

use std::collections::{BTreeMap, HashSet};

use rallybot_handlers::store::{EntrantKind, EntryRecord, Ranked, ReviewStatus, StandingAsk};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
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

/// The tracks of the standings field: (track, code prefix, who enters).
const FIELD_TRACKS: [(&str, &str, EntrantKind); 3] = [
    ("votes", "A", EntrantKind::Member),
    ("stories", "B", EntrantKind::Member),
    ("units", "C", EntrantKind::Unit),
];

/// A random field over three tracks (members and units, several entries per entrant, ties on
/// score and time, pending and rejected entries): `standings` answers every ask exactly as
/// `rank_of` and `top` do, in the order asked: the entrant's place, and the entry at the
/// nearest mark ahead of it.
pub async fn standings_agree_with_rank_of_and_top(store: Shared) {
    let mut rng = StdRng::seed_from_u64(11);
    let mut approved_codes: Vec<(&str, String)> = Vec::new();
    let mut entrants: Vec<(&str, EntrantKind, String)> = Vec::new();
    for (n, (track, prefix, kind)) in (0..90).map(|n| (n, FIELD_TRACKS[n % 3])) {
        let entrant = match kind {
            EntrantKind::Member => format!("author{}", rng.gen_range(0..30)),
            EntrantKind::Unit => format!("U{}", rng.gen_range(0..25)),
        };
        let mut new = submission(
            track,
            prefix,
            &entrant,
            &format!("https://{track}.example/{n}"),
            at(rng.gen_range(0..3)),
        );
        new.entrant_kind = kind;
        let entry = store.submit_entry(&new).await.unwrap();
        entrants.push((track, kind, entrant));
        // Most are approved at a few shared times; some stay pending or are rejected.
        match rng.gen_range(0..10) {
            0 => {}
            1 => {
                let mut rejection = approval(&entry.code, at(4));
                rejection.approve = false;
                store.review_entry(&rejection).await.unwrap();
            }
            _ => {
                store
                    .review_entry(&approval(&entry.code, at(rng.gen_range(3..5))))
                    .await
                    .unwrap();
                approved_codes.push((track, entry.code));
            }
        }
    }
    // Few enough gives that many entrants tie on score and time, broken by the code.
    for n in 0..80 {
        let (track, code) = &approved_codes[rng.gen_range(0..approved_codes.len())];
        let mut give = vote(
            &format!("voter{}", rng.gen_range(0..30)),
            code,
            rng.gen_range(1..=2),
            day(0),
            // Several gives share a time, so ties on both score and time happen.
            at(10 + n / 5),
        );
        give.track = (*track).to_owned();
        store.give(&give).await.unwrap();
    }
    // Entrants with nothing approved, a member asked as a unit, and a track without entries.
    entrants.push(("votes", EntrantKind::Member, "nobody".to_owned()));
    entrants.push(("units", EntrantKind::Member, "U1".to_owned()));
    entrants.push(("empty", EntrantKind::Member, "author1".to_owned()));
    let mut seen = HashSet::new();
    entrants.retain(|e| seen.insert(e.clone()));
    entrants.shuffle(&mut rng);

    let mut field_sizes = BTreeMap::new();
    for (track, _, _) in &entrants {
        field_sizes.insert(*track, store.ranking(track).await.unwrap().len());
    }
    let asks: Vec<StandingAsk> = entrants
        .iter()
        .map(|(track, kind, entrant)| {
            let size = u32::try_from(field_sizes[track]).unwrap();
            // A few marks in the field, some twice, 0 and beyond the field, in a random order.
            let mut marks: Vec<u32> = (0..4).map(|_| rng.gen_range(1..=size.max(1))).collect();
            marks.extend([0, size + 1, 1000]);
            marks.shuffle(&mut rng);
            StandingAsk {
                track: (*track).to_owned(),
                kind: *kind,
                entrant: entrant.clone(),
                marks,
            }
        })
        .collect();
    let ranked_entrants = standings_agree(&store, &asks).await;
    let standings = store.standings(&asks).await.unwrap();

    // Every place of every track as the mark just ahead of the entrant behind it.
    let behind: Vec<StandingAsk> = standings
        .iter()
        .zip(&asks)
        .filter_map(|(standing, ask)| {
            let place = u32::try_from(standing.ranked.as_ref()?.place).unwrap();
            Some(StandingAsk {
                marks: vec![place + 1, place, place - 1],
                ..ask.clone()
            })
        })
        .collect();
    assert_eq!(standings_agree(&store, &behind).await, behind.len());
    // Everyone but the leader of each track has someone just ahead.
    let marked = store
        .standings(&behind)
        .await
        .unwrap()
        .iter()
        .filter(|s| s.ahead.is_some())
        .count();
    assert_eq!(marked + FIELD_TRACKS.len(), behind.len());

    // The field is not degenerate: most asks are ranked, and ties on score, and on score and
    // time, happened in every track.
    assert!(ranked_entrants > asks.len() / 2, "{ranked_entrants} ranked");
    for (track, _, _) in FIELD_TRACKS {
        let ranking = store.ranking(track).await.unwrap();
        let tied = |a: &Ranked, b: &Ranked| {
            a.entry.score == b.entry.score && a.entry.score_reached_at == b.entry.score_reached_at
        };
        assert!(
            ranking
                .windows(2)
                .any(|w| w[0].entry.score > 0 && w[0].entry.score == w[1].entry.score),
            "{track}"
        );
        assert!(ranking.windows(2).any(|w| tied(&w[0], &w[1])), "{track}");
    }

    // Asking nothing answers nothing; asking one entrant twice answers twice.
    assert!(store.standings(&[]).await.unwrap().is_empty());
    let twice = store
        .standings(&[asks[0].clone(), asks[0].clone()])
        .await
        .unwrap();
    assert_eq!(twice, vec![standings[0].clone(), standings[0].clone()]);
}

/// Checks `standings` for `asks` against `rank_of`, `ranking` and `top`; returns how many of the
/// asked entrants are ranked.
async fn standings_agree(store: &Shared, asks: &[StandingAsk]) -> usize {
    let standings = store.standings(asks).await.unwrap();
    assert_eq!(standings.len(), asks.len());
    let mut ranked_entrants = 0;
    for (ask, standing) in asks.iter().zip(&standings) {
        let own = store
            .rank_of(&ask.track, ask.kind, &ask.entrant)
            .await
            .unwrap();
        assert_eq!(standing.ranked, own, "{ask:?}");
        let Some(own) = own else {
            assert_eq!(standing.ahead, None, "{ask:?}");
            continue;
        };
        ranked_entrants += 1;
        // The same entry holds that place in the whole ranking.
        let ranking = store.ranking(&ask.track).await.unwrap();
        assert_eq!(ranking.get(own.place as usize - 1), Some(&own), "{ask:?}");
        let nearest = ask
            .marks
            .iter()
            .copied()
            .filter(|m| *m >= 1 && u64::from(*m) < own.place)
            .max();
        let ahead = match nearest {
            Some(mark) => store
                .top(&ask.track, mark)
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.place == u64::from(mark)),
            None => None,
        };
        assert_eq!(standing.ahead, ahead, "{ask:?}");
        assert_eq!(ahead.is_some(), nearest.is_some(), "{ask:?}");
    }
    ranked_entrants
}
