//! Access-token caching: a pluggable store shared between instances, refreshed before expiry,
//! with at most one refresh per app in flight at a time (other callers wait for its result).

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::ApiError;

/// Stop using a token this long before WeCom's stated expiry, so it never expires mid-request.
pub const REFRESH_MARGIN_SECS: i64 = 300;

/// An access token and when it stops being valid.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub value: String,
    /// Unix seconds from which the token is no longer used: WeCom's expiry minus a margin.
    pub expires_at: i64,
}

impl std::fmt::Debug for AccessToken {
    // The token grants API access: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl AccessToken {
    /// A token WeCom issued at `now_unix`, valid for `expires_in` seconds; it is retired
    /// [`REFRESH_MARGIN_SECS`] early (or at half its life, if that is shorter).
    pub fn issued(value: String, now_unix: i64, expires_in: i64) -> Self {
        let margin = REFRESH_MARGIN_SECS.min(expires_in / 2);
        Self {
            value,
            expires_at: now_unix.saturating_add(expires_in - margin),
        }
    }

    /// Whether the token can still be used at `now_unix`.
    pub fn is_fresh(&self, now_unix: i64) -> bool {
        now_unix < self.expires_at
    }
}

/// A storage failure; the client logs it and carries on with a fresh token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token store: {0}")]
pub struct TokenStoreError(pub String);

/// Where tokens live between calls. The bot shares tokens between instances through its
/// database; [`MemoryTokenStore`] is the default for a single process.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The stored token for `app` (e.g. `"corpid:agentid"`), fresh or not.
    async fn load(&self, app: &str) -> Result<Option<AccessToken>, TokenStoreError>;
    /// Replaces the stored token for `app`.
    async fn save(&self, app: &str, token: &AccessToken) -> Result<(), TokenStoreError>;
}

/// Tokens kept in this process only.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<std::collections::HashMap<String, AccessToken>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, app: &str) -> Result<Option<AccessToken>, TokenStoreError> {
        Ok(lock(&self.tokens).get(app).cloned())
    }

    async fn save(&self, app: &str, token: &AccessToken) -> Result<(), TokenStoreError> {
        lock(&self.tokens).insert(app.to_owned(), token.clone());
        Ok(())
    }
}

/// Wall-clock seconds, for token expiry (tokens are shared across processes, so a monotonic
/// clock will not do). The bot adapts its own clock to this.
pub trait UnixClock: Send + Sync {
    fn now_unix(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemUnixClock;

impl UnixClock for SystemUnixClock {
    fn now_unix(&self) -> i64 {
        // The one place this crate reads the system time.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The per-app cache in front of the store.
pub(crate) struct TokenCache {
    app: String,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn UnixClock>,
    current: Mutex<Option<AccessToken>>,
    /// Held for the whole load-or-fetch sequence: only one refresh per app runs at a time.
    refresh: tokio::sync::Mutex<()>,
}

impl TokenCache {
    pub(crate) fn new(app: String, store: Arc<dyn TokenStore>, clock: Arc<dyn UnixClock>) -> Self {
        Self {
            app,
            store,
            clock,
            current: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// A fresh token, fetching one with `fetch` only if neither this process nor the store has one.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<AccessToken, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, ApiError>>,
    {
        if let Some(token) = self.fresh_local(None) {
            return Ok(token);
        }
        let _guard = self.refresh.lock().await;
        // Whoever held the lock before us may have refreshed already.
        if let Some(token) = self.fresh_local(None) {
            return Ok(token);
        }
        self.load_or_fetch(None, fetch).await
    }

    /// A token other than `rejected`, which WeCom just refused: another caller (or instance) may
    /// already have replaced it; otherwise fetch a new one.
    pub(crate) async fn replace<F, Fut>(
        &self,
        rejected: &str,
        fetch: F,
    ) -> Result<AccessToken, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, ApiError>>,
    {
        let _guard = self.refresh.lock().await;
        if let Some(token) = self.fresh_local(Some(rejected)) {
            return Ok(token);
        }
        self.load_or_fetch(Some(rejected), fetch).await
    }

    fn fresh_local(&self, rejected: Option<&str>) -> Option<AccessToken> {
        let now = self.clock.now_unix();
        lock(&self.current)
            .as_ref()
            .filter(|t| t.is_fresh(now) && Some(t.value.as_str()) != rejected)
            .cloned()
    }

    async fn load_or_fetch<F, Fut>(
        &self,
        rejected: Option<&str>,
        fetch: F,
    ) -> Result<AccessToken, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, ApiError>>,
    {
        let now = self.clock.now_unix();
        match self.store.load(&self.app).await {
            Ok(Some(token)) if token.is_fresh(now) && Some(token.value.as_str()) != rejected => {
                *lock(&self.current) = Some(token.clone());
                return Ok(token);
            }
            Ok(_) => {}
            // A store outage must not stop messages: fall through to WeCom.
            Err(e) => tracing::warn!(app = %self.app, error = %e, "token store load failed"),
        }
        let token = fetch().await?;
        if let Err(e) = self.store.save(&self.app, &token).await {
            tracing::warn!(app = %self.app, error = %e, "token store save failed");
        }
        *lock(&self.current) = Some(token.clone());
        Ok(token)
    }
}

/// A poisoned lock only means another thread panicked while holding plain data; keep going.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    struct TestClock(AtomicI64);
    impl UnixClock for TestClock {
        fn now_unix(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn cache(store: Arc<dyn TokenStore>, clock: Arc<TestClock>) -> TokenCache {
        TokenCache::new("corp:1".into(), store, clock)
    }

    fn token(value: &str, expires_at: i64) -> AccessToken {
        AccessToken {
            value: value.into(),
            expires_at,
        }
    }

    #[tokio::test]
    async fn fetches_once_then_reuses_until_near_expiry() {
        let clock = Arc::new(TestClock(AtomicI64::new(1_000)));
        let store = Arc::new(MemoryTokenStore::default());
        let c = cache(store.clone(), clock.clone());
        let fetches = AtomicUsize::new(0);
        let fetch = |v: &'static str| {
            let n = &fetches;
            move || async move {
                n.fetch_add(1, Ordering::SeqCst);
                Ok(AccessToken::issued(v.into(), 1_000, 7_200))
            }
        };
        assert_eq!(c.get(fetch("t1")).await.unwrap().value, "t1");
        assert_eq!(c.get(fetch("t2")).await.unwrap().value, "t1");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(store.load("corp:1").await.unwrap().unwrap().value, "t1");
        // Inside the refresh margin: refreshed before WeCom would reject it.
        clock
            .0
            .store(1_000 + 7_200 - REFRESH_MARGIN_SECS, Ordering::SeqCst);
        assert_eq!(c.get(fetch("t3")).await.unwrap().value, "t3");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn uses_a_token_another_instance_stored() {
        let clock = Arc::new(TestClock(AtomicI64::new(1_000)));
        let store = Arc::new(MemoryTokenStore::default());
        store.save("corp:1", &token("shared", 5_000)).await.unwrap();
        let c = cache(store, clock);
        let got = c
            .get(|| async { Err(ApiError::Transport("must not fetch".into())) })
            .await
            .unwrap();
        assert_eq!(got.value, "shared");
    }

    #[tokio::test]
    async fn replace_skips_the_rejected_token() {
        let clock = Arc::new(TestClock(AtomicI64::new(1_000)));
        let store = Arc::new(MemoryTokenStore::default());
        let c = cache(store.clone(), clock);
        c.get(|| async { Ok(token("old", 9_000)) }).await.unwrap();
        let fresh = c
            .replace("old", || async { Ok(token("new", 9_000)) })
            .await
            .unwrap();
        assert_eq!(fresh.value, "new");
        // A second caller that also saw "old" rejected gets "new" without another fetch.
        let again = c
            .replace("old", || async {
                Err(ApiError::Transport("must not fetch".into()))
            })
            .await
            .unwrap();
        assert_eq!(again.value, "new");
    }

    #[test]
    fn issued_tokens_retire_early() {
        let t = AccessToken::issued("t".into(), 1_000, 7_200);
        assert_eq!(t.expires_at, 1_000 + 7_200 - REFRESH_MARGIN_SECS);
        assert!(t.is_fresh(t.expires_at - 1));
        assert!(!t.is_fresh(t.expires_at));
        // A short-lived token is still usable for half its life.
        let short = AccessToken::issued("t".into(), 1_000, 100);
        assert_eq!(short.expires_at, 1_050);
    }

    #[test]
    fn debug_hides_the_token() {
        assert!(!format!("{:?}", token("s3cr3t", 1)).contains("s3cr3t"));
    }
}
