//! Who may start a session (and see or forget a browser's memory, see `super::profiles`, with
//! the same checks and its own media type). `POST /offer` is accepted only:
//!
//! - with `Content-Type: application/sdp`. A page on another site can send that type only after
//!   a CORS preflight, which this server never grants; the "simple" `text/plain` request such a
//!   page can send without one is refused here, before any work is done;
//! - addressed to a host this server answers to: an IP address, `localhost`, or a name given
//!   with `--allow-origin`. A page whose DNS name is re-pointed at this machine (DNS
//!   rebinding) is same-origin with itself, so only the host name tells it apart;
//! - from a page this server served (its `Origin` is the request's own host), or from an origin
//!   given with `--allow-origin`;
//! - with an `Origin` at all, unless the server was started with `--allow-programs`. Every
//!   browser sends `Origin` with a POST, so an offer without one comes from a program (a WebRTC
//!   library, a load test), not from a page. What a user of the server expects is that only
//!   its page starts calls unless they let programs in on purpose; `--allow-programs` does, for
//!   offers and for `POST /memory/forget`. This is no authentication (a program can send the
//!   page's own `Origin`): the admission caps (see `super::admission`) are what keep any one
//!   client from holding the server.
//!
//! `GET /health` and `GET /metrics` pass the same host check ([`OriginPolicy::check_host`]): a
//! page on a re-pointed DNS name cannot read them either. A monitoring system reaches them by
//! IP address or `localhost`, or by a name given with `--allow-origin`.

use axum::http::{HeaderMap, StatusCode, header};

/// The hosts and extra origins `/offer` accepts.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Origins allowed besides the server's own, as `scheme://host[:port]`, lower case.
    origins: Vec<String>,
    /// Host names (without port) the server answers to besides IP addresses and `localhost`.
    hosts: Vec<String>,
    /// Whether POSTs without an `Origin` (programs) are accepted.
    programs: bool,
}

/// Why an offer was refused before it was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not the request's media type (`application/sdp` for an offer).
    #[error(
        "this request must be sent with Content-Type: {expected} (got {got}); the duplex page does this"
    )]
    ContentType {
        /// The media type the request must have.
        expected: &'static str,
        /// What it had ("none" when it had none).
        got: String,
    },
    /// The `Host` is a name the server was not told about.
    #[error(
        "this server does not answer to the host name {0:?}; open it by its IP address or localhost, or restart it with --allow-origin http://{0}:PORT"
    )]
    Host(String),
    /// The page that sent it was served by another site.
    #[error(
        "offers are accepted only from the page this server serves, not from {0}; restart with --allow-origin {0} to allow that site"
    )]
    Origin(String),
    /// No `Origin`: a program, not a browser page, and programs were not let in.
    #[error(
        "this request has no Origin header, so it did not come from a browser page; a program may start calls only when the server is started with --allow-programs"
    )]
    NoOrigin,
}

impl Refusal {
    /// The HTTP status the refusal is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::ContentType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Host(_) | Self::Origin(_) | Self::NoOrigin => StatusCode::FORBIDDEN,
        }
    }
}

impl OriginPolicy {
    /// A policy allowing these origins (`http://name:port`, `https://name`) besides the
    /// server's own; their host names become names the server answers to. An entry that is not
    /// an origin is an error that says so.
    pub fn new(allowed: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for origin in allowed {
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let Some((scheme, authority)) = origin.split_once("://") else {
                return Err(format!(
                    "--allow-origin {origin:?} is not an origin: write it as http://host:port or https://host"
                ));
            };
            if !matches!(scheme, "http" | "https")
                || authority.is_empty()
                || authority.contains('/')
            {
                return Err(format!(
                    "--allow-origin {origin:?} is not an origin: write it as http://host:port or https://host"
                ));
            }
            policy.hosts.push(host_of(authority).to_owned());
            policy.origins.push(origin);
        }
        Ok(policy)
    }

    /// Accepts POSTs without an `Origin` header (programs), or not (the default).
    pub fn allow_programs(mut self, allowed: bool) -> Self {
        self.programs = allowed;
        self
    }

    /// The host names of the allowed origins.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Checks an offer's headers; `Err` says what to fix.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        self.check_typed(headers, Some("application/sdp"))
    }

    /// Checks only that the request is addressed to a host this server answers to (for the
    /// GETs that change nothing, `/health` and `/metrics`).
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = text(headers, header::HOST.as_str()).to_ascii_lowercase();
        let name = host_of(&host);
        if name.is_empty() || self.answers_to(name) {
            Ok(())
        } else {
            Err(Refusal::Host(name.to_owned()))
        }
    }

    /// Checks a request's headers as an offer's, with `media_type` as its Content-Type (none:
    /// any, for a GET, which may come without an `Origin`); `Err` says what to fix.
    pub fn check_typed(
        &self,
        headers: &HeaderMap,
        media_type: Option<&'static str>,
    ) -> Result<(), Refusal> {
        let content_type = text(headers, header::CONTENT_TYPE.as_str());
        let sent = content_type.split(';').next().unwrap_or("").trim();
        if let Some(expected) = media_type
            && !sent.eq_ignore_ascii_case(expected)
        {
            let got = if content_type.is_empty() {
                "none".to_owned()
            } else {
                content_type.to_owned()
            };
            return Err(Refusal::ContentType { expected, got });
        }
        self.check_host(headers)?;
        let host = text(headers, header::HOST.as_str()).to_ascii_lowercase();
        let Some(origin) = headers.get(header::ORIGIN) else {
            // A program, not a page: a GET may (a same-origin GET carries no Origin), a POST
            // only when programs were let in.
            return if media_type.is_none() || self.programs {
                Ok(())
            } else {
                Err(Refusal::NoOrigin)
            };
        };
        let origin = origin
            .to_str()
            .unwrap_or("null")
            .trim()
            .to_ascii_lowercase();
        let own = origin
            .split_once("://")
            .is_some_and(|(_, authority)| !host.is_empty() && authority == host);
        if own || self.origins.contains(&origin) {
            Ok(())
        } else {
            Err(Refusal::Origin(origin))
        }
    }

    fn answers_to(&self, name: &str) -> bool {
        name == "localhost"
            || name
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok()
            || self.hosts.iter().any(|h| h == name)
    }
}

/// A header's text, or "" when absent or not text.
fn text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The host of `host[:port]` or `[v6]:port`, without the port.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const SDP: (&str, &str) = ("content-type", "application/sdp");

    #[test]
    fn the_served_page_and_programs_may_offer() {
        let policy = OriginPolicy::default();
        let page = headers(&[
            SDP,
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert_eq!(policy.check(&page), Ok(()));
        let v6 = headers(&[SDP, ("host", "[::1]:8080"), ("origin", "http://[::1]:8080")]);
        assert_eq!(policy.check(&v6), Ok(()));
        let local = headers(&[
            ("content-type", "Application/SDP; charset=utf-8"),
            ("host", "localhost:8080"),
            ("origin", "http://localhost:8080"),
        ]);
        assert_eq!(policy.check(&local), Ok(()));
        let program = headers(&[SDP, ("host", "127.0.0.1:8080")]);
        assert_eq!(policy.check(&program), Err(Refusal::NoOrigin));
        assert_eq!(policy.check_typed(&program, None), Ok(()), "a GET");
        let programs = OriginPolicy::default().allow_programs(true);
        assert_eq!(programs.check(&program), Ok(()));
    }

    #[test]
    fn health_and_metrics_need_a_host_the_server_answers_to() {
        let policy = OriginPolicy::new(&["https://duplex.lan:8443".into()]).unwrap();
        for host in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "localhost",
            "duplex.lan:8443",
            "",
        ] {
            let get = headers(&[("host", host)]);
            assert_eq!(policy.check_host(&get), Ok(()), "{host}");
        }
        let rebound = headers(&[("host", "evil.example:8080")]);
        assert_eq!(
            policy.check_host(&rebound),
            Err(Refusal::Host("evil.example".into()))
        );
    }

    #[test]
    fn other_sites_and_rebound_names_are_refused() {
        let policy = OriginPolicy::default();
        let simple = headers(&[
            ("content-type", "text/plain;charset=UTF-8"),
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert!(matches!(
            policy.check(&simple),
            Err(Refusal::ContentType { .. })
        ));
        assert!(matches!(
            policy.check(&headers(&[("host", "127.0.0.1:8080")])),
            Err(Refusal::ContentType { got, .. }) if got == "none"
        ));
        let get = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert!(matches!(
            policy.check_typed(&get, None),
            Err(Refusal::Origin(_))
        ));
        let json = headers(&[SDP, ("host", "127.0.0.1:8080")]);
        assert!(matches!(
            policy.check_typed(&json, Some("application/json")),
            Err(Refusal::ContentType {
                expected: "application/json",
                ..
            })
        ));
        let foreign = headers(&[
            SDP,
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(
            policy.check(&foreign),
            Err(Refusal::Origin("https://evil.example".into()))
        );
        let other_port = headers(&[
            SDP,
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9999"),
        ]);
        assert!(matches!(policy.check(&other_port), Err(Refusal::Origin(_))));
        let null = headers(&[SDP, ("host", "127.0.0.1:8080"), ("origin", "null")]);
        assert!(matches!(policy.check(&null), Err(Refusal::Origin(_))));
        let rebound = headers(&[
            SDP,
            ("host", "evil.example:8080"),
            ("origin", "http://evil.example:8080"),
        ]);
        assert_eq!(
            policy.check(&rebound),
            Err(Refusal::Host("evil.example".into()))
        );
        assert_eq!(Refusal::Host(String::new()).status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn allowed_origins_and_their_names_are_accepted() {
        let policy = OriginPolicy::new(&["https://Duplex.lan:8443/".into()]).unwrap();
        let named = headers(&[
            SDP,
            ("host", "duplex.lan:8443"),
            ("origin", "https://duplex.lan:8443"),
        ]);
        assert_eq!(policy.check(&named), Ok(()));
        let elsewhere = headers(&[
            SDP,
            ("host", "192.168.1.20:8443"),
            ("origin", "https://duplex.lan:8443"),
        ]);
        assert_eq!(policy.check(&elsewhere), Ok(()));
        assert!(OriginPolicy::new(&["duplex.lan".into()]).is_err());
        assert!(OriginPolicy::new(&["ftp://duplex.lan".into()]).is_err());
    }
}
