use domain::GridCode;
use store::StoreError;

/// Why a use case did not happen. `web` maps each to a status and a `{code, message}` body.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not signed in")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("account locked until {until}")]
    Locked { until: i64 },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("conflict: {0}")]
    Conflict(String),
    /// A signed message whose timestamp is too far from now: perhaps a replay.
    #[error("stale timestamp")]
    Stale,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// Parses a grid code given by a user, as a field error.
pub fn parse_scope(field: &'static str, s: &str) -> Result<GridCode, AppError> {
    GridCode::parse(s)
        .map_err(|e| AppError::invalid(field, format!("网格编码无效 / bad grid code: {e}")))
}
