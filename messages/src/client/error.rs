//! Typed errors of the outbound WeCom API, grouped into the kinds the caller acts on.

/// What the caller should do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again later with backoff (`-1` busy, `45009` frequency, `45033` concurrency, timeouts, 5xx).
    Retryable,
    /// The deployment is misconfigured (`60020` IP not trusted, bad secret or corp id, API not
    /// permitted): report it to the operator; retrying will not help.
    Configuration,
    /// The webhook key is unknown or was removed (`93000`).
    InvalidWebhook,
    /// One or more recipients do not exist or cannot receive messages (`81013`, `invaliduser`).
    InvalidRecipient,
    /// Anything else WeCom refused; retrying the same request will fail the same way.
    Permanent,
}

/// A failed outbound call. Never contains the secret or an access token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("WeCom is busy or rate-limiting (errcode {errcode}: {errmsg})")]
    Retryable { errcode: i64, errmsg: String },
    #[error("WeCom configuration problem (errcode {errcode}: {errmsg})")]
    Configuration { errcode: i64, errmsg: String },
    #[error("invalid webhook (errcode {errcode}: {errmsg})")]
    InvalidWebhook { errcode: i64, errmsg: String },
    #[error("invalid recipients {invalid_users:?} (errcode {errcode}: {errmsg})")]
    InvalidRecipient {
        errcode: i64,
        errmsg: String,
        /// Userids WeCom reported in `invaliduser` (lower-cased by WeCom).
        invalid_users: Vec<String>,
    },
    /// The access token was refused again right after a refresh.
    #[error("access token refused after refresh (errcode {errcode}: {errmsg})")]
    TokenRejected { errcode: i64, errmsg: String },
    #[error("WeCom refused the request (errcode {errcode}: {errmsg})")]
    Api { errcode: i64, errmsg: String },
    #[error("HTTP status {status} from WeCom")]
    Http { status: u16 },
    #[error("could not reach WeCom: {0}")]
    Transport(String),
    #[error("unexpected response from WeCom: {0}")]
    Decode(String),
    #[error("client could not be built: {0}")]
    Setup(String),
    /// A file outside WeCom's size limits for its media type (refused before sending).
    #[error("a {kind} of {bytes} bytes is outside WeCom's limits ({min}–{max} bytes)")]
    MediaSize {
        kind: &'static str,
        bytes: usize,
        min: usize,
        max: usize,
    },
}

impl ApiError {
    /// What to do about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Retryable { .. }
            | ApiError::TokenRejected { .. }
            | ApiError::Transport(_) => ErrorKind::Retryable,
            ApiError::Http { status } if *status >= 500 || *status == 429 => ErrorKind::Retryable,
            ApiError::Configuration { .. } | ApiError::Setup(_) => ErrorKind::Configuration,
            ApiError::InvalidWebhook { .. } => ErrorKind::InvalidWebhook,
            ApiError::InvalidRecipient { .. } => ErrorKind::InvalidRecipient,
            ApiError::Api { .. }
            | ApiError::Http { .. }
            | ApiError::Decode(_)
            | ApiError::MediaSize { .. } => ErrorKind::Permanent,
        }
    }

    /// Shorthand for `kind() == ErrorKind::Retryable`.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Retryable
    }

    /// The WeCom `errcode`, when WeCom answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            ApiError::Retryable { errcode, .. }
            | ApiError::Configuration { errcode, .. }
            | ApiError::InvalidWebhook { errcode, .. }
            | ApiError::InvalidRecipient { errcode, .. }
            | ApiError::TokenRejected { errcode, .. }
            | ApiError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    pub(crate) fn is_token_rejected(&self) -> bool {
        matches!(self, ApiError::TokenRejected { .. })
    }
}

/// Codes meaning "this access token is not (or no longer) valid": refresh once and retry once.
const TOKEN_CODES: [i64; 3] = [40014, 41001, 42001];
/// Busy (`-1`), frequency (`45009`) and concurrency (`45033`) limits.
const RETRYABLE_CODES: [i64; 3] = [-1, 45009, 45033];
/// Untrusted IP (`60020`), invalid secret (`40001`, `40091`), invalid corp id (`40013`), API not
/// permitted (`48002`), app disabled (`50003`), invalid agent id (`40056`).
const CONFIGURATION_CODES: [i64; 7] = [60020, 40001, 40091, 40013, 48002, 50003, 40056];
const INVALID_WEBHOOK: i64 = 93000;
/// All recipients invalid.
const INVALID_RECIPIENTS: i64 = 81013;

/// Maps a non-zero `errcode` to its typed error.
pub(crate) fn classify(errcode: i64, errmsg: String, invalid_users: Vec<String>) -> ApiError {
    if TOKEN_CODES.contains(&errcode) {
        ApiError::TokenRejected { errcode, errmsg }
    } else if RETRYABLE_CODES.contains(&errcode) {
        ApiError::Retryable { errcode, errmsg }
    } else if CONFIGURATION_CODES.contains(&errcode) {
        ApiError::Configuration { errcode, errmsg }
    } else if errcode == INVALID_WEBHOOK {
        ApiError::InvalidWebhook { errcode, errmsg }
    } else if errcode == INVALID_RECIPIENTS {
        ApiError::InvalidRecipient {
            errcode,
            errmsg,
            invalid_users,
        }
    } else {
        ApiError::Api { errcode, errmsg }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let kind = |code| classify(code, String::new(), vec![]).kind();
        assert_eq!(kind(-1), ErrorKind::Retryable);
        assert_eq!(kind(45009), ErrorKind::Retryable);
        assert_eq!(kind(45033), ErrorKind::Retryable);
        assert_eq!(kind(60020), ErrorKind::Configuration);
        assert_eq!(kind(40001), ErrorKind::Configuration);
        assert_eq!(kind(93000), ErrorKind::InvalidWebhook);
        assert_eq!(kind(81013), ErrorKind::InvalidRecipient);
        assert_eq!(kind(40058), ErrorKind::Permanent);
        assert!(classify(42001, String::new(), vec![]).is_token_rejected());
        assert!(classify(40014, String::new(), vec![]).is_token_rejected());
        assert_eq!(ApiError::Http { status: 502 }.kind(), ErrorKind::Retryable);
        assert_eq!(ApiError::Http { status: 404 }.kind(), ErrorKind::Permanent);
        assert_eq!(classify(45009, "x".into(), vec![]).errcode(), Some(45009));
        assert_eq!(ApiError::Transport("t".into()).errcode(), None);
    }
}
