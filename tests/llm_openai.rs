//! The OpenAI-compatible backend against a real `llama-server` on 127.0.0.1 serving the same
//! SmolLM2 GGUF: the same acceptance tests as the embedded backend, plus the server really
//! stopping after a cancel, and clear errors for a refused connection, an HTTP error and a
//! server that never answers.
//!
//! The recall check runs on the default brain's model, the others on SmolLM2.
//!
//! Without `target/llama-server/bin/llama-server` (or `LLAMA_SERVER_BIN`) the server tests fail
//! with the command that builds it, `bash scripts/build_llama_server.sh` (`scripts/test.sh` runs
//! it before the tests).

#[path = "llm_common.rs"]
mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use duplex::llm::config::OpenAiConfig;
use duplex::llm::openai::OpenAiBackend;
use duplex::llm::{CancelToken, ChatMessage, LlmBackend, LlmError};

/// One server at a time: two would share the 2 cores and slow each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn backend(base_url: &str) -> OpenAiBackend {
    OpenAiBackend::new(OpenAiConfig {
        base_url: base_url.to_owned(),
        model: "smollm2".to_owned(),
        ..OpenAiConfig::default()
    })
}

fn hello() -> Vec<ChatMessage> {
    vec![ChatMessage {
        role: "user".into(),
        content: "Hello".into(),
    }]
}

#[test]
fn recalls_the_name() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = common::llama_server_on(&common::default_brain_model());
    common::recalls_the_name(Box::new(backend(&server.base_url)));
}

#[test]
fn cancel_stops_the_stream_and_the_server() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = common::llama_server();
    let mut backend = backend(&server.base_url);
    let finish = common::cancel_stops_the_stream(&mut backend, 5);
    assert!(finish.worker.is_none());
    // The connection was closed: the server notices and frees its slot within moments.
    let since = Instant::now();
    let deadline = since + Duration::from_secs(2);
    loop {
        let text = ureq::get(format!("{}/slots", server.root))
            .call()
            .expect("GET /slots")
            .body_mut()
            .read_to_string()
            .expect("slots");
        let slots: serde_json::Value = serde_json::from_str(&text).expect("slots JSON");
        let busy = slots
            .as_array()
            .is_some_and(|s| s.iter().any(|slot| slot["is_processing"] == true));
        if !busy {
            eprintln!("server idle {:?} after the stream ended", since.elapsed());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server is still generating: {slots}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The next reply opens a new connection and works.
    let reply = common::say(
        &mut duplex::llm::TurnManager::new(
            Box::new(backend),
            duplex::llm::Conversation::new("You are a helpful assistant.", 2048),
            common::greedy(16),
        ),
        "What is the capital of France?",
    );
    assert!(!reply.text.trim().is_empty());
    assert_ne!(reply.finish.reason, duplex::llm::FinishReason::Cancelled);
}

#[test]
fn interrupted_turn_is_cut_in_history() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = common::llama_server();
    common::interrupted_turn_is_cut(Box::new(backend(&server.base_url)));
}

#[test]
fn http_error_is_a_clear_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = common::llama_server();
    let mut b = backend(&format!("{}/no-such-api", server.root));
    let err = b
        .generate(&hello(), &common::greedy(4), &CancelToken::new())
        .expect("the request starts")
        .find_map(|e| e.err())
        .expect("an error");
    assert!(matches!(err, LlmError::Http { status: 404, .. }), "{err}");
    assert!(
        err.to_string().contains("/no-such-api/chat/completions"),
        "{err}"
    );
}

#[test]
fn refused_connection_is_a_clear_error() {
    let port = common::free_port();
    let mut b = backend(&format!("http://127.0.0.1:{port}/v1"));
    let start = Instant::now();
    let err = b
        .generate(&hello(), &common::greedy(4), &CancelToken::new())
        .expect("the request starts")
        .find_map(|e| e.err())
        .expect("an error");
    assert!(matches!(err, LlmError::Connect { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn silent_server_is_a_timeout_not_a_hang() {
    // A socket that accepts and never answers (no model is involved).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut sink = Vec::new();
        let _ = conn.read_to_end(&mut sink);
    });
    let mut b = OpenAiBackend::new(OpenAiConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        read_timeout_ms: 500,
        ..OpenAiConfig::default()
    });
    let start = Instant::now();
    let err = b
        .generate(&hello(), &common::greedy(4), &CancelToken::new())
        .expect("the request starts")
        .find_map(|e| e.err())
        .expect("an error");
    assert!(matches!(err, LlmError::Timeout { .. }), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // The holder thread ends when the client's socket closes; it is not waited for.
    drop(holder);
}
