//! Votes survive a crash: 200 registered members vote, 24 votes in flight at a time, each
//! message with a msgid of its own, and the `serve` process answering them is killed with SIGKILL
//! after a random number of replies. Another process (a restarted one, or a second one that was
//! running all along on the same PostgreSQL database) then gets WeCom's retries of every message
//! that was not answered, with the same msgids. Every member's vote is counted exactly once, and
//! every member gets an answer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rallybot::devtools::callback_client::{BotReply, CallbackClient};
use rallybot::devtools::simulator::Simulator;
use rallybot::http::callback::surface::Surface;
use rallybot_handlers::campaign::{load_campaign, Campaign, EntrantKind, Rule};
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::link::Link;
use rallybot_handlers::store::{MemberRecord, NewEntry, Review, ReviewStatus};
use rand::Rng;
use tokio::sync::{mpsc, Semaphore};

use crate::harness::processes::{Processes, Serve};
use crate::harness::settings::campaign_path;
use crate::harness::Backend;

/// Members voting at once, one vote each.
const VOTERS: usize = 200;
/// Votes in flight at once: enough to crowd the process, few enough that the kill always lands
/// with votes still to come (a fast process could otherwise answer all of them first).
const IN_FLIGHT: usize = 24;
/// How long a process may take to start serving.
const START: Duration = Duration::from_secs(60);

/// Where the answering process goes after the kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Survivor {
    /// A new `serve` on the same database.
    Restarted,
    /// A second `serve` that was running all along (PostgreSQL).
    SecondInstance,
}

/// What one round saw.
#[derive(Debug)]
pub struct Round {
    pub killed_after: usize,
    pub retried: usize,
}

/// One round: a fresh database, the burst, the kill, the retries, and the counts checked.
pub async fn round(backend: Backend, survivor: Survivor, name: &str) -> Round {
    let sim = Simulator::start(Arc::new(SystemClock))
        .await
        .expect("simulator starts");
    let processes = Processes::new(backend, &sim.base_url(), |settings, _| {
        // The campaign's voting stage is in 2022: each process's clock is moved there.
        settings.clock.rehearsal = true;
    })
    .await;
    let campaign = load_campaign(&campaign_path()).expect("the bundled campaign loads");
    let code = seed(processes.url(), &campaign).await;
    let voting = rallybot::devtools::local::voting_time(&campaign).expect("a voting stage");

    let mut first = processes.serve(&format!("{name}-first"), &[]);
    let first_url = first.base_url(START);
    set_clock(&processes, &first_url, voting).await;
    let mut second = match survivor {
        Survivor::SecondInstance => {
            let mut second = processes.serve(&format!("{name}-second"), &[]);
            let url = second.base_url(START);
            set_clock(&processes, &url, voting).await;
            Some((second, url))
        }
        Survivor::Restarted => None,
    };

    let kill_after = rand::thread_rng().gen_range(30..=120);
    let answered = burst(&processes, &first_url, &code, &mut first, kill_after).await;
    assert!(
        answered.len() >= kill_after && answered.len() < VOTERS,
        "the process died mid burst ({} of {VOTERS} answered)",
        answered.len()
    );

    let (mut survivor_serve, survivor_url) = match second.take() {
        Some(running) => running,
        None => {
            let mut restarted = processes.serve(&format!("{name}-restarted"), &[]);
            let url = restarted.base_url(START);
            set_clock(&processes, &url, voting).await;
            (restarted, url)
        }
    };
    let unanswered: Vec<usize> = (0..VOTERS).filter(|i| !answered.contains(i)).collect();
    retry(&processes, &survivor_url, &code, &unanswered).await;
    survivor_serve.assert_running();
    drop(survivor_serve);
    drop(first);

    check_counts(processes.url(), &campaign, &code).await;
    processes.finish().await;
    Round {
        killed_after: answered.len(),
        retried: unanswered.len(),
    }
}

fn voter(i: usize) -> String {
    format!("voter{i:03}")
}

/// Every message keeps its msgid across WeCom's retries.
fn msg_id(i: usize) -> u64 {
    700_000 + i as u64
}

/// The members and one approved entry of a votes track, written before any process serves.
async fn seed(url: &str, campaign: &Campaign) -> String {
    let store = rallybot_storage::open(url)
        .await
        .expect("the database opens");
    let now = SystemClock.now();
    let union = campaign
        .unions
        .list
        .first()
        .map(|u| u.code.clone())
        .expect("the campaign has unions");
    for i in 0..VOTERS {
        let member = MemberRecord {
            userid: voter(i),
            name: format!("投票人{i}"),
            id_hash: format!("{:064x}", i + 1),
            id_mask: "230103********000X".into(),
            phone_enc: String::new(),
            phone_mask: "139****0000".into(),
            union_code: union.clone(),
            registered_at: now,
        };
        store
            .register_member(&member, &format!("seed/register/{i}"))
            .await
            .expect("register a voter");
    }
    let track = campaign
        .tracks
        .iter()
        .find(|t| matches!(t.rule, Rule::Votes { .. }) && t.entrant == EntrantKind::Member)
        .expect("the campaign has a votes track for members");
    let entry = store
        .submit_entry(&NewEntry {
            track: track.key.clone(),
            code_prefix: track.code_prefix.clone(),
            entrant_kind: EntrantKind::Member,
            entrant_id: "author".into(),
            submitter: "author".into(),
            union_code: union,
            link: Link::parse("https://mp.weixin.qq.com/s/crash-recovery").expect("a link"),
            title: "崩溃恢复".into(),
            status: ReviewStatus::Pending,
            now,
            callback_key: "seed/submit".into(),
        })
        .await
        .expect("submit the entry");
    store
        .review_entry(&Review {
            code: entry.code.clone(),
            approve: true,
            reason: None,
            reviewer: "reviewer".into(),
            now,
            callback_key: "seed/review".into(),
        })
        .await
        .expect("approve the entry");
    store.close().await;
    entry.code
}

async fn set_clock(processes: &Processes, base_url: &str, at: chrono::DateTime<chrono::Utc>) {
    let response = reqwest::Client::new()
        .post(format!("{base_url}/admin/clock"))
        .bearer_auth(processes.settings().admin.token.expose())
        .json(&serde_json::json!({ "set": at.to_rfc3339() }))
        .send()
        .await
        .expect("the admin endpoint answers");
    assert_eq!(response.status().as_u16(), 200, "the clock moves");
}

fn client(processes: &Processes, base_url: &str) -> Arc<CallbackClient> {
    Arc::new(CallbackClient::new(base_url, &processes.settings().wecom).expect("a callback client"))
}

/// Sends one member's vote as WeCom would, under its fixed msgid.
async fn vote(client: &CallbackClient, code: &str, i: usize) -> Option<BotReply> {
    let plain = client.app_text_plain(&voter(i), &format!("投票 {code} 1"), msg_id(i));
    let request = client.sign(Surface::App, &plain).ok()?;
    let answered = client.send(&request).await.ok()?;
    client.open(Surface::App, &answered).ok()
}

/// All votes, `IN_FLIGHT` at a time; the process is killed once `kill_after` have been answered. Returns the
/// members whose message was answered (a 200: WeCom would not send it again).
async fn burst(
    processes: &Processes,
    base_url: &str,
    code: &str,
    serve: &mut Serve,
    kill_after: usize,
) -> BTreeSet<usize> {
    let client = client(processes, base_url);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let (done, mut results) = mpsc::unbounded_channel();
    for i in 0..VOTERS {
        let (client, code, done) = (client.clone(), code.to_owned(), done.clone());
        let in_flight = in_flight.clone();
        tokio::spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            let reply = vote(&client, &code, i).await;
            let _ = done.send((i, reply));
        });
    }
    drop(done);
    let mut answered = BTreeSet::new();
    let mut killed = false;
    while let Some((i, reply)) = results.recv().await {
        if reply.is_some_and(|r| r.status == 200) {
            answered.insert(i);
        }
        if !killed && answered.len() >= kill_after {
            serve.kill9();
            killed = true;
        }
    }
    assert!(killed, "the burst ended before the kill");
    answered
}

/// WeCom's retries of the unanswered messages (up to three attempts each, a few seconds apart):
/// each must now be answered with the vote's reply.
async fn retry(processes: &Processes, base_url: &str, code: &str, unanswered: &[usize]) {
    let client = client(processes, base_url);
    let mut tasks = tokio::task::JoinSet::new();
    for &i in unanswered {
        let (client, code) = (client.clone(), code.to_owned());
        tasks.spawn(async move {
            for _ in 0..3 {
                if let Some(reply) = vote(&client, &code, i).await {
                    return (i, reply);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            panic!("{} was never answered", voter(i));
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, reply) = done.expect("a retry task");
        let text = reply.text.unwrap_or_default();
        assert!(
            reply.status == 200 && text.contains("投"),
            "the retry of {} is answered with its vote: {} {text:?}",
            voter(i),
            reply.status
        );
    }
}

/// Exactly one vote per member, and the entry's score is the number of members.
async fn check_counts(url: &str, campaign: &Campaign, code: &str) {
    let store = rallybot_storage::open(url)
        .await
        .expect("the database opens");
    let entry = store.entry(code).await.unwrap().expect("the entry");
    let voting = rallybot::devtools::local::voting_time(campaign).expect("a voting stage");
    let day = campaign.day_of(voting);
    let mut counted = 0;
    for i in 0..VOTERS {
        let used: u32 = store
            .usage(&voter(i), day)
            .await
            .unwrap()
            .iter()
            .map(|row| row.used)
            .sum();
        assert_eq!(used, 1, "{} voted once", voter(i));
        counted += used;
    }
    assert_eq!(counted as usize, VOTERS);
    assert_eq!(entry.score, VOTERS as i64, "every vote counted once");
    let mut votes = 0;
    let mut after = 0;
    loop {
        let page = store.audit_log(after, 1000).await.unwrap();
        let Some((last, _)) = page.last() else {
            break;
        };
        after = *last;
        votes += page.iter().filter(|(_, e)| e.action == "vote").count();
    }
    assert_eq!(votes, VOTERS, "one audit record per counted vote");
    store.close().await;
}
