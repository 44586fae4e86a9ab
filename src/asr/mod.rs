//! Speech recognition: whisper.cpp through whisper-rs. One loaded model is shared by every
//! session; each session owns its own decoder state, so sessions never wait for one another's
//! buffers.

mod whisper;

pub use whisper::{Transcript, WhisperModel, WhisperSession};

use serde::{Deserialize, Serialize};

/// Errors from speech recognition.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// Decoding failed.
    #[error("transcription failed: {0}")]
    Decode(String),
    /// The transcription was cancelled before it finished.
    #[error("transcription cancelled")]
    Cancelled,
}

/// Settings for speech recognition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AsrConfig {
    /// CPU threads for one transcription.
    pub threads: u32,
    /// Size the encoder's audio context to the segment instead of the fixed 30 s window.
    pub fit_audio_context: bool,
    /// Extra encoder positions (50 per second) beyond the segment when fitting the context.
    pub audio_context_margin: u32,
    /// Spoken language, as a Whisper code.
    pub language: String,
}

impl Default for AsrConfig {
    fn default() -> Self {
        Self {
            threads: 2,
            fit_audio_context: true,
            audio_context_margin: 64,
            language: "en".into(),
        }
    }
}
