//! The scheduler: turns the campaign's stages, deadlines, quota nudges and digests into pushes,
//! each enqueued exactly once per (job, occurrence, recipient).

pub mod jobs;
