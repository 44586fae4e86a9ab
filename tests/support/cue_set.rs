//! The labelled cue set `audio-fixtures/cues/` (its `manifest.json`) and how one judgement of it
//! is scored, shared by `benches/cues.rs` (which reports every figure) and `tests/cues_real.rs`
//! (which asserts the floors below over every labelled file): one scoring, so the test and the
//! bench cannot drift apart.
//!
//! - Intonation: every item labelled question or statement, each judged alone (no baseline, its
//!   transcript given); it counts as rising when the `QuestionRise` confidence reaches
//!   `MIN_CONFIDENCE`. Lines labelled continuation are not scored.
//! - Rate: every real recording (normal, 0.7x slow, 1.35x fast), judged against the speaker's
//!   baseline learnt from the speaker's *other* recordings at their own pace (leave one out; a
//!   speaker with one recording is enrolled on it).

#![allow(dead_code)]

use std::path::PathBuf;

use duplex::audio::load_pipeline_audio;
use duplex::cues::{CueKind, CueTracker, MIN_CONFIDENCE, SpeakerBaseline, TurnCues};
use duplex::fixtures::fixtures_dir;
use serde::Deserialize;

/// Samples per push: 20 ms, as the pipeline's frames.
pub const CHUNK: usize = 320;

/// Speakers whose items tuned the thresholds (the rest is the held-out test part).
pub const DEV_SPEAKERS: [&str; 2] = ["synthetic-espeak", "librivox-austen"];

/// The intonation floor: of the 54 items labelled question or statement, at least this many are
/// judged right (`cargo bench --bench cues` measured 48/54, 88.9 %, README's cue line).
pub const INTONATION_FLOOR: (usize, usize) = (48, 54);

/// The rate floor against the speaker's baseline (with the transcript's syllables): of the 42
/// real recordings, at least this many are judged right (the bench measured 36/42, 85.7 %).
pub const RATE_FLOOR: (usize, usize) = (36, 42);

/// One labelled file of the manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    /// Path under `audio-fixtures/cues/`.
    pub file: String,
    /// What is said.
    pub reference: String,
    /// Who says it.
    pub speaker: String,
    /// A recording (true) or synthetic speech.
    pub real: bool,
    /// "question", "statement" or "continuation".
    pub intonation: String,
    /// The tempo it was stretched to (1.0: its own pace).
    pub tempo: f32,
    /// "normal", "slow" or "fast".
    pub rate: String,
}

impl Item {
    /// Whether it belongs to the part that tuned the thresholds.
    pub fn is_dev(&self) -> bool {
        DEV_SPEAKERS.contains(&self.speaker.as_str())
    }

    /// The intonation it is scored against ("rising" or "not rising"), if it is scored.
    pub fn intonation_truth(&self) -> Option<&'static str> {
        match self.intonation.as_str() {
            "question" => Some("rising"),
            "statement" => Some("not rising"),
            _ => None,
        }
    }
}

/// The labelled set: every item of the manifest with its audio (16 kHz mono).
pub struct CueSet {
    /// The items, in the manifest's order.
    pub items: Vec<Item>,
    /// Their audio, in the same order.
    pub audio: Vec<Vec<f32>>,
}

/// Where the set lives.
pub fn dir() -> PathBuf {
    fixtures_dir().join("cues")
}

impl CueSet {
    /// Reads the manifest and every file it names.
    pub fn load() -> Self {
        let manifest = std::fs::read_to_string(dir().join("manifest.json")).expect("cues manifest");
        let items: Vec<Item> = serde_json::from_str(&manifest).expect("cues manifest parses");
        let audio = items
            .iter()
            .map(|i| load_pipeline_audio(&dir().join(&i.file)).expect("fixture loads"))
            .collect();
        Self { items, audio }
    }

    /// The real recordings (the items the rate is scored on).
    pub fn real(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].real)
            .collect()
    }

    /// The baseline item `i` is judged against: learnt from the same speaker's other real
    /// recordings at their own pace (or, for a speaker with one, from that one), from their
    /// transcripts' syllables when `with_transcript`.
    pub fn speaker_baseline(&self, i: usize, with_transcript: bool) -> SpeakerBaseline {
        let item = &self.items[i];
        let same: Vec<usize> = self
            .real()
            .into_iter()
            .filter(|&j| self.items[j].speaker == item.speaker && self.items[j].tempo == 1.0)
            .collect();
        let others: Vec<usize> = same
            .iter()
            .copied()
            .filter(|&j| self.items[j].reference != item.reference)
            .collect();
        let enrol = if others.is_empty() { same } else { others };
        let recordings: Vec<(&[f32], &str)> = enrol
            .iter()
            .map(|&j| (self.audio[j].as_slice(), self.items[j].reference.as_str()))
            .collect();
        learn(&recordings, with_transcript)
    }
}

/// A baseline learnt from some recordings at their own pace.
pub fn learn(recordings: &[(&[f32], &str)], with_transcript: bool) -> SpeakerBaseline {
    let mut tracker = CueTracker::new();
    for (audio, text) in recordings {
        tracker.push(audio);
        tracker.finish(with_transcript.then_some(*text));
    }
    tracker.baseline().clone()
}

/// Feeds `audio` in 20 ms chunks to a tracker with `baseline` and judges it.
pub fn judge(audio: &[f32], baseline: &SpeakerBaseline, transcript: Option<&str>) -> TurnCues {
    let mut tracker = CueTracker::with_baseline(baseline.clone());
    for chunk in audio.chunks(CHUNK) {
        tracker.push(chunk);
    }
    tracker.judge(transcript)
}

/// "rising" or "not rising".
pub fn intonation_class(cues: &TurnCues) -> &'static str {
    if cues.confidence(CueKind::QuestionRise) >= MIN_CONFIDENCE {
        "rising"
    } else {
        "not rising"
    }
}

/// "fast", "slow" or "normal".
pub fn rate_class(cues: &TurnCues) -> &'static str {
    if cues.confidence(CueKind::Fast) >= MIN_CONFIDENCE {
        "fast"
    } else if cues.confidence(CueKind::Slow) >= MIN_CONFIDENCE {
        "slow"
    } else {
        "normal"
    }
}
