//! Open files: the soft limit raised to the hard one at start, and the connection cap that
//! keeps client sockets below it, so the bot never runs out of descriptors for its database,
//! its WeCom calls and its logs (where accepting fails with "Too many open files" instead).

/// Descriptors kept for everything but client connections: the database pools, WeCom requests
/// (the sender's concurrency plus token refreshes), the listener, log files, and slack.
pub const RESERVED_FILES: u64 = 128;
/// However low the limit, serve at least this many connections (a cap of zero serves no one).
const FEWEST_CONNECTIONS: u64 = 16;
/// Assumed when the limit cannot be read: Linux's usual soft default.
const USUAL_SOFT_LIMIT: u64 = 1024;

/// Raises this process's soft open-files limit to its hard limit and logs the outcome; returns
/// the soft limit in force afterwards. `serve` calls it once at start: systemd's default soft
/// limit of 1024 is far below what the hard limit (and `LimitNOFILE`) allows.
pub fn raise_open_files_limit() -> Option<u64> {
    let before = open_files_limit();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            match before {
                Some(before) if before < now => {
                    tracing::info!(from = before, to = now, "open-files limit raised")
                }
                _ => tracing::info!(limit = now, "open-files limit"),
            }
            Some(now)
        }
        Err(error) => {
            tracing::warn!(%error, limit = ?before, "could not raise the open-files limit");
            before
        }
    }
}

/// The soft open-files limit, if the platform tells.
pub fn open_files_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _hard)| soft)
}

/// How many connections to serve at once: `configured` (0 = as many as the limit allows), never
/// more than `soft_limit` minus the reserve.
pub fn connection_cap(configured: u32, soft_limit: Option<u64>) -> usize {
    let allowed = soft_limit
        .unwrap_or(USUAL_SOFT_LIMIT)
        .saturating_sub(RESERVED_FILES)
        .max(FEWEST_CONNECTIONS);
    let cap = match u64::from(configured) {
        0 => allowed,
        wanted => wanted.min(allowed),
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_open_files_limit() {
        assert_eq!(connection_cap(0, Some(1024)), 896);
        assert_eq!(connection_cap(0, Some(65_536)), 65_408);
        assert_eq!(connection_cap(0, None), 896);
        assert_eq!(connection_cap(100, Some(65_536)), 100);
        assert_eq!(
            connection_cap(5_000, Some(1024)),
            896,
            "clamped to the limit"
        );
        assert_eq!(connection_cap(0, Some(64)), 16, "never zero");
        assert_eq!(connection_cap(0, Some(u64::MAX)) as u64, u64::MAX - 128);
    }

    #[test]
    fn the_limit_can_be_read_and_raising_it_never_lowers_it() {
        let before = open_files_limit().expect("a unix limit");
        let after = raise_open_files_limit().expect("a limit after raising");
        assert!(after >= before);
    }
}
