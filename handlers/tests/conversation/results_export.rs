//! The 成绩 export lists every approved entry once, ranked or not, even when votes arriving
//! during the export move which of an entrant's entries ranks.

use rallybot_handlers::export::{self, ExportContext, ExportKind, ExportRequest, MemorySink};

use crate::frozen_results::{later_vote, two_entrants};
use crate::store_failure::Flaky;
use crate::support::Harness;

#[tokio::test]
async fn votes_arriving_during_the_results_export_neither_drop_nor_double_an_entry() {
    let h = Harness::shipped().await;
    let (best, other, third) = two_entrants(&h).await;
    // Votes arrive while the export reads, one before each store call: which of m1's entries
    // ranks goes to `other`, then back to `best`.
    let store = Flaky::around(h.store.clone());
    store.meanwhile([
        later_vote(&h, 1, &other, 3),
        later_vote(&h, 2, &third, 1),
        later_vote(&h, 3, &best, 2),
    ]);
    let ctx = ExportContext {
        campaign: h.conversation.campaign(),
        store: &store,
        privacy: None,
        now: h.clock_now(),
        max_rows: None,
    };
    let request = ExportRequest {
        kind: ExportKind::Results,
        track: Some("stories".to_owned()),
    };
    let mut sink = MemorySink::default();
    export::produce(&request, &ctx, &mut sink).await.unwrap();

    let sheet = &sink.sheets[0];
    let code = sheet.column("作品号").unwrap();
    let mut listed: Vec<String> = sheet.rows.iter().map(|row| row[code].plain()).collect();
    listed.sort();
    let mut approved = vec![best, other, third];
    approved.sort();
    assert_eq!(listed, approved);
}
