//! Sends one batch of private-chat callbacks as WeCom would, over the load generator's
//! keep-alive connections: each message with its own msgid, a share of them sent again (two or
//! three times in all, with the same msgid, later in the batch and so on another connection,
//! sometimes while the first is still being answered), and a callback that got no 200 sent
//! again until it does, as WeCom retries.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng as _;

use crate::devtools::bench::http1::Connection;
use crate::devtools::callback_client::{Answered, CallbackClient};
use crate::http::callback::surface::Surface;

/// Attempts per callback before the batch fails (each is a WeCom retry of the same msgid).
const ATTEMPTS: u32 = 20;

/// A message to send: who, and what.
#[derive(Debug, Clone)]
pub struct Message {
    pub user: String,
    pub text: String,
}

/// What a batch did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    /// Distinct messages.
    pub messages: u64,
    /// Callbacks sent, duplicates included.
    pub callbacks: u64,
    /// Messages sent more than once on purpose.
    pub duplicated: u64,
    /// Attempts that got no 200 (sent again).
    pub failed_attempts: u64,
}

impl std::ops::AddAssign for Sent {
    fn add_assign(&mut self, other: Sent) {
        self.messages += other.messages;
        self.callbacks += other.callbacks;
        self.duplicated += other.duplicated;
        self.failed_attempts += other.failed_attempts;
    }
}

/// The sending side: where, how, and how often messages are duplicated.
pub struct Sender {
    pub client: Arc<CallbackClient>,
    /// `127.0.0.1:port`.
    pub addr: String,
    pub connections: usize,
    /// Share of messages sent again (0.05 = 5 %).
    pub duplicate_share: f64,
}

impl Sender {
    /// Sends `messages` and returns when every callback has been answered with a 200. With
    /// `replies`, the decrypted reply to each message (the first copy's that had one).
    pub async fn send(
        &self,
        messages: Vec<Message>,
        rng: &mut StdRng,
        replies: bool,
    ) -> anyhow::Result<(Sent, Vec<Option<String>>)> {
        let mut sent = Sent {
            messages: messages.len() as u64,
            ..Sent::default()
        };
        // (message index, msgid): the copies of a duplicated message go later in the batch.
        let mut queue: Vec<(usize, u64)> = Vec::with_capacity(messages.len() * 21 / 20);
        let mut later: Vec<(usize, (usize, u64))> = Vec::new();
        for i in 0..messages.len() {
            let msg_id = self.client.next_msg_id();
            queue.push((i, msg_id));
            if rng.gen_bool(self.duplicate_share.clamp(0.0, 1.0)) {
                sent.duplicated += 1;
                let copies = rng.gen_range(1..=2);
                for _ in 0..copies {
                    // Up to about 200 messages later: on another connection, often in flight.
                    later.push((i + rng.gen_range(0..200), (i, msg_id)));
                }
            }
        }
        later.sort_by_key(|(at, _)| *at);
        let mut merged = Vec::with_capacity(queue.len() + later.len());
        let mut later = later.into_iter().peekable();
        for (pos, item) in queue.into_iter().enumerate() {
            merged.push(item);
            while later.peek().is_some_and(|(at, _)| *at <= pos) {
                if let Some((_, copy)) = later.next() {
                    merged.push(copy);
                }
            }
        }
        merged.extend(later.map(|(_, copy)| copy));
        sent.callbacks = merged.len() as u64;

        let shared = Arc::new(Shared {
            messages,
            queue: merged,
            next: AtomicUsize::new(0),
            failed: AtomicU64::new(0),
            replies: replies.then(|| std::sync::Mutex::new(Vec::new())),
        });
        let mut tasks = Vec::with_capacity(self.connections);
        for _ in 0..self.connections.max(1) {
            let shared = shared.clone();
            let client = self.client.clone();
            let addr = self.addr.clone();
            tasks.push(tokio::spawn(async move {
                connection(&shared, &client, &addr).await
            }));
        }
        for task in tasks {
            task.await??;
        }
        sent.failed_attempts = shared.failed.load(Ordering::Relaxed);
        let mut answers = vec![None; shared.messages.len()];
        if let Some(replies) = &shared.replies {
            let list = std::mem::take(&mut *replies.lock().unwrap_or_else(|e| e.into_inner()));
            for (i, text) in list {
                if let Some(slot) = answers.get_mut(i) {
                    slot.get_or_insert(text);
                }
            }
        }
        Ok((sent, answers))
    }
}

struct Shared {
    messages: Vec<Message>,
    queue: Vec<(usize, u64)>,
    next: AtomicUsize,
    failed: AtomicU64,
    replies: Option<std::sync::Mutex<Vec<(usize, String)>>>,
}

async fn connection(shared: &Shared, client: &CallbackClient, addr: &str) -> anyhow::Result<()> {
    let mut open: Option<Connection> = None;
    loop {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(&(i, msg_id)) = shared.queue.get(n) else {
            return Ok(());
        };
        let message = &shared.messages[i];
        let plain = client.app_text_plain(&message.user, &message.text, msg_id);
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            let request = client.sign(Surface::App, &plain)?;
            let path = format!("{}?{}", Surface::App.path(), request.query);
            let result = match &mut open {
                Some(c) => c.post(&path, request.body).await,
                None => match Connection::open(addr).await {
                    Ok(c) => open.insert(c).post(&path, request.body).await,
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(answer) if answer.status == 200 => break answer,
                Ok(answer) => {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    anyhow::ensure!(
                        attempt < ATTEMPTS,
                        "{:?} from {} answered {} {ATTEMPTS} times",
                        message.text,
                        message.user,
                        answer.status
                    );
                }
                Err(e) => {
                    open = None;
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    anyhow::ensure!(
                        attempt < ATTEMPTS,
                        "{:?} from {} failed {ATTEMPTS} times: {e:#}",
                        message.text,
                        message.user
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        };
        if let (Some(replies), false) = (&shared.replies, answer.body.is_empty()) {
            let answered = Answered {
                status: answer.status,
                body: String::from_utf8_lossy(&answer.body).into_owned(),
            };
            if let Some(text) = client
                .open(Surface::App, &answered)
                .ok()
                .and_then(|r| r.text)
            {
                replies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, text));
            }
        }
    }
}
