//! Stage bench for listening: VAD cost per second of audio, and Whisper latency and real-time
//! factor per fixture segment, with the encoder context sized to the segment and with the full
//! 30 s window (back to back), and with 1 and 2 threads after 300 ms of idle each (as in a
//! conversation). Writes JSON to `bench-results/stages.json` and prints it.
//!
//! Run: `cargo bench --bench stages` (after `bash scripts/setup.sh`).

use std::time::Instant;

use duplex::asr::{AsrConfig, WhisperModel};
use duplex::audio::{PIPELINE_RATE, load_pipeline_audio};
use duplex::config::Config;
use duplex::fixtures::{fixture_path, manifest};
use duplex::vad::{SileroVad, SpeechProbability, VAD_CHUNK, detect_segments};
use duplex::wer::corpus_wer;
use serde_json::json;

/// Timed repetitions per measurement; the median is reported.
const REPEATS: usize = 3;

/// Idle time before each transcription in the after-idle measurement.
const IDLE_BEFORE: std::time::Duration = std::time::Duration::from_millis(300);

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    // DUPLEX_CONFIG names a TOML file to bench other settings (e.g. `[asr] audio_context_margin`).
    let config = match std::env::var_os("DUPLEX_CONFIG") {
        Some(path) => Config::from_file(std::path::Path::new(&path)).expect("config"),
        None => Config::default(),
    };
    let fixtures = manifest().expect("manifest");
    let mut vad = SileroVad::load(&config.models).expect("VAD loads");

    // VAD: cost of scoring every chunk of every fixture.
    let mut audio_s = 0.0;
    let mut vad_s = 0.0;
    let mut chunks = 0usize;
    let mut speech = Vec::new();
    for f in &fixtures {
        let samples = load_pipeline_audio(&fixture_path(&f.file)).expect("reads");
        audio_s += samples.len() as f64 / f64::from(PIPELINE_RATE);
        vad.reset();
        let started = Instant::now();
        for chunk in samples.chunks_exact(VAD_CHUNK) {
            vad.probability(chunk.try_into().unwrap()).expect("vad");
            chunks += 1;
        }
        vad_s += started.elapsed().as_secs_f64();
        if let Some(reference) = &f.reference {
            let segments = detect_segments(&mut vad, &samples, &config.vad).expect("vad");
            let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
                continue;
            };
            let utterance =
                samples[first.start as usize..(last.end as usize).min(samples.len())].to_vec();
            speech.push((f.file.clone(), reference.clone(), utterance));
        }
    }

    // ASR: each referenced fixture's speech, fitted context vs. full window.
    let mut modes = Vec::new();
    let modes_to_run: &[bool] = if std::env::var_os("DUPLEX_BENCH_FITTED_ONLY").is_some() {
        &[true]
    } else {
        &[true, false]
    };
    for &fit in modes_to_run {
        let asr_config = AsrConfig {
            fit_audio_context: fit,
            ..config.asr.clone()
        };
        let model = WhisperModel::load(&config.models, &asr_config).expect("whisper loads");
        let mut session = model.session().expect("state");
        session.transcribe(&speech[0].2, None).expect("warm-up");
        let mut rows = Vec::new();
        let mut pairs = Vec::new();
        for (file, reference, utterance) in &speech {
            let mut times = Vec::new();
            let mut text = String::new();
            for _ in 0..REPEATS {
                let started = Instant::now();
                text = session.transcribe(utterance, None).expect("asr").text;
                times.push(started.elapsed().as_secs_f64());
            }
            let seconds = utterance.len() as f64 / f64::from(PIPELINE_RATE);
            let latency = median(times);
            rows.push(json!({
                "file": file, "audio_s": seconds, "latency_ms": latency * 1000.0,
                "rtf": latency / seconds, "text": text,
            }));
            pairs.push((reference.clone(), text));
        }
        let latencies: Vec<f64> = rows
            .iter()
            .map(|r| r["latency_ms"].as_f64().unwrap())
            .collect();
        let total_audio: f64 = rows.iter().map(|r| r["audio_s"].as_f64().unwrap()).sum();
        let total_ms: f64 = latencies.iter().sum();
        let near_3s: Vec<f64> = rows
            .iter()
            .filter(|r| (2.0..=4.0).contains(&r["audio_s"].as_f64().unwrap()))
            .map(|r| r["latency_ms"].as_f64().unwrap())
            .collect();
        modes.push(json!({
            "audio_context": if fit { "fitted to segment" } else { "full 30 s window" },
            "median_latency_ms": median(latencies),
            "median_latency_ms_2_to_4_s_utterances": if near_3s.is_empty() { None } else { Some(median(near_3s)) },
            "overall_rtf": total_ms / 1000.0 / total_audio,
            "wer": corpus_wer(pairs.iter().map(|(r, h)| (r.as_str(), h.as_str()))),
            "utterances": rows,
        }));
    }

    // Whisper after idle: the cores rest between utterances in a conversation (the user is
    // speaking), and waking them for each graph costs a multi-threaded decode more than it gains.
    let mut after_idle = Vec::new();
    for threads in [1, 2] {
        let asr_config = AsrConfig {
            threads,
            ..config.asr.clone()
        };
        let model = WhisperModel::load(&config.models, &asr_config).expect("whisper loads");
        let mut session = model.session().expect("state");
        session.transcribe(&speech[0].2, None).expect("warm-up");
        let mut times = Vec::new();
        for (_, _, utterance) in &speech {
            std::thread::sleep(IDLE_BEFORE);
            let started = Instant::now();
            session.transcribe(utterance, None).expect("asr");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        after_idle.push(json!({
            "threads": threads,
            "idle_before_ms": IDLE_BEFORE.as_millis() as u64,
            "median_latency_ms": median(times),
        }));
    }

    let report = json!({
        "bench": "stages",
        "threads": config.asr.threads,
        "asr_after_idle": after_idle,
        "vad": {
            "audio_s": audio_s,
            "chunks": chunks,
            "ms_per_audio_second": vad_s * 1000.0 / audio_s,
            "us_per_chunk": vad_s * 1e6 / chunks as f64,
        },
        "asr": modes,
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    println!("{text}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    std::fs::create_dir_all(&dir).expect("bench-results dir");
    std::fs::write(dir.join("stages.json"), text).expect("writes JSON");
}
