//! The org's daily API allocation: a counter, the `Sforce-Limit-Info` header and the
//! `/limits` document.

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Used and allowed API requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Requests counted so far.
    pub used: u64,
    /// The allocation.
    pub max: u64,
}

impl Usage {
    /// Nothing used yet.
    pub fn new(max: u64) -> Usage {
        Usage { used: 0, max }
    }

    /// Counts one request, or refuses it with `REQUEST_LIMIT_EXCEEDED` (not counted) at the cap.
    pub fn count(&mut self) -> Result<()> {
        if self.used >= self.max {
            return Err(Error::RequestLimitExceeded);
        }
        self.used += 1;
        Ok(())
    }

    /// The `Sforce-Limit-Info` header value.
    pub fn header(&self) -> String {
        format!("api-usage={}/{}", self.used, self.max)
    }

    /// The `/limits` resource: `DailyApiRequests` from this counter plus a few fixed entries.
    pub fn document(&self) -> Value {
        json!({
            "DailyApiRequests": {"Max": self.max, "Remaining": self.max.saturating_sub(self.used)},
            "DailyAsyncApexExecutions": {"Max": 250_000, "Remaining": 250_000},
            "DailyBulkApiBatches": {"Max": 15_000, "Remaining": 15_000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
            "SingleEmail": {"Max": 15, "Remaining": 15},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_cap_then_refuses_without_counting() {
        let mut u = Usage::new(2);
        assert!(
            u.count().is_ok() && u.count().is_ok(),
            "two calls fit a limit of two"
        );
        assert_eq!(
            u.count(),
            Err(Error::RequestLimitExceeded),
            "the third is refused"
        );
        assert_eq!(u.used, 2, "refusals are not counted");
        assert_eq!(u.header(), "api-usage=2/2", "header is used/max");
        assert_eq!(
            u.document()["DailyApiRequests"]["Remaining"],
            0,
            "nothing remains"
        );
    }
}
