//! Writes that answer nothing but success, which a backend may apply its own way: SQLite
//! queues them with the gives and registrations and commits a batch of them together
//! (`sqlite::write_queue`); PostgreSQL runs each in a transaction of its own.

use rallybot_handlers::store::{AuditEvent, DialogueRecord};

#[derive(Debug, Clone)]
pub(crate) enum Record {
    SaveDialogue(DialogueRecord),
    ClearDialogue { chat: String, user: String },
    Audit(AuditEvent),
}
