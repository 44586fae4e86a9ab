//! The bearer token of `duplex serve --api-key` on `/v1/realtime`: when one is set, every client
//! must send it (`Authorization: Bearer KEY`, what an OpenAI SDK sends as its `api_key`), and a
//! client that does is a program let in on purpose, so it needs no `Origin`. Without one, the
//! Origin rule alone decides (see [`super`]).

use axum::http::{HeaderMap, StatusCode, header};

/// Why a client was refused: 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unauthorized {
    /// No bearer token sent.
    #[error(
        "this server requires an API key: send Authorization: Bearer KEY with the key duplex serve was started with (--api-key), as an OpenAI SDK does with its api_key"
    )]
    Missing,
    /// Another token than the server's.
    #[error("the API key sent is not the one this server was started with (--api-key)")]
    Wrong,
}

impl Unauthorized {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }
}

/// Whether the request carries the server's key: `Ok(true)` when it does, `Ok(false)` when the
/// server has none, `Err` when it has one and the request does not.
pub fn check(key: Option<&str>, headers: &HeaderMap) -> Result<bool, Unauthorized> {
    let Some(key) = key else {
        return Ok(false);
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or(Unauthorized::Missing)?;
    if same(sent.as_bytes(), key.as_bytes()) {
        Ok(true)
    } else {
        Err(Unauthorized::Wrong)
    }
}

/// Compares in time that depends only on the lengths, not on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_server_s_bearer_token_passes_when_one_is_set() {
        assert_eq!(check(None, &HeaderMap::new()), Ok(false));
        assert_eq!(
            check(Some("k3y"), &HeaderMap::new()),
            Err(Unauthorized::Missing)
        );
        assert_eq!(
            check(Some("k3y"), &with("Basic k3y")),
            Err(Unauthorized::Missing)
        );
        assert_eq!(
            check(Some("k3y"), &with("Bearer k3z")),
            Err(Unauthorized::Wrong)
        );
        assert_eq!(
            check(Some("k3y"), &with("Bearer k3yy")),
            Err(Unauthorized::Wrong)
        );
        assert_eq!(check(Some("k3y"), &with("bearer k3y")), Ok(true));
    }
}
