//! Echo cancellation bench: echo return loss enhancement (ERLE) of the AEC on the agent's own
//! Piper speech played through a simulated room (-6 dB, 30 ms delay, a low-pass and a reflection
//! 12 ms later at -10 dB), overall, in the first second (convergence) and after it; how much of a
//! real user's voice (jfk.wav) survives when spoken over the echo; and the AEC's compute cost per
//! second of audio. Then, with the real models in the simulated room of the desktop transport
//! (48 kHz stereo, the same echo path, real time): the barge-in stop time, from the onset of the
//! user's speech over a reply to the speaker going silent (the flush taking effect in the output
//! callback), over several barge-ins; and whether, without the AEC, the agent interrupts itself.
//! Writes JSON to `bench-results/aec.json` and prints it.
//!
//! Run: `cargo bench --bench aec` (after `bash scripts/setup.sh`).

#[path = "../tests/desktop_room/mod.rs"]
mod desktop_room;

use std::path::Path;
use std::time::{Duration, Instant};

use desktop_room::RoomSession;
use duplex::agent::AgentEvent;
use duplex::transport::desktop::loopback::RoomConfig;

use duplex::aec::{Aec3, EchoPath, cancel_recording, erle_db};
use duplex::audio::{PIPELINE_RATE, load_pipeline_audio};
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::tts::PiperVoice;
use serde_json::json;

/// What the agent says (about 15 s of speech).
const REPLY: &str = "Sure. Going forward ten meters is a short walk, about thirty steps for most \
    people. If you want, I can tell you more about how long it takes, and what you might see \
    along the way. Tomorrow looks cooler, so keep a jacket at hand.";

/// Where the user starts speaking over the echo, in seconds.
const USER_AT_S: f32 = 3.0;

fn speak(text: &str) -> Vec<f32> {
    let config = Config::default();
    let mut voice = PiperVoice::load(&config.models, &config.tts).expect("Piper voice loads");
    let cancel = duplex::cancel::CancelToken::new();
    let mut samples = Vec::new();
    voice
        .speak(text, PIPELINE_RATE, &cancel, |piece| {
            samples.extend(piece.samples)
        })
        .expect("speaks");
    samples
}

/// Questions asked before each barge-in, and what the user says over the reply.
const QUESTIONS: [&str; 3] = [
    "goforward.wav",
    "sense_and_sensibility_01_austen_64kb-0880.wav",
    "001.wav",
];
const BARGE_IN: &str = "sense_and_sensibility_01_austen_64kb-0930.wav";

/// Longest wait for one step of a conversation.
const STEP: Duration = Duration::from_secs(90);

/// One barge-in: from the user's speech onset to a silent speaker, and the part of it after the
/// agent's decision reached the test (the transport's flush: session → transport loop → flush
/// epoch → next output callback).
struct BargeIn {
    stop_ms: f64,
    after_decision_ms: f64,
}

/// Barge-ins over replies, one per question.
fn barge_ins() -> Vec<BargeIn> {
    let mut s = RoomSession::start(RoomConfig::default(), true);
    s.listen(Duration::from_secs(1));
    let mut starts = Vec::new();
    let mut decisions = Vec::new();
    for question in QUESTIONS {
        s.say(question);
        if s.wait_for(STEP, |e| matches!(e, AgentEvent::FirstAudio { .. }))
            .is_none()
        {
            continue;
        }
        let start = s.say(BARGE_IN);
        // The interrupted reply, then the answer to what the user said over it.
        let cut = s.wait_for(STEP, |e| matches!(e, AgentEvent::AssistantText { .. }));
        if matches!(
            cut,
            Some(AgentEvent::AssistantText {
                interrupted: true,
                ..
            })
        ) {
            starts.push(start);
            decisions.push(s.room.clock());
        }
        s.wait_for(STEP, |e| matches!(e, AgentEvent::AssistantText { .. }));
        s.listen(Duration::from_secs(1));
    }
    let rate = f64::from(s.room.rate());
    let outcome = s.finish();
    let rec = &outcome.recording;
    starts
        .iter()
        .zip(&decisions)
        .filter_map(|(&start, &decided)| {
            let onset = start as usize
                + rec.user[start as usize..]
                    .iter()
                    .position(|u| u.abs() > 0.02)?;
            let flush = *rec.discards_at.iter().find(|&&f| f as usize > onset)? as f64;
            Some(BargeIn {
                stop_ms: 1000.0 * (flush - onset as f64) / rate,
                after_decision_ms: 1000.0 * (flush - decided as f64) / rate,
            })
        })
        .collect()
}

/// Whether the agent cuts its own reply when nothing cancels its echo.
fn self_interrupts_without_aec() -> bool {
    let mut s = RoomSession::start(RoomConfig::default(), false);
    s.listen(Duration::from_secs(1));
    s.say(QUESTIONS[0]);
    let reply = s.wait_for(STEP, |e| matches!(e, AgentEvent::AssistantText { .. }));
    s.finish();
    matches!(
        reply,
        Some(AgentEvent::AssistantText {
            interrupted: true,
            ..
        })
    )
}

fn energy_db(x: &[f32]) -> f64 {
    10.0 * (x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / x.len().max(1) as f64)
        .max(1e-12)
        .log10()
}

fn main() {
    let rate = PIPELINE_RATE as usize;
    let far = speak(REPLY);
    let path = EchoPath::default();
    let echo = path.apply(&far, PIPELINE_RATE);

    let started = Instant::now();
    let residual = cancel_recording(&mut Aec3::new(), &far, &echo);
    let cost_s = started.elapsed().as_secs_f64();
    let audio_s = far.len() as f64 / rate as f64;

    let user = load_pipeline_audio(&fixture_path("jfk.wav")).expect("jfk.wav");
    let at = (USER_AT_S * PIPELINE_RATE as f32) as usize;
    let mut near = echo.clone();
    let overlap = user.len().min(near.len().saturating_sub(at));
    for (n, u) in near[at..at + overlap].iter_mut().zip(&user) {
        *n += u;
    }
    let cleaned = cancel_recording(&mut Aec3::new(), &far, &near);
    let user_kept_db = energy_db(&cleaned[at..at + overlap]) - energy_db(&user[..overlap]);
    let echo_over_user_db = energy_db(&echo[at..at + overlap]) - energy_db(&user[..overlap]);

    let barge_ins = barge_ins();
    let stops: Vec<f64> = barge_ins.iter().map(|b| b.stop_ms).collect();
    let after_decision: Vec<f64> = barge_ins.iter().map(|b| b.after_decision_ms).collect();
    let mut sorted = stops.clone();
    sorted.sort_by(f64::total_cmp);
    let without_aec = self_interrupts_without_aec();

    let result = json!({
        "aec": "WebRTC AEC3 (sonora 0.1, pure Rust)",
        "echo_path": {
            "gain_db": path.gain_db, "delay_ms": path.delay_ms,
            "reflection_ms": path.reflection_ms, "reflection_db": path.reflection_db,
            "lowpass": "one-pole, 0.6",
        },
        "far_end": "Piper en_US joe, 16 kHz",
        "far_end_s": audio_s,
        "erle_db": erle_db(&echo, &residual),
        "erle_first_second_db": erle_db(&echo[..rate], &residual[..rate]),
        "erle_after_first_second_db": erle_db(&echo[rate..], &residual[rate..]),
        "double_talk": {
            "user": "jfk.wav",
            "starts_s": USER_AT_S,
            "echo_over_user_db": echo_over_user_db,
            "user_level_after_aec_db": user_kept_db,
        },
        "cost_ms_per_audio_s": 1000.0 * cost_s / audio_s,
        "desktop_room": {
            "device": "simulated, 48 kHz stereo, 20 ms callbacks, same echo path",
            "barge_in": BARGE_IN,
            "barge_in_stop_ms": stops,
            "barge_in_stop_ms_median": sorted.get(sorted.len() / 2),
            "barge_in_onset": "first user sample above 0.02 (-34 dBFS)",
            "flush_after_decision_ms": after_decision,
            "agent_interrupt_after_ms": Config::default().agent.interrupt_after_ms,
            "self_interrupted_without_aec": without_aec,
        },
    });
    let text = serde_json::to_string_pretty(&result).expect("json");
    println!("{text}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    std::fs::create_dir_all(&dir).expect("creating bench-results/");
    std::fs::write(dir.join("aec.json"), text + "\n").expect("writing bench-results/aec.json");
}
