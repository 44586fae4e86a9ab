//! `cargo bench --bench overlap`: sounds over the agent's voice, with the real models. Each case
//! asks a question, waits for the reply to be heard for a second, then plays one sound over it:
//! a real interruption (speech), a backchannel ("mm-hm", "yeah", a short laugh) or a false alarm
//! (a click, a cough, a 150 ms burst of speech). Two transports:
//!
//! - the desktop transport in the simulated room (48 kHz, the agent's echo at -6 dB, the AEC
//!   on), the sound played when the reply has been audible for a second;
//! - the file transport in real time: a first pass finds when the reply is heard, the second
//!   pass places the sound a second into it.
//!
//! For each case: the stop time, from the sound's first voiced sample (the first 20 ms frame
//! above -40 dBFS whose normalised autocorrelation peaks above 0.6 at a pitch of 70-400 Hz; for
//! a sound with no voiced frame, its first sample above 0.02) to the agent's audio at least 20 dB
//! below its level of the 300 ms before (held for 120 ms); what the agent finally decided
//! (interruption, backchannel, false alarm; none if it never paused) against the truth; and
//! whether a resumed reply was heard to its end (its text equal to the reply heard without the
//! sound). Stop-time percentiles are over the sounds the agent paused for.
//! Writes `bench-results/overlap.json` (with the confusion table) and prints it.
//!
//! Run: `cargo bench --bench overlap` (after `bash scripts/setup.sh`).

#[path = "../tests/desktop_room/mod.rs"]
mod desktop_room;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use desktop_room::RoomSession;
use duplex::agent::{AgentEvent, OverlapDecision};
use duplex::asr::WhisperModel;
use duplex::audio::{PIPELINE_RATE, load_pipeline_audio};
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::runtime::{SessionEventKind, load_local_engines};
use duplex::transport::desktop::loopback::RoomConfig;
use duplex::transport::file::{Pace, converse};
use serde_json::{Value, json};

/// A sound played over the reply, and what it truly is.
struct Sound {
    name: String,
    truth: OverlapDecision,
    samples: Vec<f32>,
}

/// Real interruptions: speech fixtures said over the reply.
const INTERRUPTIONS: [&str; 12] = [
    "sense_and_sensibility_01_austen_64kb-0930.wav",
    "sense_and_sensibility_01_austen_64kb-0870.wav",
    "sense_and_sensibility_01_austen_64kb-0890.wav",
    "goforward.wav",
    "001.wav",
    "002.wav",
    "003.wav",
    "005.wav",
    "Front_Left.wav",
    "Front_Center.wav",
    "Rear_Right.wav",
    "Side_Left.wav",
];

/// Questions, one per case in turn.
const QUESTIONS: [&str; 3] = [
    "sense_and_sensibility_01_austen_64kb-0880.wav",
    "goforward.wav",
    "sense_and_sensibility_01_austen_64kb-0870.wav",
];

/// How long the reply is heard before the sound.
const INTO_REPLY: Duration = Duration::from_secs(1);
/// Longest wait for one step.
const STEP: Duration = Duration::from_secs(120);
/// Onset threshold.
const ONSET: f32 = 0.02;

/// The interruptions, every sound of `audio-fixtures/overlap/` (its manifest gives the truth),
/// and a 150 ms burst of speech cut from jfk.wav.
fn sounds() -> Vec<Sound> {
    let load = |file: &str| load_pipeline_audio(&fixture_path(file)).expect("sound fixture");
    let mut out: Vec<Sound> = INTERRUPTIONS
        .iter()
        .map(|file| Sound {
            name: (*file).to_owned(),
            truth: OverlapDecision::Interruption,
            samples: load(file),
        })
        .collect();
    let manifest = std::fs::read_to_string(fixture_path("overlap/manifest.json"))
        .expect("audio-fixtures/overlap/manifest.json");
    let entries: Vec<Value> = serde_json::from_str(&manifest).expect("manifest JSON");
    for entry in entries {
        let file = format!("overlap/{}", entry["file"].as_str().expect("file"));
        let truth = match entry["kind"].as_str() {
            Some("backchannel") => OverlapDecision::Backchannel,
            _ => OverlapDecision::FalseAlarm,
        };
        out.push(Sound {
            samples: load(&file),
            name: file,
            truth,
        });
    }
    let jfk = load("jfk.wav");
    let ms = |m: usize| m * PIPELINE_RATE as usize / 1000;
    out.push(Sound {
        name: "150 ms burst of jfk.wav (1.90-2.05 s)".into(),
        truth: OverlapDecision::FalseAlarm,
        samples: jfk[ms(1900)..ms(2050)].to_vec(),
    });
    if let Ok(only) = std::env::var("DUPLEX_OVERLAP_SOUNDS") {
        out.retain(|s| only.split(',').any(|o| s.name.contains(o)));
    }
    out
}

/// The stop time in ms: from `onset` to the first point where `audio` (at `rate`) stays at
/// least 20 dB below its level of the 300 ms before the onset, for 120 ms; `None` if the agent
/// was not audible before the onset or never went quiet.
fn stop_ms(audio: &[f32], rate: u32, onset: usize) -> Option<f64> {
    let at = |ms: usize| ms * rate as usize / 1000;
    let power = |x: &[f32]| x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32;
    let before = power(audio.get(onset.checked_sub(at(300))?..onset)?);
    if before < 1e-6 {
        return None;
    }
    let window = at(10);
    let quiet = |i: usize| power(&audio[i..(i + window).min(audio.len())]) <= before * 0.01;
    let mut i = onset;
    while i + at(120) < audio.len() {
        if (0..12).all(|k| quiet(i + k * window)) {
            return Some(1000.0 * (i - onset) as f64 / f64::from(rate));
        }
        i += window / 2;
    }
    None
}

/// Where a sound (16 kHz) starts for the stop time: its first voiced sample, else its first
/// sample above [`ONSET`]; and which of the two it is.
fn onset_of(samples: &[f32]) -> (usize, &'static str) {
    let (frame, hop) = (320, 160);
    let voiced = (0..samples.len().saturating_sub(frame))
        .step_by(hop)
        .find(|&i| is_voiced(&samples[i..i + frame]));
    match voiced {
        Some(i) => (i, "voiced"),
        None => (
            samples.iter().position(|s| s.abs() > ONSET).unwrap_or(0),
            "above 0.02",
        ),
    }
}

/// A 20 ms frame (16 kHz) above -40 dBFS whose normalised autocorrelation peaks above 0.6 at a
/// lag of a 70-400 Hz pitch.
fn is_voiced(x: &[f32]) -> bool {
    let energy: f32 = x.iter().map(|s| s * s).sum();
    if (energy / x.len() as f32).sqrt() < 0.01 {
        return false;
    }
    (40..=228).any(|lag| {
        let (a, b) = (&x[..x.len() - lag], &x[lag..]);
        let dot: f32 = a.iter().zip(b).map(|(p, q)| p * q).sum();
        let norm =
            (a.iter().map(|s| s * s).sum::<f32>() * b.iter().map(|s| s * s).sum::<f32>()).sqrt();
        norm > 0.0 && dot / norm > 0.6
    })
}

/// The agent's last decision on a sound (a sound joined with a later one is decided again).
fn decision_of(
    events: &[AgentEvent],
    turn: Option<duplex::agent::TurnId>,
) -> Option<OverlapDecision> {
    events.iter().rev().find_map(|e| match e {
        AgentEvent::OverlapJudged {
            decision, turn: t, ..
        } if turn.is_none_or(|x| x == *t) => Some(*decision),
        _ => None,
    })
}

/// The first reply's closing text and whether it was interrupted.
fn first_reply(events: &[AgentEvent]) -> Option<(String, bool)> {
    events.iter().find_map(|e| match e {
        AgentEvent::AssistantText {
            text, interrupted, ..
        } => Some((text.clone(), *interrupted)),
        _ => None,
    })
}

fn case_json(
    transport: &str,
    sound: &Sound,
    stop: Option<f64>,
    decided: Option<OverlapDecision>,
    reply: Option<(String, bool)>,
    full: Option<&str>,
) -> Value {
    let resumed_whole = match (&reply, full) {
        (Some((text, false)), Some(full)) => Some(text == full),
        _ => None,
    };
    json!({
        "transport": transport,
        "sound": sound.name,
        "onset": onset_of(&sound.samples).1,
        "truth": sound.truth,
        "decided": decided,
        "stop_ms": stop,
        "reply_text": reply.as_ref().map(|r| r.0.clone()),
        "reply_interrupted": reply.as_ref().map(|r| r.1),
        "resumed_reply_heard_whole": resumed_whole,
    })
}

/// Every case in the simulated room, in one conversation.
fn room_cases(sounds: &[Sound]) -> Vec<Value> {
    let mut s = RoomSession::start(RoomConfig::default(), true);
    s.listen(Duration::from_secs(1));
    let mut cases = Vec::new();
    for (i, sound) in sounds.iter().enumerate() {
        let from = s.seen.len();
        s.say(QUESTIONS[i % QUESTIONS.len()]);
        if s.wait_for(STEP, |e| matches!(e, AgentEvent::FirstAudio { .. }))
            .is_none()
        {
            continue;
        }
        s.listen(INTO_REPLY);
        // Pauses while only the agent spoke: its own echo taken for the user.
        let self_pauses = s.seen[from..]
            .iter()
            .filter(|e| matches!(e, AgentEvent::PlaybackPaused { .. }))
            .count();
        let start = s.room.say(&sound.samples).expect("resampled");
        s.wait_for(STEP, |e| matches!(e, AgentEvent::AssistantText { .. }));
        // After an interruption, its own answer.
        if decision_of(&s.seen[from..], None) == Some(OverlapDecision::Interruption) {
            s.wait_for(STEP, |e| matches!(e, AgentEvent::AssistantText { .. }));
        }
        s.listen(Duration::from_secs(1));
        cases.push((start, from, s.seen.len(), i, self_pauses));
    }
    let rate = s.room.rate();
    let outcome = s.finish();
    let rec = &outcome.recording;
    cases
        .into_iter()
        .map(|(start, from, to, i, self_pauses)| {
            let events = &outcome.events[from..to];
            let (onset16, _) = onset_of(&sounds[i].samples);
            let onset = start as usize + onset16 * rate as usize / PIPELINE_RATE as usize;
            let stop = stop_ms(&rec.speaker, rate, onset);
            let mut case = case_json(
                "desktop (simulated room, AEC)",
                &sounds[i],
                stop,
                decision_of(events, None),
                first_reply(events),
                None,
            );
            case["self_pauses_before_the_sound"] = json!(self_pauses);
            case
        })
        .collect()
}

/// A question's input, where its reply was first heard, and the reply's text heard whole.
type FirstPass = (Vec<f32>, usize, Option<String>);

/// Every case through the file transport in real time: one pass per question without a sound,
/// then one per case with the sound placed a second into the reply.
fn file_cases(sounds: &[Sound]) -> Vec<Value> {
    let config = Config::default();
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("whisper");
    let rate16 = PIPELINE_RATE as usize;
    let mut cases = Vec::new();
    // Pass one, once per question: when its reply is first heard, and its text heard whole.
    let mut first_pass: Vec<Option<FirstPass>> = Vec::new();
    for question in QUESTIONS {
        let mut input = load_pipeline_audio(&fixture_path(question)).expect("question");
        input.extend(vec![0.0; 10 * rate16]);
        let engines = load_local_engines(&config, &whisper).expect("engines");
        let first = converse(config.agent_config(), engines, &input, Pace::RealTime);
        let events = agent_events(&first.events);
        let heard_at = events.iter().find_map(|e| match e {
            AgentEvent::FirstAudio { at, .. } => Some(*at as usize),
            _ => None,
        });
        first_pass.push(heard_at.map(|at| (input, at, first_reply(&events).map(|r| r.0))));
    }
    for (i, sound) in sounds.iter().enumerate() {
        let Some((input, heard_at, full)) = first_pass[i % QUESTIONS.len()].clone() else {
            continue;
        };
        let place = heard_at + INTO_REPLY.as_millis() as usize * rate16 / 1000;
        let mut with_sound = input.clone();
        with_sound.resize(
            with_sound
                .len()
                .max(place + sound.samples.len() + 8 * rate16),
            0.0,
        );
        for (x, s) in with_sound[place..].iter_mut().zip(&sound.samples) {
            *x += s;
        }
        let engines = load_local_engines(&config, &whisper).expect("engines");
        let second = converse(config.agent_config(), engines, &with_sound, Pace::RealTime);
        let events = agent_events(&second.events);
        let onset16 = place + onset_of(&sound.samples).0;
        let out_rate = second.output_rate;
        let stop = stop_ms(
            &second.output,
            out_rate,
            onset16 * out_rate as usize / rate16,
        );
        cases.push(case_json(
            "file (real time)",
            sound,
            stop,
            decision_of(&events, None),
            first_reply(&events),
            full.as_deref(),
        ));
        eprintln!(
            "file case {}/{}: {}",
            i + 1,
            sounds.len(),
            cases.last().unwrap()
        );
    }
    cases
}

fn agent_events(events: &[duplex::runtime::SessionEvent]) -> Vec<AgentEvent> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Agent(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(i.clamp(1, v.len().max(1)) - 1).copied()
}

/// Stop-time percentiles and the confusion table of one transport's cases.
fn summary(cases: &[Value]) -> Value {
    let paused = |c: &&Value| !c["decided"].is_null();
    let stops: Vec<f64> = cases
        .iter()
        .filter(paused)
        .filter_map(|c| c["stop_ms"].as_f64())
        .collect();
    let interruption_stops: Vec<f64> = cases
        .iter()
        .filter(|c| c["truth"] == "interruption")
        .filter_map(|c| c["stop_ms"].as_f64())
        .collect();
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for c in cases {
        let truth = c["truth"].as_str().unwrap_or("?").to_owned();
        let decided = c["decided"].as_str().unwrap_or("none").to_owned();
        *confusion
            .entry(truth)
            .or_default()
            .entry(decided)
            .or_default() += 1;
    }
    let self_pauses: u64 = cases
        .iter()
        .filter_map(|c| c["self_pauses_before_the_sound"].as_u64())
        .sum();
    let went_on = |truth: &str| {
        let of_truth: Vec<&Value> = cases.iter().filter(|c| c["truth"] == truth).collect();
        let on = of_truth
            .iter()
            .filter(|c| c["reply_interrupted"] == json!(false))
            .count();
        json!({ "cases": of_truth.len(), "reply_went_on": on })
    };
    json!({
        "cases": cases.len(),
        "self_pauses_before_the_sound": self_pauses,
        "backchannels": went_on("backchannel"),
        "false_alarms": went_on("false_alarm"),
        "interruptions_that_cut": cases
            .iter()
            .filter(|c| c["truth"] == "interruption" && c["reply_interrupted"] == json!(true))
            .count(),
        "stop_ms_measured": stops.len(),
        "stop_ms_p50": percentile(&stops, 50.0),
        "stop_ms_p95": percentile(&stops, 95.0),
        "interruptions_stop_ms_p50": percentile(&interruption_stops, 50.0),
        "interruptions_stop_ms_p95": percentile(&interruption_stops, 95.0),
        "confusion_truth_to_decided": confusion,
    })
}

fn main() {
    let sounds = sounds();
    let only = std::env::var("DUPLEX_OVERLAP_TRANSPORTS").unwrap_or_else(|_| "room,file".into());
    let mut report = serde_json::Map::new();
    report.insert(
        "what".into(),
        json!("sounds over the agent's voice: stop time (sound onset above 0.02 to agent audio 20 dB down for 120 ms) and the agent's decision against the truth"),
    );
    report.insert(
        "interrupt_after_ms".into(),
        json!(Config::default().agent.interrupt_after_ms),
    );
    for (name, run) in [
        ("room", room_cases as fn(&[Sound]) -> Vec<Value>),
        ("file", file_cases),
    ] {
        if !only.split(',').any(|o| o == name) {
            continue;
        }
        let cases = run(&sounds);
        report.insert(
            name.into(),
            json!({ "summary": summary(&cases), "cases": cases }),
        );
    }
    let text = serde_json::to_string_pretty(&Value::Object(report)).expect("json");
    println!("{text}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    std::fs::create_dir_all(&dir).expect("creating bench-results/");
    std::fs::write(dir.join("overlap.json"), text + "\n")
        .expect("writing bench-results/overlap.json");
}
