//! The memory between calls in `duplex serve`: one profile per browser, never shared.
//!
//! The page's first load gives the browser a random id (128 bits from the system's random
//! source) in a cookie that scripts cannot read (`HttpOnly`), that no other site's request
//! carries (`SameSite=Strict`) and, under HTTPS, that travels only over it (`Secure`). A call
//! from that browser uses the profile named by a digest of the id (see
//! [`crate::profile::web_profile`]); a request without the cookie gets no memory at all.
//!
//! `GET /memory` lists what is remembered for the browser asking, `POST /memory/forget` (JSON:
//! `{"id": N}` or `{"all": true}`) forgets it; both pass the offer's host and origin checks (see
//! [`super::guard`]), and the POST must be JSON, which another site's page cannot send without a
//! preflight this server never grants.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::profile::{MemoryConfig, Profile, Store, web_profile};

/// The cookie's name.
pub const COOKIE: &str = "duplex_profile";
/// How long a browser keeps its id: a year, renewed at each visit.
const COOKIE_MAX_AGE_S: u64 = 365 * 24 * 3600;

/// Where the server keeps its browsers' profiles.
#[derive(Debug, Clone)]
pub struct WebMemory {
    /// The data directory holding the store.
    pub data_dir: PathBuf,
    /// The `[memory]` settings.
    pub settings: MemoryConfig,
    /// Whether the page is served over HTTPS (the cookie is then `Secure`).
    pub secure: bool,
}

impl WebMemory {
    /// The profile of the browser that sent `headers`, for a call; none without its cookie. A
    /// store that cannot be used is logged, and the call goes on without memory.
    pub fn open_profile(&self, browser: &str) -> Option<Profile> {
        match Profile::open(&self.data_dir, &web_profile(browser), &self.settings) {
            Ok(profile) => Some(profile),
            Err(e) => {
                tracing::error!("memory: {e}. This call goes on without memory.");
                None
            }
        }
    }

    /// The `Set-Cookie` value giving a browser `id`.
    fn cookie(&self, id: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{COOKIE}={id}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Strict{secure}"
        )
    }
}

/// The browser id in `headers`' cookies, if it has the form this server gives (32 hex digits).
pub fn browser_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A new browser id: 128 random bits as hex.
fn new_browser_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The page's response with the browser's cookie: a new id when it has none, the same one
/// renewed otherwise (no cookie at all when memory is off).
pub fn with_cookie(state: &AppState, headers: &HeaderMap, mut page: Response) -> Response {
    let Some(memory) = &state.memory else {
        return page;
    };
    let id = match browser_id(headers) {
        Some(id) => id,
        None => match new_browser_id() {
            Ok(id) => id,
            Err(e) => {
                tracing::error!("no random id for a browser's profile ({e}); it gets no memory");
                return page;
            }
        },
    };
    if let Ok(value) = HeaderValue::from_str(&memory.cookie(&id)) {
        page.headers_mut().insert(header::SET_COOKIE, value);
    }
    page
}

/// Refuses a request that fails the offer's host and origin checks (and, for a POST, is not
/// JSON).
fn refused(
    state: &AppState,
    headers: &HeaderMap,
    media_type: Option<&'static str>,
) -> Option<Response> {
    let refusal = state
        .options
        .origins
        .check_typed(headers, media_type)
        .err()?;
    state.metrics.refused("origin");
    tracing::warn!("memory request refused: {refusal}");
    Some((refusal.status(), format!("{refusal}\n")).into_response())
}

/// Runs `work` on the store of the browser that sent `headers` (its profile), off the runtime.
async fn with_store<T: Send + 'static>(
    memory: &WebMemory,
    browser: String,
    work: impl FnOnce(&Store, &str) -> Result<T, crate::profile::StoreError> + Send + 'static,
) -> Result<Option<T>, Response> {
    let dir = memory.data_dir.clone();
    let done = tokio::task::spawn_blocking(move || {
        let profile = web_profile(&browser);
        match Store::open(&dir, false)? {
            Some(store) => work(&store, &profile).map(Some),
            None => Ok(None),
        }
    })
    .await;
    match done {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => {
            tracing::error!("memory: {e}");
            Err((StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response())
        }
        Err(e) => {
            tracing::error!("memory request failed: {e}");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// `GET /memory`: what is remembered for this browser, newest first.
pub async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&state, &headers, None) {
        return refusal;
    }
    let (Some(memory), Some(browser)) = (&state.memory, browser_id(&headers)) else {
        let enabled = state.memory.is_some();
        return axum::Json(json!({ "enabled": enabled, "memories": [] })).into_response();
    };
    match with_store(memory, browser, |store, profile| store.list(Some(profile))).await {
        Ok(memories) => {
            let memories = memories.unwrap_or_default();
            axum::Json(json!({ "enabled": true, "memories": memories })).into_response()
        }
        Err(response) => response,
    }
}

/// The body of `POST /memory/forget`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgetBody {
    id: Option<i64>,
    #[serde(default)]
    all: bool,
}

/// `POST /memory/forget`: forgets one of this browser's memories, or all of them.
pub async fn forget(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refused(&state, &headers, Some("application/json")) {
        return refusal;
    }
    let bad = |m: &str| (StatusCode::BAD_REQUEST, format!("{m}\n")).into_response();
    let (Some(memory), Some(browser)) = (&state.memory, browser_id(&headers)) else {
        return bad("this browser has no memory on this server (memory is off, or no cookie)");
    };
    let request: ForgetBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad(&format!("send {{\"id\": N}} or {{\"all\": true}} ({e})")),
    };
    let forgotten = match (request.id, request.all) {
        (None, true) => {
            with_store(memory, browser, |store, profile| {
                store.forget_all(Some(profile))
            })
            .await
        }
        (Some(id), false) => {
            with_store(memory, browser, move |store, profile| {
                store.forget(Some(profile), id).map(usize::from)
            })
            .await
        }
        _ => return bad("send either {\"id\": N} or {\"all\": true}"),
    };
    match forgotten {
        Ok(n) => {
            let n = n.unwrap_or(0);
            if n == 0 && request.id.is_some() {
                return (StatusCode::NOT_FOUND, "this browser has no such memory\n")
                    .into_response();
            }
            axum::Json(json!({ "forgotten": n })).into_response()
        }
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_id_is_read_from_its_cookie_only() {
        let id = new_browser_id().unwrap();
        assert_eq!(id.len(), 32);
        assert_ne!(id, new_browser_id().unwrap());
        let mut headers = HeaderMap::new();
        let cookie = format!("theme=dark; {COOKIE}={id}; other=1");
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(browser_id(&headers), Some(id));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("duplex_profile=../../etc"),
        );
        assert_eq!(browser_id(&headers), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_under_https() {
        let mut memory = WebMemory {
            data_dir: PathBuf::new(),
            settings: MemoryConfig::default(),
            secure: false,
        };
        let plain = memory.cookie("ab");
        assert!(
            plain.contains("HttpOnly") && plain.contains("SameSite=Strict"),
            "{plain}"
        );
        assert!(
            !plain.contains("Secure;") && !plain.ends_with("Secure"),
            "{plain}"
        );
        memory.secure = true;
        assert!(memory.cookie("ab").ends_with("; Secure"));
    }
}
