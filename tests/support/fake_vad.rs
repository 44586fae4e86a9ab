//! A fake voice activity detector for runtime tests without models: speech wherever the
//! signal is loud.

use duplex::vad::{SpeechProbability, VAD_CHUNK, VadError};

/// Speech (0.95) where a chunk's RMS is above 0.05, silence (0.02) elsewhere.
pub struct LoudIsSpeech;

impl SpeechProbability for LoudIsSpeech {
    fn probability(&mut self, chunk: &[f32; VAD_CHUNK]) -> Result<f32, VadError> {
        let rms = (chunk.iter().map(|s| s * s).sum::<f32>() / VAD_CHUNK as f32).sqrt();
        Ok(if rms > 0.05 { 0.95 } else { 0.02 })
    }
    fn reset(&mut self) {}
}
