//! Callback replies: how each callback was answered, so that WeCom's retry of it is answered
//! the same; kept, with the once-per-message effects (`effects`), for 24 h. Each distinct reply
//! is stored once (`callback_reply_bodies`, under its digest) and each callback's row names it:
//! most replies repeat. Replies are looked up and recorded a whole batch at a time; how a list
//! travels is the dialect's (`REPLIES_OF_KEYS`, `record_replies`).

use std::collections::HashMap;

use rallybot_handlers::store::Timestamp;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use super::dialect::{begin_write, stamp, text_list, Pool, REPLIES_OF_KEYS};
use crate::failure::Attempt;

/// The name of a reply body: the first 16 bytes of the SHA-256 of its UTF-8 text (the
/// PostgreSQL migration computes the same in SQL).
pub(crate) type Digest = [u8; 16];

fn digest(body: &str) -> Digest {
    let full = Sha256::digest(body.as_bytes());
    let mut short = [0; 16];
    short.copy_from_slice(&full[..16]);
    short
}

/// A batch of replies as it is written: each distinct body once, and each key once with the
/// digest of its last reply (a key answered twice in a batch keeps the later answer).
pub(crate) struct Recording<'a> {
    pub bodies: Vec<(Digest, &'a str)>,
    pub replies: Vec<(&'a str, Digest)>,
}

impl<'a> Recording<'a> {
    pub fn of(answered: &'a [(String, String)]) -> Self {
        let mut digests: HashMap<&str, Digest> = HashMap::new();
        let mut bodies = Vec::new();
        let mut position: HashMap<&str, usize> = HashMap::with_capacity(answered.len());
        let mut replies: Vec<(&str, Digest)> = Vec::with_capacity(answered.len());
        for (key, body) in answered {
            let named = *digests.entry(body.as_str()).or_insert_with(|| {
                let named = digest(body);
                bodies.push((named, body.as_str()));
                named
            });
            match position.get(key.as_str()) {
                Some(&at) => replies[at].1 = named,
                None => {
                    position.insert(key.as_str(), replies.len());
                    replies.push((key.as_str(), named));
                }
            }
        }
        Recording { bodies, replies }
    }
}

/// The recorded reply of each key, in order; `None` where there is none.
pub(super) async fn replies(reader: &Pool, keys: &[String]) -> Attempt<Vec<Option<String>>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    let rows = sqlx::query(REPLIES_OF_KEYS)
        .bind(text_list(&asked)?)
        .fetch_all(reader)
        .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get("key")?;
        let reply: String = row.try_get("reply")?;
        found.insert(key, reply);
    }
    Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
}

/// Forgets the replies given and the effects made before `before`, and the bodies no reply
/// since then names, in one transaction; returns how many replies.
pub(super) async fn purge(writer: &Pool, before: Timestamp) -> Attempt<u64> {
    let mut tx = begin_write(writer).await?;
    let purged = sqlx::query("DELETE FROM callback_replies WHERE answered_at < $1")
        .bind(stamp(before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM callback_reply_bodies WHERE last_at < $1")
        .bind(stamp(before))
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM effects WHERE at < $1")
        .bind(stamp(before))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, r)| ((*k).to_owned(), (*r).to_owned()))
            .collect()
    }

    #[test]
    fn each_body_is_written_once_and_each_key_keeps_its_last_reply() {
        let batch = answered(&[("a", "帮助"), ("b", "帮助"), ("a", "排名"), ("c", "帮助")]);
        let recording = Recording::of(&batch);
        let bodies: Vec<&str> = recording.bodies.iter().map(|(_, b)| *b).collect();
        assert_eq!(bodies, ["帮助", "排名"]);
        let named = |body: &str| digest(body);
        assert_eq!(
            recording.replies,
            [
                ("a", named("排名")),
                ("b", named("帮助")),
                ("c", named("帮助"))
            ]
        );
        assert_ne!(named("帮助"), named("排名"));
    }

    #[test]
    fn the_digest_is_the_start_of_the_sha256_of_the_text() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223...
        assert_eq!(
            digest("abc"),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23
            ]
        );
    }
}
