//! Which browser origins may call the API (CORS): the configured list, how an `Origin` header is
//! matched against it, and the headers an allowed origin gets.
//!
//! Tokens travel in the `Authorization` header, never in cookies, so the API never sends
//! `Access-Control-Allow-Credentials`, and allowing `*` exposes nothing a page could not already
//! send from a server of its own.

use http::HeaderValue;

/// The origins the development default admits: any port on the loopback names, which covers the
/// frontend's dev server (http://localhost:8080), Vite's (http://localhost:5173) and the rest.
pub const DEFAULT_ALLOWED_ORIGINS: &[&str] =
    &["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// Request headers a cross-origin caller may send.
pub const ALLOWED_REQUEST_HEADERS: &str = "authorization, content-type";

/// Response headers a cross-origin page may read besides the CORS-safelisted ones.
pub const EXPOSED_RESPONSE_HEADERS: &str = "retry-after, x-request-id";

/// How long, in seconds, a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE_SECONDS: &str = "600";

/// The configured CORS policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsPolicy {
    /// Every origin may call the API (`*`, only when asked for explicitly).
    AnyOrigin,
    /// Only origins matching one of these patterns may call the API; an empty list admits none.
    Origins(Vec<OriginPattern>),
}

/// One allowed origin: a scheme, a host and either one port or any port (`:*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    host: String,
    port: PortRule,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PortRule {
    /// The origin names no port: the scheme's default.
    Default,
    Exactly(u16),
    Any,
}

impl CorsPolicy {
    /// Builds the policy from configured origins: `*` alone, or origins such as
    /// `https://snake.example.com` or `http://localhost:*`.
    pub fn from_origins<S: AsRef<str>>(origins: &[S]) -> Result<Self, String> {
        if origins.iter().any(|origin| origin.as_ref().trim() == "*") {
            if origins.len() > 1 {
                return Err(
                    "CORS origin `*` admits every origin and cannot be combined with \
                            others"
                        .to_owned(),
                );
            }
            return Ok(Self::AnyOrigin);
        }
        origins
            .iter()
            .map(|origin| OriginPattern::parse(origin.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Origins)
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, or `None` when the
    /// origin is not allowed (and the response must carry no CORS headers).
    pub fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match self {
            Self::AnyOrigin => Some(HeaderValue::from_static("*")),
            Self::Origins(patterns) => {
                let origin_text = origin.to_str().ok()?;
                let parsed = ParsedOrigin::parse(origin_text)?;
                patterns
                    .iter()
                    .any(|pattern| pattern.admits(&parsed))
                    .then(|| origin.clone())
            }
        }
    }

    /// Whether the answer depends on the request's `Origin`, so caches must key on it (`Vary`).
    pub fn varies_by_origin(&self) -> bool {
        !matches!(self, Self::AnyOrigin)
    }
}

impl OriginPattern {
    fn parse(text: &str) -> Result<Self, String> {
        let explain = |problem: &str| {
            format!(
                "CORS origin `{text}` {problem}; write `*` or an origin such as \
                 `https://snake.example.com`, `http://localhost:5173` or `http://localhost:*`"
            )
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| explain("has no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(explain("must use http or https"));
        }
        let (host, port) = split_host_and_port(rest).ok_or_else(|| explain("is not an origin"))?;
        let port = match port {
            None => PortRule::Default,
            Some("*") => PortRule::Any,
            Some(digits) => {
                PortRule::Exactly(digits.parse().map_err(|_| explain("has an invalid port"))?)
            }
        };
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn admits(&self, origin: &ParsedOrigin<'_>) -> bool {
        let port_matches = match (&self.port, origin.port) {
            (PortRule::Any, _) => true,
            (PortRule::Default, None) => true,
            (PortRule::Exactly(expected), Some(actual)) => *expected == actual,
            (PortRule::Default, Some(_)) | (PortRule::Exactly(_), None) => false,
        };
        port_matches
            && self.scheme.eq_ignore_ascii_case(origin.scheme)
            && self.host.eq_ignore_ascii_case(origin.host)
    }
}

/// An `Origin` header as a browser sends it: `scheme://host[:port]`, nothing more.
struct ParsedOrigin<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

impl<'a> ParsedOrigin<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let (host, port) = split_host_and_port(rest)?;
        let port = match port {
            None => None,
            Some(digits) => Some(digits.parse().ok()?),
        };
        Some(Self { scheme, host, port })
    }
}

/// Splits `host[:port]` (with `[v6]` hosts), refusing paths, user info, queries and empty hosts.
fn split_host_and_port(text: &str) -> Option<(&str, Option<&str>)> {
    if text.is_empty() || text.contains(['/', '@', '?', '#', ' ']) {
        return None;
    }
    let (host, port) = if let Some(after_bracket) = text.strip_prefix('[') {
        let end = after_bracket.find(']')?;
        let host = &text[..end + 2];
        match &text[end + 2..] {
            "" => (host, None),
            rest => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    (!host.is_empty() && port != Some("")).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(policy: &CorsPolicy, origin: &'static str) -> Option<HeaderValue> {
        policy.allow_origin(&HeaderValue::from_static(origin))
    }

    #[test]
    fn the_default_admits_any_port_on_the_loopback_names_and_nothing_else() {
        let policy = CorsPolicy::from_origins(DEFAULT_ALLOWED_ORIGINS).unwrap();
        for origin in [
            "http://localhost:8080",
            "http://localhost:5173",
            "http://127.0.0.1:5173",
            "http://[::1]:3000",
            "http://LOCALHOST:8080",
        ] {
            assert_eq!(allowed(&policy, origin).unwrap(), origin, "{origin}");
        }
        for origin in [
            "https://localhost:8080",
            "http://localhost.evil.example:8080",
            "http://evil.example",
            "null",
            "http://127.0.0.2:8080",
        ] {
            assert_eq!(allowed(&policy, origin), None, "{origin}");
        }
        assert!(policy.varies_by_origin());
    }

    #[test]
    fn an_exact_origin_admits_only_its_own_port() {
        let policy = CorsPolicy::from_origins(&["https://snake.example.com"]).unwrap();
        assert!(allowed(&policy, "https://snake.example.com").is_some());
        assert!(allowed(&policy, "https://snake.example.com:8443").is_none());
        assert!(allowed(&policy, "http://snake.example.com").is_none());
        let policy = CorsPolicy::from_origins(&["http://localhost:5173"]).unwrap();
        assert!(allowed(&policy, "http://localhost:5173").is_some());
        assert!(allowed(&policy, "http://localhost:5174").is_none());
    }

    #[test]
    fn a_star_admits_everyone_and_must_stand_alone() {
        let policy = CorsPolicy::from_origins(&["*"]).unwrap();
        assert_eq!(allowed(&policy, "http://anything.example").unwrap(), "*");
        assert!(!policy.varies_by_origin());
        assert!(CorsPolicy::from_origins(&["*", "http://localhost:*"]).is_err());
    }

    #[test]
    fn an_empty_list_admits_no_origin() {
        let policy = CorsPolicy::from_origins::<&str>(&[]).unwrap();
        assert!(allowed(&policy, "http://localhost:8080").is_none());
    }

    #[test]
    fn malformed_origins_are_refused_with_an_example_of_a_good_one() {
        for origin in [
            "localhost:8080",
            "ftp://example.com",
            "http://example.com/app",
            "http://example.com:port",
            "http://",
            "http://user@example.com",
        ] {
            let error = CorsPolicy::from_origins(&[origin]).unwrap_err();
            assert!(error.contains(origin), "{error}");
            assert!(error.contains("http://localhost:5173"), "{error}");
        }
    }
}
