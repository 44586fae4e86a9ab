//! `cargo bench --bench webrtc`: voice-to-voice latency of `duplex serve` measured in a real
//! headless Chromium page (AudioWorklet on one AudioContext clock: last microphone sample above
//! the threshold to the first reply sample above it), over loopback in a private network
//! namespace, p50/p95 over the runs; and, separately, the transport's own overhead: the same
//! measurement against the server's measurement-tone mode (a fixed tone a fixed delay after the
//! caller stops), minus that delay; and the barge-in stop time: a question, a pause, then
//! speech over the reply, from its onset at the page's microphone to the agent's voice 20 dB
//! down in the page (the page's meter, same clock). Writes bench-results/webrtc.json.
//! DUPLEX_WEBRTC_PARTS picks parts (`latency,overhead,barge`, all by default).
//! Needs `bash scripts/setup_test_deps.sh`. DUPLEX_BENCH_RUNS sets the runs per part (10).

use std::path::{Path, PathBuf};
use std::process::Command;

use duplex::audio::{PIPELINE_RATE, load_pipeline_audio, wav::write_wav};
use duplex::fixtures::fixture_path;
use serde_json::{Value, json};

/// Questions asked in turn, one per run.
const FIXTURES: [&str; 5] = [
    "goforward.wav",
    "sense_and_sensibility_01_austen_64kb-0880.wav",
    "sense_and_sensibility_01_austen_64kb-0930.wav",
    "005.wav",
    "002.wav",
];

/// The measurement tone's delay after the caller stops.
const TONE_AFTER_MS: f64 = 300.0;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture then 2 s of silence, 16-bit PCM: Chromium's fake microphone repeats a file's
/// last buffer once the file ends, so it must end silent.
fn padded(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let mut audio = load_pipeline_audio(&fixture_path(name))?;
    audio.extend(vec![0.0; 2 * PIPELINE_RATE as usize]);
    let path = dir.join(name);
    write_wav(&path, &audio, PIPELINE_RATE)?;
    Ok(path)
}

/// Where the speech over the reply starts, after the question ends.
const BARGE_AFTER_S: f32 = 3.0;
/// What is said over the reply.
const BARGE_IN: &str = "sense_and_sensibility_01_austen_64kb-0930.wav";

/// A question, [`BARGE_AFTER_S`] of silence, the barge-in, then 4 s of silence.
fn with_barge_in(dir: &Path, question: &str) -> anyhow::Result<PathBuf> {
    let rate = PIPELINE_RATE as usize;
    let mut audio = load_pipeline_audio(&fixture_path(question))?;
    audio.extend(vec![0.0; (BARGE_AFTER_S * rate as f32) as usize]);
    audio.extend(load_pipeline_audio(&fixture_path(BARGE_IN))?);
    audio.extend(vec![0.0; 4 * rate]);
    let path = dir.join(format!("barge-{question}"));
    write_wav(&path, &audio, PIPELINE_RATE)?;
    Ok(path)
}

fn run_barge_ins(runs: usize, wavs: &[PathBuf], query: &str) -> anyhow::Result<Vec<Value>> {
    run_node(
        "tests/browser/barge.mjs",
        runs,
        wavs,
        Some(query.to_owned()),
    )
}

fn run_browser(runs: usize, wavs: &[PathBuf], tone_ms: Option<f64>) -> anyhow::Result<Vec<Value>> {
    run_node(
        "tests/browser/bench.mjs",
        runs,
        wavs,
        tone_ms.map(|ms| format!("{ms}")),
    )
}

/// Runs a browser script inside the loopback-only namespace: `node SCRIPT BIN RUNS WAVS [EXTRA]`;
/// returns the `runs` of the JSON it prints.
fn run_node(
    script: &str,
    runs: usize,
    wavs: &[PathBuf],
    extra: Option<String>,
) -> anyhow::Result<Vec<Value>> {
    let list = wavs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut cmd = Command::new(repo().join("tests/browser/run_in_netns.sh"));
    cmd.args(["node", script, env!("CARGO_BIN_EXE_duplex")])
        .arg(runs.to_string())
        .arg(list)
        .args(extra)
        .current_dir(repo())
        .stderr(std::process::Stdio::inherit());
    let output = cmd.output()?;
    anyhow::ensure!(
        output.status.success(),
        "{script} failed ({}); run `bash scripts/setup_test_deps.sh` if tools are missing",
        output.status
    );
    let report: Value = serde_json::from_slice(&output.stdout)?;
    Ok(report["runs"].as_array().cloned().unwrap_or_default())
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[i.clamp(1, v.len()) - 1]
}

fn summary(values: &[f64]) -> Value {
    json!({
        "runs": values.len(),
        "p50_ms": percentile(values, 50.0),
        "p95_ms": percentile(values, 95.0),
        "min_ms": values.iter().copied().fold(f64::INFINITY, f64::min),
        "max_ms": values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("DUPLEX_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let wavs = FIXTURES
        .iter()
        .map(|f| padded(dir.path(), f))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let parts =
        std::env::var("DUPLEX_WEBRTC_PARTS").unwrap_or_else(|_| "latency,overhead,barge".into());
    let part = |name: &str| parts.split(',').any(|p| p == name);
    let mut report = serde_json::Map::new();
    report.insert("what".into(), json!("voice-to-voice latency measured in a headless Chromium page over WebRTC on loopback: last mic sample above 0.02 to the first reply sample above it, on the page's AudioContext clock"));

    if part("overhead") {
        let tone_runs = run_browser(runs, &wavs, Some(TONE_AFTER_MS))?;
        let measured: Vec<f64> = tone_runs
            .iter()
            .filter_map(|r| r["latencyMs"].as_f64())
            .collect();
        anyhow::ensure!(!measured.is_empty(), "no overhead was measured");
        let overhead: Vec<f64> = measured.iter().map(|m| m - TONE_AFTER_MS).collect();
        report.insert("transport_overhead".into(), json!({
            "how": format!("`duplex serve --measure-tone-after-ms {TONE_AFTER_MS}` (a measurement tool: a tone {TONE_AFTER_MS} ms after the last loud input sample); overhead = page latency - {TONE_AFTER_MS} ms"),
            "summary": summary(&overhead),
            "measured_ms": measured,
        }));
    }
    if part("latency") {
        let talk_runs = run_browser(runs, &wavs, None)?;
        let latencies: Vec<f64> = talk_runs
            .iter()
            .filter_map(|r| r["latencyMs"].as_f64())
            .collect();
        anyhow::ensure!(!latencies.is_empty(), "no latency was measured");
        report.insert(
            "conversation".into(),
            json!({ "summary": summary(&latencies), "runs": talk_runs }),
        );
    }
    if part("barge") {
        let barge_wavs = FIXTURES[..2]
            .iter()
            .map(|f| with_barge_in(dir.path(), f))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut barge = serde_json::Map::new();
        barge.insert("how".into(), json!(format!("a question, {BARGE_AFTER_S} s of silence, then {BARGE_IN} over the reply; stop time = the page mic's onset above 0.02 while the agent is audible to the agent's voice, as the page plays it, 20 dB below its level of the 300 ms before, held 120 ms")));
        // With the page's own duck (what a user gets), and without it (the server's pause alone).
        for (name, query) in [
            ("page_duck", "raw=1"),
            ("server_pause_only", "raw=1&duck=0"),
        ] {
            let runs = run_barge_ins(runs, &barge_wavs, query)?;
            let stops: Vec<f64> = runs
                .iter()
                .filter_map(|r| r["stopsMs"].as_array()?.first()?.as_f64())
                .collect();
            anyhow::ensure!(
                !stops.is_empty(),
                "no barge-in stop time was measured ({name})"
            );
            barge.insert(
                name.into(),
                json!({ "summary": summary(&stops), "runs": runs }),
            );
        }
        report.insert("barge_in".into(), Value::Object(barge));
    }
    let report = Value::Object(report);
    std::fs::create_dir_all(repo().join("bench-results"))?;
    let path = repo().join("bench-results/webrtc.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    for part in ["conversation", "transport_overhead"] {
        if let Some(p) = report.get(part) {
            println!("{part}: {}", p["summary"]);
        }
    }
    if let Some(b) = report.get("barge_in") {
        for mode in ["page_duck", "server_pause_only"] {
            println!("barge-in stop, {mode}: {}", b[mode]["summary"]);
        }
    }
    println!("wrote {}", path.display());
    Ok(())
}
