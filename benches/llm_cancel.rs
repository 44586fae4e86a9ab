//! Cancel bench: how long a reply takes to end after another thread cancels it, on the embedded
//! backend (the default brain in `duplex-llm`, or the one named by `DUPLEX_BENCH_BRAIN`). The
//! figure the test `llm_embedded::cancel_from_another_thread_ends_the_stream` used to bound by
//! wall clock; the test now checks only that the cancel ends the stream.
//!
//! `cargo bench --bench llm_cancel`. `RUNS` times: a long essay is asked for, greedy, up to
//! `MAX_TOKENS`; once its first token is in, another thread waits `CANCEL_AFTER_MS` and cancels
//! while the consumer is blocked on the next token. Reported: the time from the cancel to the
//! stream's end (median and max, ms) and the tokens the worker generated in all, written as JSON
//! to `bench-results/llm_cancel.json`.

use std::path::Path;
use std::time::{Duration, Instant};

use duplex::config::Config;
use duplex::llm::config::EmbeddedConfig;
use duplex::llm::embedded::EmbeddedBackend;
use duplex::llm::{CancelToken, ChatMessage, FinishReason, LlmBackend, LlmEvent, Sampling};
use serde_json::json;

/// Replies cancelled.
const RUNS: usize = 10;
/// Longest reply, were it not cancelled.
const MAX_TOKENS: u32 = 500;
/// How long after the first token the other thread cancels.
const CANCEL_AFTER_MS: u64 = 100;

fn spawn(model: &Path) -> EmbeddedBackend {
    let config = EmbeddedConfig {
        worker: duplex::llm::installed_worker()
            .expect("the duplex-llm worker is built next to the benches (cargo build --release)"),
        ..EmbeddedConfig::default()
    };
    EmbeddedBackend::spawn(&config, model).expect("starting duplex-llm")
}

/// One cancelled reply: milliseconds from the cancel to the stream's end, and the tokens the
/// worker generated.
fn cancelled_reply(backend: &mut EmbeddedBackend) -> (f64, u32) {
    let cancel = CancelToken::new();
    let messages = [ChatMessage {
        role: "user".into(),
        content: "Write a very long essay about the history of Rome.".into(),
    }];
    let sampling = Sampling {
        max_tokens: MAX_TOKENS,
        temperature: 0.0,
        ..Sampling::default()
    };
    let mut stream = backend
        .generate(&messages, &sampling, &cancel)
        .expect("a reply");
    assert!(matches!(stream.next(), Some(Ok(LlmEvent::Token(_)))));
    let canceller = cancel.clone();
    let at = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(CANCEL_AFTER_MS));
        canceller.cancel();
        Instant::now()
    });
    let mut finish = None;
    for event in stream {
        if let LlmEvent::Done(f) = event.expect("event") {
            finish = Some((f, Instant::now()));
        }
    }
    let (finish, ended) = finish.expect("done");
    let lag = ended - at.join().expect("canceller");
    assert_eq!(finish.reason, FinishReason::Cancelled);
    let generated = finish.worker.map_or(0, |w| w.generated_tokens);
    (lag.as_secs_f64() * 1000.0, generated)
}

fn main() {
    let mut config = Config::default();
    config.llm.brain = std::env::var("DUPLEX_BENCH_BRAIN").ok();
    let model = config.llm_model_path().unwrap_or_else(|e| panic!("{e}"));
    let mut backend = spawn(&model);
    let mut lags = Vec::new();
    let mut generated = Vec::new();
    for _ in 0..RUNS {
        let (lag, tokens) = cancelled_reply(&mut backend);
        lags.push(lag);
        generated.push(tokens);
    }
    let mut sorted = lags.clone();
    sorted.sort_by(f64::total_cmp);
    let result = json!({
        "bench": "llm_cancel",
        "model": model.file_name().map(|n| n.to_string_lossy().into_owned()),
        "runs": RUNS,
        "cancel_after_first_token_ms": CANCEL_AFTER_MS,
        "cancel_to_end_ms": {
            "median": sorted[sorted.len() / 2],
            "max": sorted[sorted.len() - 1],
            "each": lags,
        },
        "generated_tokens": generated,
    });
    let text = serde_json::to_string_pretty(&result).expect("serialises");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    std::fs::create_dir_all(&dir).expect("creating bench-results/");
    std::fs::write(dir.join("llm_cancel.json"), format!("{text}\n"))
        .expect("writing bench-results/llm_cancel.json");
    println!("{text}");
}
