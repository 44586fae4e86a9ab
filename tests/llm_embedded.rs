//! The embedded backend with the real SmolLM2 model in the real `duplex-llm` worker (the recall
//! checks on the default brain's model): memory across turns, a warm KV cache, cancellation within one token, interrupted turns, context
//! shift when old turns are dropped, and clear errors (never hangs) when the worker is missing,
//! crashes or cannot load its model.

#[path = "llm_common.rs"]
mod common;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use duplex::llm::embedded::EmbeddedBackend;
use duplex::llm::revive::{RevivePolicy, RevivingBackend};
use duplex::llm::{
    CancelToken, ChatMessage, Conversation, FinishReason, LlmBackend, LlmError, LlmEvent,
    TurnManager,
};

/// One worker at a time: on 2 cores, parallel workers would slow each other down many times
/// over (ggml's threads spin while they wait for each other).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn recalls_the_name_and_prefills_only_the_new_turn() {
    let _serial = serial();
    let backend = common::embedded_on(&common::default_brain_model());
    let (first, second) = common::recalls_the_name(Box::new(backend));
    let w1 = first.finish.worker.expect("worker stats");
    let w2 = second.finish.worker.expect("worker stats");
    eprintln!("turn 1: {w1:?}\nturn 2: {w2:?}");
    // Turn 1: the system prompt was prefilled at start-up; only the user turn is new.
    assert!(w1.cached_tokens > 30, "system prompt not cached: {w1:?}");
    assert!(w1.prompt_tokens - w1.cached_tokens < 25, "{w1:?}");
    // Turn 2: everything up to and including reply 1 is cached.
    assert!(
        w2.cached_tokens >= w1.prompt_tokens + w1.generated_tokens,
        "{w2:?}"
    );
    assert!(w2.prompt_tokens - w2.cached_tokens < 25, "{w2:?}");
}

#[test]
fn cancel_stops_generation_within_one_token() {
    let _serial = serial();
    let mut backend = common::embedded();
    for after in [1, 5] {
        let finish = common::cancel_stops_the_stream(&mut backend, after);
        let worker = finish.worker.expect("worker stats");
        // The worker checks for a cancel before each token: it may have sampled at most one
        // token that was already on its way when the cancel arrived.
        assert!(
            worker.generated_tokens <= after + 1,
            "the worker went on for {} tokens after the cancel",
            worker.generated_tokens - after
        );
    }
    // The backend is still usable after the cancels (the reply's wording is the model's affair:
    // greedy SmolLM2 changes its answer with the slightest change of numerics).
    let reply = common::say(
        &mut TurnManager::new(
            Box::new(backend),
            Conversation::new("You are a helpful assistant.", 2048),
            common::greedy(16),
        ),
        "What is the capital of France?",
    );
    assert!(!reply.text.trim().is_empty());
    assert_ne!(reply.finish.reason, FinishReason::Cancelled);
}

/// A cancel from another thread, while this one is blocked on the next token, ends the stream
/// as cancelled, long before the reply's length. How soon is a timing:
/// `cargo bench --bench llm_cancel`.
#[test]
fn cancel_from_another_thread_ends_the_stream() {
    let _serial = serial();
    let mut backend = common::embedded();
    let cancel = CancelToken::new();
    let messages = [ChatMessage {
        role: "user".into(),
        content: "Write a very long essay about the history of Rome.".into(),
    }];
    let mut stream = backend
        .generate(&messages, &common::greedy(500), &cancel)
        .expect("a reply");
    assert!(matches!(stream.next(), Some(Ok(LlmEvent::Token(_)))));
    let canceller = cancel.clone();
    let cancelling = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        canceller.cancel();
    });
    let finish = stream
        .find_map(|event| match event.expect("event") {
            LlmEvent::Done(f) => Some(f),
            LlmEvent::Token(_) => None,
        })
        .expect("done");
    cancelling.join().expect("canceller");
    assert_eq!(finish.reason, FinishReason::Cancelled, "{finish:?}");
    let worker = finish.worker.expect("worker stats");
    assert!(worker.generated_tokens < 500, "{worker:?}");
}

#[test]
fn interrupted_turn_is_cut_in_history() {
    let _serial = serial();
    let (manager, next) = common::interrupted_turn_is_cut(Box::new(common::embedded()));
    let w = next.finish.worker.expect("worker stats");
    eprintln!("after the interruption: {w:?}");
    // The cache was truncated back into the interrupted reply, not recomputed from the start.
    assert!(w.cached_tokens > 40, "{w:?}");
    assert!(w.prompt_tokens - w.cached_tokens < 40, "{w:?}");
    drop(manager);
}

#[test]
fn dropped_turns_shift_the_cache() {
    let _serial = serial();
    let mut manager = TurnManager::new(
        Box::new(common::embedded()),
        Conversation::new("You are a helpful assistant. Answer briefly.", 150),
        common::greedy(24),
    );
    manager.warm_up().expect("prefill");
    let mut shifted = 0;
    for q in [
        "What is the capital of France?",
        "What color is the sky?",
        "How many legs does a cat have?",
        "What is two plus two?",
        "Name a fruit that is yellow.",
        "What do bees make?",
    ] {
        let reply = common::say(&mut manager, q);
        let w = reply.finish.worker.expect("worker stats");
        shifted += w.shifted_tokens;
        assert!(w.prompt_tokens - w.cached_tokens < 40, "{w:?}");
    }
    assert!(manager.memory().dropped_turns() > 0);
    assert!(shifted > 0, "no turn was dropped by shifting the cache");
    assert_eq!(manager.memory().messages()[0].role, "system");
}

#[test]
fn missing_worker_is_a_clear_error() {
    let _serial = serial();
    let mut config = common::embedded_config();
    config.worker = "/nonexistent/duplex-llm".into();
    let err = EmbeddedBackend::spawn(&config, &common::model())
        .err()
        .expect("an error");
    assert!(matches!(err, LlmError::WorkerMissing { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/duplex-llm"), "{err}");
}

#[test]
fn worker_that_dies_is_a_clear_error_not_a_hang() {
    let _serial = serial();
    let mut config = common::embedded_config();
    config.worker = "/bin/false".into();
    let start = Instant::now();
    let err = EmbeddedBackend::spawn(&config, &common::model())
        .err()
        .expect("an error");
    assert!(matches!(err, LlmError::WorkerExited { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn unloadable_model_is_a_clear_error() {
    let _serial = serial();
    let not_gguf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let err = EmbeddedBackend::spawn(&common::embedded_config(), &not_gguf)
        .err()
        .expect("an error");
    let text = err.to_string();
    assert!(
        text.contains("cannot load model") && text.contains("Cargo.toml"),
        "{text}"
    );
    let missing = std::path::Path::new("/nonexistent/model.gguf");
    let err = EmbeddedBackend::spawn(&common::embedded_config(), missing)
        .err()
        .expect("an error");
    assert!(matches!(err, LlmError::Model(_)), "{err}");
}

#[test]
fn worker_killed_mid_reply_is_a_clear_error() {
    let _serial = serial();
    let mut backend = common::embedded();
    let pid = backend.pid();
    let messages = [ChatMessage {
        role: "user".into(),
        content: "Write a very long essay about the history of Rome.".into(),
    }];
    let mut stream = backend
        .generate(&messages, &common::greedy(500), &CancelToken::new())
        .expect("a reply");
    assert!(matches!(stream.next(), Some(Ok(LlmEvent::Token(_)))));
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let err = stream
        .find_map(|e| e.err())
        .expect("an error after the worker died");
    assert!(matches!(err, LlmError::WorkerExited { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(stream);
    // Later requests fail at once too.
    let again = backend.generate(&messages, &common::greedy(5), &CancelToken::new());
    assert!(again.is_err());
}

/// The embedded backend as `duplex` builds it, on `model`: restarted when its worker dies.
fn reviving(model: std::path::PathBuf) -> RevivingBackend {
    let config = common::embedded_config();
    RevivingBackend::start(
        RevivePolicy::default(),
        Box::new(move || {
            let backend = EmbeddedBackend::spawn(&config, &model)?;
            Ok(Box::new(backend) as Box<dyn LlmBackend>)
        }),
    )
    .expect("starting duplex-llm")
}

#[test]
fn a_killed_worker_is_restarted_and_the_conversation_goes_on() {
    let _serial = serial();
    let backend = reviving(common::default_brain_model());
    let mut m = common::default_brain_manager(Box::new(backend), 48);
    common::say(&mut m, common::TOLD_NAME);
    let first_pid = m.backend_mut().process_id().expect("a worker");

    // Killed between turns: the next question restarts it, with the history.
    common::kill(first_pid);
    let second = common::say(&mut m, common::ASK_INITIAL);
    common::assert_says_the_initial(&second);
    let second_pid = m.backend_mut().process_id().expect("a worker");
    assert_ne!(second_pid, first_pid, "a new worker");
    let notices = m.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("restarted"), "{notices:?}");
    assert!(
        std::fs::metadata(format!("/proc/{first_pid}")).is_err(),
        "the dead worker was reaped"
    );

    // Killed mid-reply: the reply breaks off with an error, and the history keeps what was
    // said, marked as cut off.
    let mut killed = false;
    let result = m.respond(
        "Tell me a long story about a dragon and a knight.",
        &CancelToken::new(),
        &mut |_| {
            if !killed {
                killed = true;
                common::kill(second_pid);
            }
        },
    );
    let error = result.expect_err("the reply breaks off");
    assert!(error.is_fatal(), "{error}");
    let last = m.memory().turns().last().expect("a turn").clone();
    assert!(last.interrupted, "the broken-off reply is marked: {last:?}");
    assert!(!last.text.trim().is_empty(), "{last:?}");
    // Recovery restarts the worker at once with the history; the next question is answered.
    m.recover().expect("a new worker");
    assert_eq!(m.take_notices().len(), 1);
    let third = common::say(&mut m, "What is my name?");
    assert!(!third.text.trim().is_empty());
    // The history was prefilled into the new worker by the recovery: only the new turn is
    // computed when the question comes.
    let w = third.finish.worker.expect("worker stats");
    assert!(
        w.cached_tokens > 100 && w.prompt_tokens - w.cached_tokens < 25,
        "{w:?}"
    );
    assert_eq!(m.memory().turns().len(), 8, "four exchanges");
}
