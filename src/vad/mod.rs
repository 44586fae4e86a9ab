//! Voice activity: a speech probability per 32 ms chunk (Silero v6 through ONNX Runtime), turned
//! into speech segments with thresholds, minimum speech and minimum silence.

mod silero;

pub use duplex_core::vad::{Segmenter, SpeechSegment, VAD_CHUNK, VadConfig, VadEvent};
pub use silero::SileroVad;

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
