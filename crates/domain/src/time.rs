//! Instants. Weige keeps time as UTC epoch milliseconds until it is shown.

use serde::{Deserialize, Serialize};

/// An instant: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    pub const MINUTE: i64 = 60_000;

    pub fn plus_minutes(self, minutes: i64) -> Millis {
        Millis(self.0.saturating_add(minutes.saturating_mul(Self::MINUTE)))
    }
}
