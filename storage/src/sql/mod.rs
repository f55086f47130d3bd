//! The statements and the `Store`/`Operations` implementation both backends share, written
//! once. Mechanism: `sqlite/mod.rs` and `postgres/mod.rs` each include this folder with
//! `#[path = "../sql/mod.rs"] mod sql;`, so it is compiled twice, each time against the
//! including backend's `dialect` module. The files here name no backend type: they use only
//! what the dialect provides (`Pool`, `Conn`, `Row`, `BackendStore`, `stamp`, `read_stamp`,
//! `day`, `begin_write`, `FOR_UPDATE`, `SKIP_LOCKED`, `row_limit`, `serialize_reading`, the
//! callback statements, `finish_callbacks` and `standings`). What a backend does its own way
//! beyond that (SQLite's group-committed gives, PostgreSQL's one-statement give) lives in its
//! own folder, behind `BackendStore::apply_give`.

use super::dialect;

mod callbacks;
mod chats;
mod entries;
mod instances;
mod members;
mod outbox;
mod ranking;
mod records;
pub(super) mod rows;
mod scoring;
mod store;
