//! Voice activity: a speech probability per 32 ms chunk (Silero v6 through ONNX Runtime), turned
//! into speech segments with thresholds, minimum speech and minimum silence.

mod segmenter;
mod silero;

pub use segmenter::{Segmenter, SpeechSegment, VadEvent};
pub use silero::SileroVad;

use serde::{Deserialize, Serialize};

/// Samples in one VAD chunk at 16 kHz (32 ms).
pub const VAD_CHUNK: usize = 512;

/// Errors from the VAD model.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// Inference failed.
    #[error("VAD inference failed: {0}")]
    Inference(String),
}

/// A model that scores 512-sample chunks of 16 kHz audio, carrying its own state between calls.
pub trait SpeechProbability {
    /// Probability that `chunk` holds speech, given everything fed before it.
    fn probability(&mut self, chunk: &[f32; VAD_CHUNK]) -> Result<f32, VadError>;
    /// Forgets all earlier audio (a new stream starts).
    fn reset(&mut self);
}

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

/// Runs a VAD model over a whole 16 kHz buffer and returns its speech segments.
pub fn detect_segments(
    model: &mut dyn SpeechProbability,
    samples: &[f32],
    config: &VadConfig,
) -> Result<Vec<SpeechSegment>, VadError> {
    model.reset();
    let mut segmenter = Segmenter::new(config.clone());
    let mut segments = Vec::new();
    for (i, chunk) in samples.chunks(VAD_CHUNK).enumerate() {
        let mut padded = [0.0f32; VAD_CHUNK];
        padded[..chunk.len()].copy_from_slice(chunk);
        let prob = model.probability(&padded)?;
        let start = (i * VAD_CHUNK) as u64;
        if let Some(VadEvent::SpeechEnd(segment)) = segmenter.push(start, prob) {
            segments.push(segment);
        }
    }
    if let Some(segment) = segmenter.finish(samples.len() as u64) {
        segments.push(segment);
    }
    Ok(segments)
}
