//! The `Sforce-Limit-Info: api-usage=N/M` header every REST response carries.

use http::HeaderMap;

/// The org's rolling 24-hour API usage as Salesforce last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    /// Calls used in the window.
    pub used: u64,
    /// The org's allocation.
    pub max: u64,
}

/// Name of the header carrying the usage.
pub const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

/// Parse the `api-usage=N/M` token of one header value; other tokens (`per-app-api-usage=…`)
/// are ignored.
pub fn parse_limit_info(value: &str) -> Option<ApiUsage> {
    value.split([';', ',']).find_map(|part| {
        let rest = part.trim().strip_prefix("api-usage=")?;
        let (used, max) = rest.split_once('/')?;
        let max = max.trim();
        let max_digits: &str = &max[..max.find(|c: char| !c.is_ascii_digit()).unwrap_or(max.len())];
        Some(ApiUsage {
            used: used.trim().parse().ok()?,
            max: max_digits.parse().ok()?,
        })
    })
}

/// The usage from a response's headers, if it carries one.
pub fn parse_api_usage(headers: &HeaderMap) -> Option<ApiUsage> {
    headers
        .get_all(LIMIT_INFO_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_limit_info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn plain_and_per_app_forms() {
        assert_eq!(
            parse_limit_info("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000
            }),
            "the documented plain form"
        );
        assert_eq!(
            parse_limit_info("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-app)"),
            Some(ApiUsage {
                used: 25,
                max: 5000
            }),
            "only the org-wide api-usage token counts"
        );
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=x)"),
            None,
            "per-app usage alone is not the org figure"
        );
        assert_eq!(
            parse_limit_info("api-usage=x/5000"),
            None,
            "garbage is ignored, not a panic"
        );
        assert_eq!(
            parse_limit_info("api-usage=5"),
            None,
            "missing max is ignored"
        );
    }

    #[test]
    fn header_lookup_is_case_insensitive() {
        let mut h = HeaderMap::new();
        h.insert(
            "Sforce-Limit-Info",
            HeaderValue::from_static("api-usage=1/15000"),
        );
        assert_eq!(
            parse_api_usage(&h),
            Some(ApiUsage {
                used: 1,
                max: 15000
            }),
            "HTTP header names are case-insensitive"
        );
        assert_eq!(
            parse_api_usage(&HeaderMap::new()),
            None,
            "no header, no usage"
        );
    }
}
