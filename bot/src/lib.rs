//! The rallybot application: configuration, HTTP endpoints, scheduler and push sender.
