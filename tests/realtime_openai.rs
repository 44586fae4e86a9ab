//! `GET /v1/realtime` of `duplex serve` (OpenAI's Realtime protocol) against a client nobody here
//! wrote: the official `openai` Python package's realtime client (`tests/realtime_openai/
//! client.py`, pinned in `scripts/setup_test_deps.sh`) holds a spoken turn (a fixture recording,
//! resampled to 24 kHz, streamed in real time) with a server running the shipped models, after
//! bad input on the same socket and after another client vanished mid-session, its `api_key`
//! being the server's `--api-key`, then a turn spoken over the reply (cancelled, `turn_detected`,
//! and the new turn answered), then a turn committed by the client with turn detection off, then
//! a reply cancelled by the client at its first audio; and
//! the upgrade's admission (the Origin rule, the call cap, the bearer token) against the server
//! in tone mode, over raw HTTP.
//!
//! Needs the models (`bash scripts/setup.sh`) and `python3 -m pip install
//! "openai[realtime]==2.8.1"`; a missing package fails the test with that command.

#[path = "support/serve_process.rs"]
mod serve_process;
use serve_process::{Server, start};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Upper bound of every wait for the server (engines loading on a busy machine): a guard against
/// a hang, not a timing check.
const PATIENCE: Duration = Duration::from_secs(300);

const OPENAI_PIN: &str = "openai[realtime]==2.8.1";

/// The API key the SDK test's server is started with and its client sends.
const SDK_KEY: &str = "duplex-test-key";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Sends `request` on a new connection; the status line's code and the rest of the answer read
/// within a second (a WebSocket stays open), and the connection.
fn request(server: &Server, request: &str) -> (u16, String, TcpStream) {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer, stream)
}

fn health(server: &Server) -> Value {
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    let (_, answer, _) = request(server, &head);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Waits until `/health` satisfies `ready`.
fn wait_for(server: &Server, what: &str, ready: impl Fn(&Value) -> bool) {
    let start = Instant::now();
    loop {
        let now = health(server);
        if ready(&now) {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "waited for {what}: {now}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn upgrade(server: &Server, origin: Option<&str>) -> (u16, String, TcpStream) {
    upgrade_with(server, origin, "")
}

/// A WebSocket upgrade to `/v1/realtime`, with `extra` header lines.
fn upgrade_with(server: &Server, origin: Option<&str>, extra: &str) -> (u16, String, TcpStream) {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let head = format!(
        "GET /v1/realtime?model=duplex HTTP/1.1\r\nHost: {}\r\n{origin}{extra}Upgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    request(server, &head)
}

#[test]
fn the_upgrade_is_admitted_like_an_offer() {
    let server = start(&["--measure-tone-after-ms", "300"]);
    let (status, answer, _) = upgrade(&server, None);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("--allow-programs"), "{answer}");
    let (status, answer, _) = upgrade(&server, Some("http://evil.example"));
    assert_eq!(status, 403, "{answer}");
    let own = format!("http://{}", server.addr);
    let (status, answer, _held) = upgrade(&server, Some(&own));
    assert_eq!(status, 101, "{answer}");
    drop(server);

    let server = start(&[
        "--measure-tone-after-ms",
        "300",
        "--allow-programs",
        "--max-sessions",
        "1",
    ]);
    let (status, answer, held) = upgrade(&server, None);
    assert_eq!(status, 101, "{answer}");
    assert!(answer.contains("session.created"), "{answer}");
    wait_for(&server, "the call slot taken", |h| h["sessions"] == 1);
    let (status, answer, _) = upgrade(&server, None);
    // One address on a loopback-only server may hold every call: its share is the cap.
    assert_eq!(status, 429, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after"),
        "{answer}"
    );
    assert!(answer.contains("--max-sessions"), "{answer}");
    drop(held);
    wait_for(&server, "the slot given back", |h| h["sessions"] == 0);
    drop(server);

    // With an API key: its bearer token is needed, and lets a program in without an Origin.
    let server = start(&["--measure-tone-after-ms", "300", "--api-key", "s3cret"]);
    let (status, answer, _) = upgrade_with(&server, None, "");
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("--api-key"), "{answer}");
    let (status, answer, _) = upgrade_with(&server, None, "Authorization: Bearer s3cre7\r\n");
    assert_eq!(status, 401, "{answer}");
    let (status, answer, _held) = upgrade_with(&server, None, "Authorization: Bearer s3cret\r\n");
    assert_eq!(status, 101, "{answer}");
}

/// Runs the Python client's `scenario` with audio-fixtures/`fixture`; its JSON report.
fn client(server: &Server, scenario: &str, fixture: &str) -> Value {
    let check = Command::new("python3")
        .args(["-c", "import openai, websockets"])
        .output();
    assert!(
        check.is_ok_and(|o| o.status.success()),
        "the openai package is missing: python3 -m pip install \"{OPENAI_PIN}\" \
         (or bash scripts/setup_test_deps.sh)"
    );
    let output = Command::new("timeout")
        .arg(PATIENCE.as_secs().to_string())
        .arg("python3")
        .arg(repo().join("tests/realtime_openai/client.py"))
        .arg(format!("ws://{}/v1", server.addr))
        .arg(repo().join("audio-fixtures").join(fixture))
        .arg(scenario)
        .arg(SDK_KEY)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client.py {scenario} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("a JSON report")
}

/// Whether `events` holds `expected` in this order (others between them).
fn in_order(events: &[Value], expected: &[&str]) -> bool {
    let mut seen = events.iter().filter_map(Value::as_str);
    expected.iter().all(|want| seen.any(|e| e == *want))
}

#[test]
fn the_openai_sdk_holds_spoken_turns_with_server_vad_barge_in_manual_commit_and_cancel() {
    // The SDK's api_key is the server's bearer token (no --allow-programs needed).
    let server = start(&["--api-key", SDK_KEY]);
    wait_for(&server, "the spare engines", |h| {
        h["spare_engines_ready"] == true
    });

    let gone = client(&server, "vanish", "001.wav");
    assert_eq!(gone["first_event"], "session.created", "{gone}");
    // Its session ends on its own and gives its slot back.
    wait_for(&server, "the vanished client's session to end", |h| {
        h["sessions"] == 0
    });
    wait_for(&server, "the next spare engines", |h| {
        h["spare_engines_ready"] == true
    });

    let turn = client(&server, "turn", "001.wav");
    let errors: Vec<&str> = turn["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        errors,
        ["invalid_json", "unknown_event_type", "audio_too_large"],
        "{turn}"
    );
    let events = turn["events"].as_array().expect("events");
    let flow = [
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.created",
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.done",
    ];
    assert!(in_order(events, &flow), "{turn}");
    // The fixture says "ten of clubs".
    let heard = turn["user_transcript"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    assert!(heard.contains("10") || heard.contains("ten"), "{turn}");
    assert_eq!(turn["response_status"], "completed", "{turn}");
    // Half a second of voice at least, and its words.
    assert!(
        turn["reply_audio_samples"].as_u64().unwrap_or(0) > 12_000,
        "{turn}"
    );
    let said = turn["reply_transcript_done"].as_str().unwrap_or("");
    assert!(said.split_whitespace().count() >= 2, "{turn}");
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let deltas = turn["reply_transcript_deltas"].as_str().unwrap_or("");
    assert_eq!(words(deltas), words(said), "{turn}");

    // Barge-in: the user speaks again over the reply (once a second of it was sent); the reply
    // is cancelled as the protocol says (turn_detected) and the new turn answered.
    wait_for(&server, "the spare engines again", |h| {
        h["spare_engines_ready"] == true
    });
    let over = client(&server, "barge_in", "002.wav");
    let statuses: Vec<&str> = over["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(statuses.first(), Some(&"cancelled:turn_detected"), "{over}");
    assert_eq!(statuses.last(), Some(&"completed:None"), "{over}");
    let heard = over["user_transcripts"].as_array().map_or(0, Vec::len);
    assert!(heard >= 2, "{over}");

    // Turn detection off: the whole recording in one append, committed, a response asked for.
    wait_for(&server, "the spare engines once more", |h| {
        h["spare_engines_ready"] == true
    });
    let manual = client(&server, "commit", "001.wav");
    let events = manual["events"].as_array().expect("events");
    let flow = [
        "session.updated",
        "input_audio_buffer.committed",
        "response.created",
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio.delta",
        "response.done",
    ];
    assert!(in_order(events, &flow), "{manual}");
    assert!(
        !events
            .iter()
            .any(|e| e == "input_audio_buffer.speech_started"),
        "no VAD events without turn detection: {manual}"
    );
    let heard = manual["user_transcript"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    assert!(heard.contains("10") || heard.contains("ten"), "{manual}");
    assert_eq!(manual["status"], "completed", "{manual}");
    assert!(
        manual["reply_audio_samples"].as_u64().unwrap_or(0) > 12_000,
        "{manual}"
    );

    // response.cancel at the reply's first audio: done as client_cancelled, no audio after.
    wait_for(&server, "the spare engines for the cancel", |h| {
        h["spare_engines_ready"] == true
    });
    let cancel = client(&server, "cancel", "001.wav");
    assert_eq!(cancel["status"], "cancelled", "{cancel}");
    assert_eq!(cancel["reason"], "client_cancelled", "{cancel}");
    assert_eq!(cancel["deltas_after_done"], 0, "{cancel}");
}
