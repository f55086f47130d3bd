//! The end of a rehearsal: every count in the database against what the generator sent (per
//! entry, per member and day, per union), and every push in the outbox against what the
//! simulator received (each delivered exactly once). Differences are listed, never fixed up.
//! Gives that fair play holds as 疑 (an open flag) are in the ledger but out of their entry's
//! score: an entry's score and its 疑 together must make what was sent.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::store::{GiveState, PushTarget, ReviewStatus};
use rallybot_storage::{Database, PushStatus};

use super::plan::member_userid;
use crate::devtools::simulator::{Endpoint, Received};

/// What the database must hold when nothing was lost and nothing doubled.
#[derive(Debug, Default)]
pub struct Expected {
    /// Members `0..members` took part.
    pub members: u32,
    /// Entry code → (entrant as the store keeps it, counted gives).
    pub scores: HashMap<String, (String, i64)>,
    /// (member index, local day) → counted gives.
    pub member_days: HashMap<(u32, NaiveDate), i64>,
    /// Union code → members registered in it (directly).
    pub registrations: BTreeMap<String, i64>,
    /// Union code → registrations plus counted gives of its members (the `participation`
    /// figure the quota pages show, before roll-up).
    pub participation: BTreeMap<String, i64>,
}

/// What was compared, and what differed.
#[derive(Debug, Default)]
pub struct Findings {
    pub ledger_rows: u64,
    pub entries: u64,
    pub pushes: u64,
    pub delivered: u64,
    /// Entry code → amount held as 疑 by an open fair-play flag, from the ledger.
    pub doubtful: HashMap<String, i64>,
    /// Ledger rows held as 疑.
    pub doubtful_rows: u64,
    pub differences: Vec<String>,
}

impl Findings {
    fn differ(&mut self, what: String) {
        self.differences.push(what);
    }
}

/// How many differences of one kind are listed before the rest are only counted.
const SHOWN: usize = 20;

pub async fn check(
    store: &dyn Database,
    campaign: &Campaign,
    expected: &Expected,
    received: &[Received],
) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();
    // The ledger first: it tells what fair play holds as 疑, which the entries need. Its
    // differences are listed after the entries'.
    let member_days = ledger(store, campaign, expected, &mut findings).await?;
    entries(store, campaign, expected, &mut findings).await?;
    report(&mut findings, "member-days", member_days);
    unions(store, expected, &mut findings).await?;
    pushes(store, received, &mut findings).await?;
    Ok(findings)
}

async fn entries(
    store: &dyn Database,
    campaign: &Campaign,
    expected: &Expected,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let mut seen: HashMap<String, (String, i64, ReviewStatus)> = HashMap::new();
    for track in &campaign.tracks {
        for e in store.approved_entries(&track.key).await? {
            seen.insert(e.code, (e.entrant_id, e.score, e.status));
        }
    }
    findings.entries = seen.len() as u64;
    let mut listed = Vec::new();
    for (code, (entrant, score)) in &expected.scores {
        match seen.get(code) {
            None => listed.push(format!(
                "entry {code}: not found among the approved entries"
            )),
            Some((found_entrant, found, status)) => {
                if found_entrant != entrant {
                    listed.push(format!(
                        "entry {code}: entrant {found_entrant}, sent by {entrant}"
                    ));
                }
                if *status != ReviewStatus::Approved {
                    listed.push(format!("entry {code}: status {status:?}, approved"));
                }
                let held = findings.doubtful.get(code).copied().unwrap_or(0);
                if found + held != *score {
                    listed.push(format!(
                        "entry {code}: score {found} and {held} 疑, sent {score} counted gives"
                    ));
                }
            }
        }
    }
    for code in seen.keys() {
        if !expected.scores.contains_key(code) {
            listed.push(format!("entry {code}: in the database, never submitted"));
        }
    }
    report(findings, "entries", listed);
    Ok(())
}

/// Reads the whole ledger: the 疑 into `findings`; returns the member-days that differ.
async fn ledger(
    store: &dyn Database,
    campaign: &Campaign,
    expected: &Expected,
    findings: &mut Findings,
) -> anyhow::Result<Vec<String>> {
    let members: HashMap<String, u32> = (0..expected.members)
        .map(|m| (member_userid(m), m))
        .collect();
    let mut found: HashMap<(u32, NaiveDate), i64> = HashMap::new();
    let mut strangers: BTreeMap<String, i64> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.ledger_page(after, 10_000, None).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        for row in page {
            findings.ledger_rows += 1;
            let state = row.flag.as_ref().map(|flag| flag.state(None));
            if row.withdrawn.is_none() && state == Some(GiveState::Doubtful) {
                findings.doubtful_rows += 1;
                *findings.doubtful.entry(row.entry_code.clone()).or_default() += row.amount;
            }
            let day = row.at.with_timezone(&campaign.timezone).date_naive();
            match members.get(&row.member) {
                Some(&m) if row.withdrawn.is_none() => {
                    *found.entry((m, day)).or_default() += row.amount;
                }
                _ => *strangers.entry(row.member.clone()).or_default() += row.amount,
            }
        }
    }
    let mut listed = Vec::new();
    for (member, amount) in strangers {
        listed.push(format!(
            "ledger: {amount} from {member}, who is not one of the members"
        ));
    }
    let mut keys: Vec<&(u32, NaiveDate)> =
        expected.member_days.keys().chain(found.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let want = expected.member_days.get(key).copied().unwrap_or(0);
        let got = found.get(key).copied().unwrap_or(0);
        if want != got {
            listed.push(format!(
                "member {} on {}: {got} counted, sent {want}",
                member_userid(key.0),
                key.1
            ));
        }
    }
    Ok(listed)
}

async fn unions(
    store: &dyn Database,
    expected: &Expected,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let mut listed = Vec::new();
    for (name, want, got) in [
        (
            "registrations",
            &expected.registrations,
            store.registrations_by_union().await?,
        ),
        (
            "participation",
            &expected.participation,
            store.participation_by_union().await?,
        ),
    ] {
        let got: BTreeMap<String, i64> = got.into_iter().collect();
        let codes: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
        for code in codes {
            let w = want.get(code).copied().unwrap_or(0);
            let g = got.get(code).copied().unwrap_or(0);
            if w != g {
                listed.push(format!("union {code}: {name} {g}, sent {w}"));
            }
        }
    }
    report(findings, "unions", listed);
    Ok(())
}

/// Every outbox row sent, and delivered once: the outbox and the simulator's deliveries as
/// multisets of (recipient, content).
async fn pushes(
    store: &dyn Database,
    received: &[Received],
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let rows = store.pushes(None, u32::MAX).await?;
    findings.pushes = rows.len() as u64;
    let mut listed = Vec::new();
    let mut outbox: HashMap<(String, String), i64> = HashMap::new();
    for row in &rows {
        if row.status != PushStatus::Sent {
            listed.push(format!(
                "push {} ({}): {:?} at the end",
                row.id, row.key, row.status
            ));
        }
        let to = match &row.target {
            PushTarget::User { userid } => userid.clone(),
            PushTarget::Webhook { url } => url
                .split_once("key=")
                .map_or(url.clone(), |(_, key)| key.to_string()),
            PushTarget::ResponseUrl { url } => url.clone(),
            PushTarget::Aibot { chat_id } => chat_id.clone(),
        };
        *outbox.entry((to, row.content.clone())).or_default() += 1;
    }
    let mut delivered: HashMap<(String, String), i64> = HashMap::new();
    for r in received.iter().filter(|r| r.delivered()) {
        let content = r.content().unwrap_or_default().to_string();
        let recipients = match r.endpoint {
            Endpoint::MessageSend => r.recipients(),
            _ => vec![r.key.clone().unwrap_or_default()],
        };
        for to in recipients {
            findings.delivered += 1;
            *delivered.entry((to, content.clone())).or_default() += 1;
        }
    }
    let mut keys: Vec<&(String, String)> = outbox.keys().chain(delivered.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let want = outbox.get(key).copied().unwrap_or(0);
        let got = delivered.get(key).copied().unwrap_or(0);
        if want != got {
            let first: String = key.1.chars().take(30).collect();
            listed.push(format!(
                "push to {} «{first}…»: delivered {got} times, {want} in the outbox",
                key.0
            ));
        }
    }
    report(findings, "pushes", listed);
    Ok(())
}

fn report(findings: &mut Findings, kind: &str, listed: Vec<String>) {
    let more = listed.len().saturating_sub(SHOWN);
    for line in listed.into_iter().take(SHOWN) {
        findings.differ(line);
    }
    if more > 0 {
        findings.differ(format!("… and {more} more differences in {kind}"));
    }
}
