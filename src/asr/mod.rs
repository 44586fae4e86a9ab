//! Speech recognition: whisper.cpp through whisper-rs. One loaded model is shared by every
//! session; each session owns its own decoder state, so sessions never wait for one another's
//! buffers.

mod loop_guard;
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
    /// CPU threads for one transcription. One by default: whisper.cpp starts its helper threads
    /// for every graph it computes (each decoded token), and when the cores were idle just
    /// before (as they are while the user speaks) waking them costs more than the second
    /// thread gains. `cargo bench --bench stages` (`asr_after_idle`, 21 fixture utterances,
    /// 300 ms idle before each): median 106 ms with 1 thread, 170 ms with 2.
    pub threads: u32,
    /// Size the encoder's audio context to the segment instead of the fixed 30 s window.
    pub fit_audio_context: bool,
    /// Extra encoder positions (50 per second) beyond the segment when fitting the context.
    /// Each position costs encoder time; too small a margin makes the decoder loop (stopped by
    /// the loop guard) or drop words. `DUPLEX_CONFIG=<[asr] audio_context_margin = N>
    /// DUPLEX_BENCH_FITTED_ONLY=1 cargo bench --bench stages`, 1 thread, 21 utterances: 240 gave
    /// a median of 139 ms and 7.5 % WER, 160 107 ms and 7.5 %, 96 104 ms and 11.0 %.
    pub audio_context_margin: u32,
    /// Spoken language, as a Whisper code.
    pub language: String,
}

impl Default for AsrConfig {
    fn default() -> Self {
        Self {
            threads: 1,
            fit_audio_context: true,
            audio_context_margin: 160,
            language: "en".into(),
        }
    }
}
