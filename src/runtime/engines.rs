//! The engines a session needs, behind small traits so that the runtime does not care whether
//! they are the real models or fakes with declared costs.

use crate::llm::CancelToken;
use crate::turn::TurnScorer;
use crate::vad::SpeechProbability;

/// An engine failed; the message says which and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct EngineError {
    /// The stage ("asr", "turn", "llm", "tts").
    pub stage: &'static str,
    /// What went wrong.
    pub message: String,
}

impl EngineError {
    /// An error of `stage` with the text of `e`.
    pub fn new(stage: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            stage,
            message: e.to_string(),
        }
    }
}

/// Speech to text.
pub trait Transcribe: Send {
    /// Transcribes 16 kHz speech; `cancel` set by another thread aborts.
    fn transcribe(&mut self, audio: &[f32], cancel: &CancelToken) -> Result<String, EngineError>;
}

/// The language model with its conversation memory.
pub trait Respond: Send {
    /// Streams a reply to `user_text` through `on_token`; stops early when `cancel` is set.
    fn respond(
        &mut self,
        user_text: &str,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError>;
    /// Records what the user actually heard of the last reply (cut and marked when interrupted).
    fn heard(&mut self, text: &str, interrupted: bool);
    /// Forgets the last exchange: its reply was dropped unheard because the user went on, and
    /// their words will come back whole in the next turn.
    fn retract(&mut self);
}

/// Text to speech.
pub trait Speak: Send {
    /// Synthesizes `text` as 16 kHz speech; stops early when `cancel` is set.
    fn speak(&mut self, text: &str, cancel: &CancelToken) -> Result<Vec<f32>, EngineError>;
}

/// Everything one session runs.
pub struct Engines {
    /// Voice activity.
    pub vad: Box<dyn SpeechProbability + Send>,
    /// Transcription.
    pub asr: Box<dyn Transcribe>,
    /// End of turn.
    pub turn: Box<dyn TurnScorer + Send>,
    /// Replies.
    pub llm: Box<dyn Respond>,
    /// Voice.
    pub tts: Box<dyn Speak>,
}
