//! The statements and the `Store`/`Operations` implementation both backends share, written
//! once. Mechanism: `sqlite/mod.rs` and `postgres/mod.rs` each include this folder with
//! `#[path = "../sql/mod.rs"] mod sql;`, so it is compiled twice, each time against the
//! including backend's `dialect` module, which it reaches as `super::dialect`. The files here
//! name no backend type; what they take from the dialect is:
//! - types: `Pool`, `Conn`, `Row`, and `BackendStore`, the backend's store struct, with
//!   `reader()`, `writer()` (the same pool on PostgreSQL), `cache()` (the read cache of a
//!   serving SQLite store, else `None`), `apply_give()`, `apply_register()` and
//!   `apply_record()` (SQLite's group-committed queue; PostgreSQL's one-statement give and
//!   its `writes`) and `disconnect()`;
//! - values: `stamp` / `read_stamp` / `read_optional_stamp` (timestamps), `day`, `row_limit`,
//!   `text_list` (a list of texts bound as one parameter) and `IN_TEXT_LIST` (matching one);
//! - transactions and locks: `begin_write`, `FOR_UPDATE`, `SKIP_LOCKED`, `serialize_reading`;
//! - statements that differ: `REPLIES_OF_KEYS` and `record_replies` (a list of keys, a batch
//!   of replies), and `standings`;
//! - `hour_of` (a timestamp column as UTC hours since the epoch, for the dashboard).

use super::dialect;

pub(super) mod callbacks;
mod chats;
mod dashboard;
pub(super) mod effects;
mod entries;
pub(super) mod exports;
mod fair_play;
mod instances;
pub(super) mod link_keys;
mod members;
mod outbox;
mod ranking;
mod records;
pub(super) mod rows;
mod scoring;
mod snapshots;
mod store;
