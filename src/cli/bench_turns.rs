//! `duplex bench turns`: the turn-taking benchmark (issue 31). Each labelled recording (made by
//! `scripts/turn_fixtures.py compose`) goes through a whole session, as `duplex converse --fast`
//! runs it: Silero VAD, Whisper, smart-turn, the LLM and the voice, in virtual time (each frame
//! once the engines are idle, so engine costs add no wait and the result does not depend on
//! the machine's load). Scored against the labels: pauses inside a turn cut into (false
//! cut-offs), true ends missed or late, and the wait from the end of speech to the decision.
//!
//! A second session per recording only listens (it never takes the floor), to collect every
//! pause's evidence; the endpoint settings are then swept by replaying that evidence through
//! the core's own decision, for the trade-off between cut-offs and wait. The replay at today's
//! settings is checked against the first session's decisions. A reference peer's decisions on
//! the same recordings (`scripts/peer_turns.py`) are scored beside duplex's.

mod evidence;
mod scoring;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use duplex::agent::{AgentConfig, EndpointConfig};
use duplex::asr::WhisperModel;
use duplex::audio::load_pipeline_audio;
use duplex::config::Config;
use duplex::runtime::load_local_engines;
use duplex::transport::file::{Pace, converse};
use serde_json::{Value, json};

use evidence::{SessionTurns, WordsKept, read_events, replay_all};
use scoring::{ItemScore, LabelledItem, Labels, Metrics, metrics, score_item};

/// Arguments of `duplex bench turns`.
#[derive(clap::Args)]
pub struct TurnsArgs {
    /// The labelled recordings and their labels.json (`python3 scripts/turn_fixtures.py
    /// compose` writes them there).
    #[arg(long, default_value = "target/turn-fixtures")]
    fixtures: PathBuf,
    /// Only these recordings (ids of audio-fixtures/turns/manifest.json).
    #[arg(long, value_delimiter = ',')]
    items: Vec<String>,
    /// The reference peer's decisions on the same recordings (`scripts/peer_turns.py`).
    #[arg(long)]
    peer: Option<PathBuf>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-results/turns.json")]
    output: PathBuf,
}

/// The listening session's waits: longer than any labelled pause, so it never takes the floor
/// inside one.
const LISTEN_WAIT_MS: u32 = 6000;

/// The swept settings: `complete_threshold` against `incomplete_wait_ms`.
const SWEEP_THRESHOLDS: [f32; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
const SWEEP_WAITS_MS: [u32; 10] = [200, 400, 600, 800, 1000, 1200, 1600, 2000, 2500, 3000];

/// One session over `input`; returns its decisions and pauses.
fn session(
    config: &Config,
    agent: AgentConfig,
    whisper: &WhisperModel,
    input: &[f32],
) -> anyhow::Result<SessionTurns> {
    let mut engines = load_local_engines(config, whisper)?;
    let words = Arc::new(Mutex::new(Vec::new()));
    engines.llm = Box::new(WordsKept::new(engines.llm, words.clone()));
    let conversation = converse(agent, engines, input, Pace::Fast);
    let words = words.lock().map(|w| w.clone()).unwrap_or_default();
    Ok(read_events(&conversation.events, &words))
}

/// The settings of a listener that never takes the floor before [`LISTEN_WAIT_MS`].
fn listening(agent: &AgentConfig) -> AgentConfig {
    let mut agent = agent.clone();
    let endpoint = &mut agent.turns.endpoint;
    endpoint.complete_threshold = 2.0;
    endpoint.incomplete_wait_ms = LISTEN_WAIT_MS;
    endpoint.question_wait_ms = LISTEN_WAIT_MS;
    agent
}

/// A peer's settings, and its decisions (seconds) per recording id.
type PeerDecisions = (Value, Vec<(String, Vec<f64>)>);

/// The peer's decisions per recording id, from `scripts/peer_turns.py`.
fn read_peer(path: &Path) -> anyhow::Result<PeerDecisions> {
    let peer: Value = serde_json::from_str(
        &std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let decisions = peer["items"]
        .as_object()
        .context("the peer's file has no items")?
        .iter()
        .map(|(id, item)| {
            let times = item["decisions_s"].as_array().into_iter().flatten();
            (id.clone(), times.filter_map(Value::as_f64).collect())
        })
        .collect();
    Ok((peer["settings"].clone(), decisions))
}

/// Whether each labelled point had the same outcome (cut or not, same decision time).
fn agreeing(a: &ItemScore, b: &ItemScore) -> usize {
    let same = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-6,
        (x, y) => x.is_none() && y.is_none(),
    };
    a.outcomes
        .iter()
        .zip(&b.outcomes)
        .filter(|(x, y)| same(x.decided_at_s, y.decided_at_s))
        .count()
}

/// Runs the subcommand.
pub fn run(config: &Config, args: TurnsArgs) -> anyhow::Result<()> {
    let labels_path = args.fixtures.join("labels.json");
    let labels: Labels =
        serde_json::from_str(&std::fs::read_to_string(&labels_path).with_context(|| {
            format!(
                "reading {} (make it with `python3 scripts/turn_fixtures.py compose --out {}`)",
                labels_path.display(),
                args.fixtures.display()
            )
        })?)?;
    let items: Vec<LabelledItem> = labels
        .items
        .into_iter()
        .filter(|i| args.items.is_empty() || args.items.contains(&i.id))
        .collect();
    let peer = args.peer.as_deref().map(read_peer).transpose()?;
    // Replies are cut to one sentence: only when the turn ends matters here, not what is said.
    let mut config = config.clone();
    config.llm.max_sentences = 1;
    let agent = config.agent_config();
    let whisper = WhisperModel::load(&config.models, &config.asr)?;

    let mut rows = Vec::new();
    let (mut real_scores, mut replay_scores, mut peer_scores) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut listened = Vec::new();
    for item in &items {
        let input = load_pipeline_audio(&args.fixtures.join(&item.file))?;
        let real = session(&config, agent.clone(), &whisper, &input)?;
        let heard = session(&config, listening(&agent), &whisper, &input)?;
        let real_score = score_item(&item.points, &real.decisions_s);
        let replay_score = score_item(
            &item.points,
            &replay_all(&agent.turns.endpoint, &heard.pauses),
        );
        let peer_score = peer.as_ref().map(|(_, decisions)| {
            let times = decisions.iter().find(|(id, _)| *id == item.id);
            score_item(&item.points, times.map_or(&[][..], |(_, t)| t))
        });
        println!(
            "{}: duplex {}; peer {}",
            item.id,
            outcome_line(&real_score),
            peer_score.as_ref().map_or("-".into(), outcome_line)
        );
        rows.push(json!({
            "id": item.id,
            "voice": item.voice,
            "text": item.text,
            "points": item.points,
            "duplex": real_score,
            "duplex_decisions_s": real.decisions_s,
            "peer": peer_score,
            "pauses_heard": heard.pauses,
        }));
        real_scores.push(real_score);
        replay_scores.push(replay_score);
        peer_scores.extend(peer_score);
        listened.push((item, heard.pauses));
    }

    let sweep = sweep_points(&agent.turns.endpoint, &listened);
    let points: usize = items.iter().map(|i| i.points.len()).sum();
    let agree: usize = real_scores
        .iter()
        .zip(&replay_scores)
        .map(|(a, b)| agreeing(a, b))
        .sum();
    let duplex = metrics(&real_scores);
    let peer_metrics = peer.as_ref().map(|_| metrics(&peer_scores));
    let report = json!({
        "bench": "turns",
        "pace": "virtual: each 20 ms frame once the engines are idle (engine costs add no wait)",
        "recordings": items.len(),
        "labelled_points": points,
        "late_ms": scoring::LATE_MS,
        "brain": config.llm.brain,
        "reply_max_sentences": config.llm.max_sentences,
        "duplex": {
            "endpoint": agent.turns.endpoint,
            "vad": agent.vad,
            "metrics": duplex,
        },
        "replay_agreement": {
            "points": points,
            "same_decision": agree,
        },
        "peer": peer.as_ref().map(|(settings, _)| json!({
            "settings": settings,
            "metrics": peer_metrics,
        })),
        "sweep": sweep,
        "items": rows,
    });
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.output, serde_json::to_string_pretty(&report)?)?;
    print_table(
        &agent.turns.endpoint,
        &duplex,
        peer_metrics.as_ref(),
        &sweep,
    );
    println!(
        "replay of today's settings over the listening sessions: {agree} of {points} points \
         decided as the sessions did -> {}",
        args.output.display()
    );
    Ok(())
}

/// The trade-off: every swept setting's figures over the replayed pauses.
fn sweep_points(
    today: &EndpointConfig,
    listened: &[(&LabelledItem, Vec<evidence::Pause>)],
) -> Vec<Value> {
    let mut points = Vec::new();
    for threshold in SWEEP_THRESHOLDS {
        for wait in SWEEP_WAITS_MS {
            let config = EndpointConfig {
                complete_threshold: threshold,
                incomplete_wait_ms: wait,
                question_wait_ms: today.question_wait_ms.min(wait),
                ..today.clone()
            };
            let scores: Vec<ItemScore> = listened
                .iter()
                .map(|(item, pauses)| score_item(&item.points, &replay_all(&config, pauses)))
                .collect();
            let m = metrics(&scores);
            points.push(json!({
                "complete_threshold": (f64::from(threshold) * 100.0).round() / 100.0,
                "incomplete_wait_ms": wait,
                "question_wait_ms": config.question_wait_ms,
                "today": config == *today,
                "false_cut_off_rate": m.false_cut_off_rate,
                "cut_offs_in_speech": m.cut_offs_in_speech,
                "wait_p50_ms": m.wait_p50_ms,
                "wait_p95_ms": m.wait_p95_ms,
                "missed_ends": m.missed_ends,
                "late_ends": m.late_ends,
            }));
        }
    }
    points
}

/// "pause cut at 1.52 s, end after 140 ms" for one recording.
fn outcome_line(score: &ItemScore) -> String {
    let mut parts: Vec<String> = score
        .outcomes
        .iter()
        .map(|o| match (o.finished, o.decided_at_s, o.wait_ms) {
            (false, Some(at), _) => format!("CUT into the {} pause at {at:.2} s", o.kind),
            (false, None, _) => format!("held the {} pause", o.kind),
            (true, _, Some(w)) => format!("end after {w:.0} ms"),
            (true, _, None) => "end MISSED".into(),
        })
        .collect();
    if score.cut_offs_in_speech > 0 {
        parts.push(format!("{} cut-off(s) in speech", score.cut_offs_in_speech));
    }
    parts.join(", ")
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn row(name: &str, m: &Metrics) {
    println!(
        "{name:<44} {:>3}/{:<3} {:>5.1} % {:>9} {:>6}/{:<3} {:>4} {:>8} {:>8}",
        m.false_cut_offs,
        m.unfinished_pauses,
        m.false_cut_off_rate * 100.0,
        m.cut_offs_in_speech,
        m.missed_ends,
        m.true_ends,
        m.late_ends,
        ms(m.wait_p50_ms),
        ms(m.wait_p95_ms),
    );
}

fn print_table(today: &EndpointConfig, duplex: &Metrics, peer: Option<&Metrics>, sweep: &[Value]) {
    println!(
        "\n{:<44} {:>15} {:>9} {:>10} {:>4} {:>8} {:>8}",
        "system", "false cut-offs", "in speech", "missed", "late", "wait p50", "wait p95"
    );
    row(
        &format!(
            "duplex (threshold {}, wait {} ms)",
            today.complete_threshold, today.incomplete_wait_ms
        ),
        duplex,
    );
    if let Some(peer) = peer {
        row("peer (Pipecat smart-turn, VAD stop 0.2 s)", peer);
    }
    // The quickest swept setting (median wait) that keeps cut-offs at or under 5 %.
    let best = sweep
        .iter()
        .filter(|p| p["false_cut_off_rate"].as_f64().is_some_and(|r| r <= 0.05))
        .filter(|p| p["wait_p50_ms"].is_f64())
        .min_by(|a, b| {
            let wait = |p: &Value| p["wait_p50_ms"].as_f64().unwrap_or(f64::INFINITY);
            wait(a).total_cmp(&wait(b))
        });
    if let Some(p) = best {
        println!(
            "replayed sweep, quickest median wait with <= 5 % cut-offs: threshold {}, wait {} ms: \
             {:.1} % cut-offs, wait p50 {} ms, p95 {} ms, {} missed",
            p["complete_threshold"],
            p["incomplete_wait_ms"],
            p["false_cut_off_rate"].as_f64().unwrap_or(f64::NAN) * 100.0,
            ms(p["wait_p50_ms"].as_f64()),
            ms(p["wait_p95_ms"].as_f64()),
            p["missed_ends"],
        );
    }
}
