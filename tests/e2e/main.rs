//! End-to-end tests of rallybot, one module per user-visible feature.
mod simulator_wecom;
