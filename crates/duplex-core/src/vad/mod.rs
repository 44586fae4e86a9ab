//! Voice activity as pure logic: the thresholds that turn per-chunk speech probabilities into
//! speech segments, and the streaming segmenter that applies them. The model that produces the
//! probabilities (Silero) lives in the `duplex` crate.

mod segmenter;

pub use segmenter::{Segmenter, SpeechSegment, VadEvent};

use serde::{Deserialize, Serialize};

use crate::PIPELINE_RATE;

/// Samples in one VAD chunk at 16 kHz (32 ms).
pub const VAD_CHUNK: usize = 512;

/// Thresholds that turn probabilities into speech segments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    /// A chunk at or above this probability is speech.
    pub threshold: f32,
    /// Speech ends only when the probability falls below this (hysteresis).
    pub neg_threshold: f32,
    /// Shorter speech is discarded (a click, a cough).
    pub min_speech_ms: u32,
    /// Silence shorter than this does not end a segment.
    pub min_silence_ms: u32,
    /// Padding added to both ends of a segment.
    pub speech_pad_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: 0.35,
            min_speech_ms: 250,
            min_silence_ms: 100,
            speech_pad_ms: 30,
        }
    }
}
