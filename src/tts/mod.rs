//! Text to speech: Piper VITS voices through ONNX Runtime, with espeak-ng as the phonemizer.
//!
//! `PiperVoice` owns one ONNX session, reused for every sentence. Text is normalised
//! (`crate::text::normalize`), phonemized sentence by sentence, and each sentence is synthesised
//! and handed out as soon as it exists, resampled to the rate the caller asks for (the runtime
//! asks for the voice's own rate: transports resample each reply once). duplex's one
//! `CancelToken` abandons a synthesis from another thread: it is checked between sentences and,
//! through a hook, terminates the ONNX run in progress.

#![deny(unsafe_code)]

mod edges;
mod espeak;
mod phonemize;
mod piper;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use duplex_core::cancel::CancelToken;
pub use edges::{inner_marks, quiet_stretches};
pub use phonemize::{Clause, PhonemeIds, Phonemizer, Utterance, find_espeak_data, split_clauses};
pub use piper::{PiperVoice, SpeechPiece, VoiceFile};

use crate::text::ChunkerConfig;

/// Errors from text to speech.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The voice model (or its `.onnx.json`) is missing or could not be loaded.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// The voice's `.onnx.json` is not a Piper voice configuration.
    #[error("voice config {path} is invalid: {detail} (delete it and run `bash scripts/setup.sh`)")]
    VoiceConfig {
        /// The `.onnx.json` file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// No espeak-ng data directory was found.
    #[error(
        "espeak-ng data directory not found (looked in: {searched}): install it with \
         `apt-get install espeak-ng-data`, or set `tts.espeak_data` in the config (or \
         ESPEAK_DATA_PATH) to the directory that holds `phontab`"
    )]
    EspeakData {
        /// The directories tried, comma-separated.
        searched: String,
    },
    /// espeak-ng refused to start or to phonemize.
    #[error("espeak-ng: {0}")]
    Espeak(String),
    /// There was nothing to say.
    #[error("nothing to say: the text is empty, or only markup and symbols")]
    EmptyText,
    /// A setting is out of range.
    #[error("invalid TTS setting: {0}")]
    Setting(String),
    /// The voice model failed while running.
    #[error("speech synthesis failed: {0}")]
    Inference(String),
    /// The synthesis was cancelled before it finished.
    #[error("speech synthesis cancelled")]
    Cancelled,
    /// Resampling the voice's output failed.
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
}

/// Settings for text to speech.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TtsConfig {
    /// CPU threads for one synthesis (ONNX Runtime intra-op threads).
    pub threads: usize,
    /// Speaking rate: 1.0 is the voice's own, 1.2 is 20 % faster (divides `length_scale`).
    pub speed: f32,
    /// Overrides the voice's `noise_scale` (variation of the voice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_scale: Option<f32>,
    /// Overrides the voice's `noise_w` (variation of phoneme durations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_w: Option<f32>,
    /// Silence after each sentence, in milliseconds (the voice's own trailing silence is
    /// trimmed first).
    pub sentence_silence_ms: u32,
    /// Silence after a chunk that ends with `,` `;` or `:`, in milliseconds.
    pub clause_silence_ms: u32,
    /// The `espeak-ng-data` directory (or its parent); found automatically when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub espeak_data: Option<PathBuf>,
    /// How a streamed reply is cut into chunks.
    pub chunker: ChunkerConfig,
}

impl Default for TtsConfig {
    fn default() -> Self {
        Self {
            threads: 2,
            speed: 1.0,
            noise_scale: None,
            noise_w: None,
            sentence_silence_ms: 150,
            clause_silence_ms: 100,
            espeak_data: None,
            chunker: ChunkerConfig::default(),
        }
    }
}
