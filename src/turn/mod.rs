//! End of turn: whether the user has finished speaking, scored from the audio of the turn so far
//! by smart-turn v3.2 (ONNX Runtime) over a Whisper-style log-mel front end written in Rust.
//!
//! The core asks this after VAD reports a pause; a score above the threshold ends the turn. The
//! model and the core's fake engines share the [`TurnScorer`] shape.

pub mod mel;
mod smart_turn;

pub use smart_turn::SmartTurn;

use serde::{Deserialize, Serialize};

/// Errors from the end-of-turn model.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The model file or ONNX Runtime could not be loaded.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// The file loaded but is not a smart-turn v3 model (wrong inputs or outputs).
    #[error(
        "{path} is not a smart-turn v3 model: {detail} (check `models.smart_turn` in the config)"
    )]
    WrongModel {
        /// The model file.
        path: std::path::PathBuf,
        /// What did not match.
        detail: String,
    },
    /// ONNX Runtime failed while scoring.
    #[error("smart-turn inference failed: {0}")]
    Inference(String),
}

/// Something that scores the audio of a user turn: the probability that the turn is complete.
pub trait TurnScorer {
    /// Probability in `[0, 1]` that the speaker has finished, given the turn's 16 kHz mono audio
    /// up to now (only the last 8 s are used by smart-turn).
    fn score(&mut self, audio: &[f32]) -> Result<f32, TurnError>;
}

/// Settings of the end-of-turn model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TurnConfig {
    /// ONNX Runtime intra-op threads for smart-turn (1 or 2 is right for a ~10 ms model that
    /// runs beside Whisper and the LLM).
    pub threads: usize,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self { threads: 1 }
    }
}
