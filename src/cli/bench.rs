//! `duplex bench latency`: conversations at real-time pace over fixtures, one question each,
//! with voice-to-voice latency measured at the transport boundary (last voiced input sample to
//! first non-silent output sample), p50/p95 and the per-stage breakdown, written as JSON.

use std::path::PathBuf;

use duplex::asr::WhisperModel;
use duplex::audio::{FRAME_SAMPLES, PIPELINE_RATE, load_pipeline_audio};
use duplex::config::Config;
use duplex::conversation_report::summarize;
use duplex::fixtures::{
    CONVERSATION_FIXTURE, CONVERSATION_QUESTIONS, Fixture, fixture_path, manifest,
};
use duplex::runtime::load_local_engines;
use duplex::transport::file::{Pace, converse};
use serde_json::json;

/// Arguments of `duplex bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchKind,
}

#[derive(clap::Subcommand)]
enum BenchKind {
    /// The conversation-quality suite on the configured language model.
    Quality(super::bench_quality::QualityArgs),
    /// Turn-taking: cut-offs inside pauses and the wait at true ends, against a peer.
    Turns(super::bench_turns::TurnsArgs),
    /// Voice-to-voice latency of whole conversations at real-time pace.
    Latency {
        /// Fixture files (in audio-fixtures/) to ask, one conversation each; by default every
        /// single-utterance speech fixture of the manifest. The two-question conversation
        /// fixture may be named too: its turns are counted (lost or merged under load).
        #[arg(long, value_delimiter = ',')]
        fixtures: Vec<String>,
        /// Where to write the JSON report.
        #[arg(long, default_value = "bench-results/latency.json")]
        output: PathBuf,
    },
}

/// Every fixture of the manifest with speech in it, except the joined conversation.
fn default_fixtures(manifest: &[Fixture]) -> Vec<String> {
    manifest
        .iter()
        .filter(|f| f.reference.is_some() && f.file != CONVERSATION_FIXTURE)
        .map(|f| f.file.clone())
        .collect()
}

/// A 20 ms frame counts as voiced above this RMS (-40 dBFS).
const VOICED_RMS: f32 = 0.01;

fn last_voiced_sample(audio: &[f32]) -> Option<usize> {
    audio
        .chunks(FRAME_SAMPLES)
        .enumerate()
        .rev()
        .find(|(_, f)| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt() > VOICED_RMS)
        .map(|(i, f)| i * FRAME_SAMPLES + f.len())
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

/// The median of each stage figure over the utterances' last turns.
fn stage_medians(rows: &[serde_json::Value]) -> serde_json::Value {
    let figure = |pointer: &str| {
        let mut values: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.pointer(pointer)?.as_f64())
            .collect();
        values.sort_by(f64::total_cmp);
        percentile(&values, 0.5)
    };
    json!({
        "endpoint": figure("/stages/endpoint_ms"),
        "end_of_turn_to_first_token": figure("/stages/end_of_turn_to_first_token_ms"),
        "first_token_to_first_audio": figure("/stages/first_token_to_first_audio_ms"),
        "asr_cost": figure("/stages/costs_ms/asr"),
        "turn_cost": figure("/stages/costs_ms/turn"),
        "llm_first_token_cost": figure("/stages/costs_ms/llm_first_token"),
        "tts_first_chunk_cost": figure("/stages/costs_ms/tts"),
    })
}

/// Runs the subcommand.
pub fn run(config: &Config, args: BenchArgs) -> anyhow::Result<()> {
    let (fixtures, output) = match args.what {
        BenchKind::Quality(a) => return super::bench_quality::run(config, a),
        BenchKind::Turns(a) => return super::bench_turns::run(config, a),
        BenchKind::Latency { fixtures, output } => (fixtures, output),
    };
    let references = manifest().map_err(anyhow::Error::msg)?;
    let fixtures = if fixtures.is_empty() {
        default_fixtures(&references)
    } else {
        fixtures
    };
    let whisper = WhisperModel::load(&config.models, &config.asr)?;
    let mut heard_pairs = Vec::new();
    let mut rows = Vec::new();
    let mut latencies = Vec::new();
    let (mut turns_lost, mut turns_merged) = (0, 0);
    let (mut gaps_at_punctuation, mut gaps_elsewhere) = (0, 0);
    let mut longest_gap_elsewhere: f64 = 0.0;
    for file in &fixtures {
        let input = load_pipeline_audio(&fixture_path(file))?;
        let engines = load_local_engines(config, &whisper)?;
        let conversation = converse(config.agent_config(), engines, &input, Pace::RealTime);
        let turns = summarize(&conversation.events);
        let last_voiced = last_voiced_sample(&input).unwrap_or(input.len());
        let out_rate = f64::from(conversation.output_rate);
        let voiced_s = last_voiced as f64 / f64::from(PIPELINE_RATE);
        let from = (voiced_s * out_rate) as usize;
        let first_reply = conversation
            .output
            .iter()
            .skip(from)
            .position(|s| s.abs() > VOICED_RMS)
            .map(|i| i + from);
        let latency_ms = first_reply.map(|s| (s as f64 / out_rate - voiced_s) * 1000.0);
        if let Some(ms) = latency_ms {
            latencies.push(ms);
        }
        let expected = if file == CONVERSATION_FIXTURE {
            CONVERSATION_QUESTIONS
        } else {
            1
        };
        let answered = turns.iter().filter(|t| t.first_audio_s.is_some()).count();
        turns_merged += expected.saturating_sub(turns.len());
        turns_lost += turns.len().min(expected).saturating_sub(answered);
        // Every user turn's words in order, against what the recording says.
        let heard: Vec<&str> = turns
            .iter()
            .filter_map(|t| t.transcript.as_deref())
            .collect();
        let heard = heard.join(" ");
        if let Some(reference) = references
            .iter()
            .find(|f| f.file == *file)
            .and_then(|f| f.reference.clone())
        {
            heard_pairs.push((reference, heard.clone()));
        }
        let gaps = super::bench_gaps::reply_gaps(&conversation);
        gaps_at_punctuation += gaps["at_punctuation"].as_u64().unwrap_or(0);
        gaps_elsewhere += gaps["elsewhere"].as_u64().unwrap_or(0);
        longest_gap_elsewhere =
            longest_gap_elsewhere.max(gaps["longest_elsewhere_ms"].as_f64().unwrap_or(0.0));
        let turn = turns.last();
        let stages = turn.map(|t| {
            json!({
                "endpoint_ms": t.end_of_turn_s.zip(t.user_speech_end_s).map(|(a, b)| (a - b) * 1000.0),
                "end_of_turn_to_first_token_ms": t.first_token_s.zip(t.end_of_turn_s).map(|(a, b)| (a - b) * 1000.0),
                "first_token_to_first_audio_ms": t.first_audio_s.zip(t.first_token_s).map(|(a, b)| (a - b) * 1000.0),
                "costs_ms": t.costs_ms,
            })
        });
        println!(
            "{file}: voice-to-voice {} ms; heard {:?} -> {:?}",
            latency_ms.map_or("none".into(), |m| format!("{m:.0}")),
            turn.and_then(|t| t.transcript.clone()).unwrap_or_default(),
            turn.and_then(|t| t.played_text.clone()).unwrap_or_default(),
        );
        rows.push(json!({
            "fixture": file,
            "voice_to_voice_ms": latency_ms,
            "last_voiced_input_s": last_voiced as f64 / f64::from(PIPELINE_RATE),
            "stages": stages,
            "user_turns_expected": expected,
            "heard": heard,
            "reply_gaps": gaps,
            "turns": turns,
        }));
    }
    latencies.sort_by(f64::total_cmp);
    let report = json!({
        "bench": "latency",
        "pace": "real time",
        "threads_asr": config.asr.threads,
        "utterances_measured": latencies.len(),
        "p50_ms": percentile(&latencies, 0.5),
        "p95_ms": percentile(&latencies, 0.95),
        "stage_medians_ms": stage_medians(&rows),
        "transcript_wer": duplex::wer::corpus_wer(
            heard_pairs.iter().map(|(r, h)| (r.as_str(), h.as_str()))
        ),
        "turns_lost": turns_lost,
        "turns_merged": turns_merged,
        "reply_gaps_over_120_ms": {
            "at_punctuation": gaps_at_punctuation,
            "elsewhere": gaps_elsewhere,
            "longest_elsewhere_ms": longest_gap_elsewhere,
        },
        "utterances": rows,
    });
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&output, serde_json::to_string_pretty(&report)?)?;
    println!(
        "voice-to-voice over {} utterances: p50 {} ms, p95 {} ms -> {}",
        latencies.len(),
        plain_ms(&report["p50_ms"]),
        plain_ms(&report["p95_ms"]),
        output.display()
    );
    println!(
        "word error rate of the turns' transcripts: {:.1} %",
        report["transcript_wer"].as_f64().unwrap_or(f64::NAN) * 100.0
    );
    println!(
        "turns lost {turns_lost}, merged {turns_merged}; silences over {} ms inside replies: {gaps_at_punctuation} at punctuation, {gaps_elsewhere} elsewhere (longest {longest_gap_elsewhere:.0} ms)",
        super::bench_gaps::GAP_MS
    );
    if let Some(stages) = report["stage_medians_ms"].as_object() {
        let figures: Vec<String> = stages
            .iter()
            .map(|(stage, ms)| format!("{stage} {}", plain_ms(ms)))
            .collect();
        println!("stage medians (ms): {}", figures.join(", "));
    }
    Ok(())
}

/// A figure in whole milliseconds, or "none".
fn plain_ms(value: &serde_json::Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "none".to_owned(), |ms| format!("{ms:.0}"))
}
