//! Helpers shared by the language-model tests (`tests/llm_*.rs` include this file by path):
//! the real SmolLM2 model (mechanics) and the default brain's model (recall), the real
//! `duplex-llm` worker, greedy sampling, and a real `llama-server` on 127.0.0.1 (built by
//! `bash scripts/build_llama_server.sh`; a test that needs it fails with that command when it is
//! missing).
//!
//! The recall check asks for something only the model can supply: the first letter of a name
//! told earlier, a word that appears in nothing the user said, so a reply that only copies the
//! user's words back cannot pass it.
//!
//! Also a test target of its own, checking that the helpers find what they need.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use duplex::config::ModelPaths;
use duplex::llm::brains::DEFAULT_BRAIN;
use duplex::llm::config::EmbeddedConfig;
use duplex::llm::embedded::EmbeddedBackend;
use duplex::llm::memory::INTERRUPTED_NOTE;
use duplex::llm::{
    CancelToken, ChatMessage, Conversation, Finish, FinishReason, LlmBackend, LlmConfig, LlmEvent,
    Reply, Sampling, TurnManager,
};

/// The GGUF of the `fast` brain (SmolLM2-135M), which must have been fetched
/// (`scripts/setup.sh`): these tests check the backends' mechanics, which do not depend on the
/// brain, on the quickest one.
pub fn model() -> PathBuf {
    duplex::llm::brains::brain_model("fast", &ModelPaths::default().dir)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The worker binary cargo built for this test run.
pub fn worker() -> PathBuf {
    duplex::llm::installed_worker()
        .expect("the duplex-llm worker is built next to the tests (cargo build --release)")
}

/// Worker settings for tests: this build's worker, a context big enough for every test.
pub fn embedded_config() -> EmbeddedConfig {
    EmbeddedConfig {
        worker: worker(),
        ..EmbeddedConfig::default()
    }
}

/// The GGUF of the default brain (`balanced`, Qwen2.5-Coder-0.5B), on which the recall checks
/// run: the `fast` brain answers "What letter does my name start with?" with a whole name or a
/// wrong letter about as often as with the right one.
pub fn default_brain_model() -> PathBuf {
    duplex::llm::brains::brain_model(DEFAULT_BRAIN, &ModelPaths::default().dir)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A started embedded backend on the real `fast` model.
pub fn embedded() -> EmbeddedBackend {
    embedded_on(&model())
}

/// A started embedded backend on `model`.
pub fn embedded_on(model: &Path) -> EmbeddedBackend {
    EmbeddedBackend::spawn(&embedded_config(), model).expect("starting duplex-llm")
}

/// Greedy sampling: the same reply every run.
pub fn greedy(max_tokens: u32) -> Sampling {
    Sampling {
        max_tokens,
        temperature: 0.0,
        top_p: 1.0,
        repeat_penalty: 1.0,
        seed: 0,
        ..Sampling::default()
    }
}

/// `llama-server` on the `fast` model ([`model`]).
pub fn llama_server() -> LlamaServer {
    llama_server_on(&model())
}

/// A `llama-server` child process on a free loopback port, killed on drop.
pub struct LlamaServer {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    /// `http://127.0.0.1:PORT`.
    pub root: String,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `scripts/build_llama_server.sh` puts the server (or `LLAMA_SERVER_BIN`).
pub fn llama_server_bin() -> PathBuf {
    match std::env::var_os("LLAMA_SERVER_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/llama-server/bin/llama-server"),
    }
}

/// A free TCP port on 127.0.0.1 (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Starts `llama-server` on `model`; a missing binary fails the test with the command that
/// builds it (no silent skip: `scripts/test.sh` builds it before the tests run).
pub fn llama_server_on(model: &Path) -> LlamaServer {
    let bin = llama_server_bin();
    assert!(
        bin.is_file(),
        "llama-server not found at {}: build it with `bash scripts/build_llama_server.sh` \
         (or point LLAMA_SERVER_BIN at one)",
        bin.display()
    );
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-m", &model.display().to_string()])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["-c", "4096", "-np", "1", "-t", "2", "--no-webui"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting llama-server");
    let root = format!("http://127.0.0.1:{port}");
    let server = LlamaServer {
        child,
        base_url: format!("{root}/v1"),
        root,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = ureq::get(format!("{}/health", server.root)).call()
            && r.status() == 200
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "llama-server did not become healthy in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A turn manager on `backend` with the `fast` brain's (voice) system prompt, as [`model`] is
/// that brain, and greedy sampling.
pub fn manager(backend: Box<dyn LlmBackend>, max_tokens: u32) -> TurnManager {
    let config = LlmConfig {
        brain: Some("fast".into()),
        ..LlmConfig::default()
    };
    let memory = Conversation::new(
        config.system_prompt().to_owned(),
        config.history_budget_tokens as usize,
    );
    let mut manager = TurnManager::new(backend, memory, greedy(max_tokens));
    manager.warm_up().expect("prefilling the system prompt");
    manager
}

/// Answers `text` to completion, printing the exchange.
pub fn say(manager: &mut TurnManager, text: &str) -> Reply {
    let reply = manager
        .respond(text, &CancelToken::new(), &mut |_| {})
        .expect("a reply");
    eprintln!(
        "user: {text}\nassistant: {}\n  ({:?})",
        reply.text, reply.finish
    );
    reply
}

/// The fact the recall checks tell at turn 1.
pub const TOLD_NAME: &str = "My name is Victor.";
/// The question about it: its answer is in nothing the user said.
pub const ASK_INITIAL: &str = "What letter does my name start with?";
/// The answer, as a word of its own.
pub const INITIAL: &str = "v";

/// Whether `reply` says `word` as a word of its own (any case, punctuation ignored).
pub fn says_word(reply: &str, word: &str) -> bool {
    reply
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// Asserts that `reply` to [`ASK_INITIAL`] names the initial of the name in [`TOLD_NAME`].
pub fn assert_says_the_initial(reply: &Reply) {
    assert!(
        says_word(&reply.text, INITIAL),
        "the reply to {ASK_INITIAL:?} after {TOLD_NAME:?} does not say the letter {INITIAL:?}: \
         {:?}",
        reply.text
    );
}

/// A turn manager on `backend` as the default brain ships: its system prompt and its sampling
/// (greedy, with its repeat penalty), replies up to `max_tokens`.
pub fn default_brain_manager(backend: Box<dyn LlmBackend>, max_tokens: u32) -> TurnManager {
    let config = LlmConfig {
        brain: Some(DEFAULT_BRAIN.into()),
        max_tokens,
        ..LlmConfig::default()
    };
    let sampling = config.sampling();
    assert_eq!(
        sampling.temperature, 0.0,
        "the default brain samples greedily"
    );
    let memory = Conversation::new(
        config.system_prompt().to_owned(),
        config.history_budget_tokens as usize,
    );
    let mut manager = TurnManager::new(backend, memory, sampling);
    manager.warm_up().expect("prefilling the system prompt");
    manager
}

/// Acceptance: turn 2 depends on turn 1 and cannot be answered by copying the user's words:
/// told a name, the model says the letter it starts with. `backend` runs the default brain's
/// model ([`default_brain_model`]), with that brain's prompt and sampling. Returns both replies.
pub fn recalls_the_name(backend: Box<dyn LlmBackend>) -> (Reply, Reply) {
    let mut m = default_brain_manager(backend, 48);
    let first = say(&mut m, TOLD_NAME);
    let second = say(&mut m, ASK_INITIAL);
    assert_says_the_initial(&second);
    assert_eq!(m.memory().turns().len(), 4);
    (first, second)
}

/// Acceptance: a cancel stops the stream; no token is delivered after it. Cancels after
/// `after` tokens, from the consumer's own thread. Returns how the stream ended.
pub fn cancel_stops_the_stream(backend: &mut dyn LlmBackend, after: u32) -> Finish {
    let cancel = CancelToken::new();
    let messages = vec![
        ChatMessage {
            role: "system".into(),
            content: "You are a helpful assistant.".into(),
        },
        ChatMessage {
            role: "user".into(),
            content: "Count from one to one hundred in words, separated by commas.".into(),
        },
    ];
    let stream = backend
        .generate(&messages, &greedy(300), &cancel)
        .expect("starting a reply");
    let mut tokens = 0;
    let mut after_cancel = 0;
    let mut finish = None;
    for event in stream {
        match event.expect("stream event") {
            LlmEvent::Token(_) if cancel.is_cancelled() => after_cancel += 1,
            LlmEvent::Token(_) => {
                tokens += 1;
                if tokens == after {
                    cancel.cancel();
                }
            }
            LlmEvent::Done(f) => finish = Some(f),
        }
    }
    let finish = finish.expect("a done event");
    assert_eq!(after_cancel, 0, "tokens were delivered after the cancel");
    assert_eq!(finish.reason, FinishReason::Cancelled);
    assert_eq!(finish.delivered_tokens, after);
    finish
}

/// Acceptance: an interrupted reply appears cut, and marked, in the history; the conversation
/// goes on. Returns the reply after the interruption.
pub fn interrupted_turn_is_cut(backend: Box<dyn LlmBackend>) -> (TurnManager, Reply) {
    let mut m = manager(backend, 96);
    say(&mut m, "Hello!");
    let cancel = CancelToken::new();
    let mut seen = 0;
    let long = m
        .respond("Tell me a long story about a dragon.", &cancel, &mut |_| {
            seen += 1;
            if seen == 12 {
                cancel.cancel();
            }
        })
        .expect("a reply");
    assert!(long.cancelled(), "{:?}", long.finish);
    let last = m.memory().last().expect("a turn").clone();
    assert!(last.interrupted);
    assert_eq!(
        last.text, long.text,
        "the cancelled reply is recorded as far as it got"
    );
    // The playout side reports what was actually heard: the first three words.
    let heard: String = long
        .text
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(m.interrupt(&heard));
    let messages = m.memory().messages();
    let (cut, note) = (&messages[messages.len() - 2], &messages[messages.len() - 1]);
    assert_eq!(
        (cut.role.as_str(), cut.content.as_str()),
        ("assistant", heard.as_str())
    );
    assert_eq!(
        (note.role.as_str(), note.content.as_str()),
        ("system", INTERRUPTED_NOTE)
    );
    assert!(!long.text.is_empty() && heard.len() < long.text.len());
    let next = say(&mut m, "Sorry, what did you say?");
    assert!(!next.text.trim().is_empty());
    assert_eq!(m.memory().turns().len(), 6);
    (m, next)
}

#[test]
fn helpers_find_the_models_and_worker() {
    assert!(model().is_file());
    assert!(default_brain_model().is_file());
    assert!(worker().is_file());
}

#[test]
fn the_recall_answer_is_in_nothing_the_user_said() {
    for said in [TOLD_NAME, ASK_INITIAL] {
        assert!(!says_word(said, INITIAL), "{said:?} holds {INITIAL:?}");
    }
    assert!(says_word("Victor starts with V.", INITIAL));
    assert!(!says_word("Victor starts with a vowel.", INITIAL));
}

/// Kills `pid` and waits until it is gone (a zombie counts as gone: it is its parent's to reap).
pub fn kill(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let stat = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&stat).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(Instant::now() < deadline, "worker {pid} did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
}
