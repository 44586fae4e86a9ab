//! Stage bench for end of turn: the Rust log-mel front end and the smart-turn v3.2 model, timed
//! separately per call on jfk.wav up to the end of its speech (10.6 s, of which the last 8 s are
//! used), with 1 and 2 intra-op threads. Medians of `CALLS` calls after a warm-up. Writes JSON to
//! `bench-results/turn.json` and prints it.
//!
//! Run: `cargo bench --bench turn` (after `bash scripts/setup.sh`).

use std::time::Instant;

use duplex::audio::load_pipeline_audio;
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::turn::mel::{FEATURES_LEN, LogMel};
use duplex::turn::{SmartTurn, TurnConfig, TurnScorer};
use serde_json::json;

/// Timed calls per measurement; the median is reported.
const CALLS: usize = 30;
/// End of the speech in jfk.wav (Silero VAD's last segment end, sample 169 472 = 10.592 s).
const UTTERANCE_END: usize = 169_472;
/// Untimed calls first (ONNX Runtime's first runs allocate and tune).
const WARM_UP: usize = 3;

/// Median and minimum of per-call times in milliseconds.
fn stats(mut xs: Vec<f64>) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0])
}

fn millis(f: impl FnOnce()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let config = Config::default();
    let file = load_pipeline_audio(&fixture_path("jfk.wav")).expect("jfk.wav reads");
    let audio = &file[..UTTERANCE_END.min(file.len())];

    let mut mel = LogMel::new();
    let mut features = vec![0.0f32; FEATURES_LEN];
    for _ in 0..WARM_UP {
        mel.compute(audio, &mut features);
    }
    let (mel_ms, mel_min_ms) = stats(
        (0..CALLS)
            .map(|_| millis(|| mel.compute(audio, &mut features)))
            .collect(),
    );

    let mut runs = Vec::new();
    for threads in [1, 2] {
        let mut model = SmartTurn::load_with(&config.models, &TurnConfig { threads })
            .expect("smart-turn loads");
        let mut probability = 0.0;
        for _ in 0..WARM_UP {
            probability = model.score(audio).expect("scores");
        }
        model.extract(audio);
        let (model_ms, model_min_ms) = stats(
            (0..CALLS)
                .map(|_| {
                    millis(|| {
                        model.infer().expect("infers");
                    })
                })
                .collect(),
        );
        let (score_ms, score_min_ms) = stats(
            (0..CALLS)
                .map(|_| {
                    millis(|| {
                        model.score(audio).expect("scores");
                    })
                })
                .collect(),
        );
        runs.push(json!({
            "threads": threads,
            "model_ms": model_ms,
            "model_min_ms": model_min_ms,
            "score_ms": score_ms,
            "score_min_ms": score_min_ms,
            "probability": probability,
        }));
    }

    let report = json!({
        "fixture": "jfk.wav",
        "audio_s": audio.len() as f64 / 16_000.0,
        "calls": CALLS,
        "mel_ms": mel_ms,
        "mel_min_ms": mel_min_ms,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "smart_turn": runs,
    });
    let text = serde_json::to_string_pretty(&report).expect("serialises");
    println!("{text}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    std::fs::create_dir_all(&dir).expect("bench-results is writable");
    std::fs::write(dir.join("turn.json"), text + "\n").expect("writes turn.json");
}
