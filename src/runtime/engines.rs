//! The engines a session needs, behind small traits so that the runtime does not care whether
//! they are the real models or fakes with declared costs, and the typed error they report.

use duplex_core::cancel::CancelToken;

use crate::turn::TurnScorer;
use crate::vad::SpeechProbability;

/// Whether an engine failure ends that engine or only the job at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// This job failed (one sentence, one transcript); the engine serves the next one.
    Transient,
    /// The engine is gone (its process died, its model cannot run, or it kept dying after
    /// restarts): every later job would fail too, so the session ends.
    Fatal,
    /// The engine failed and was restarted; the conversation goes on.
    Recovered,
}

/// An engine failed; says which, whether it can go on, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct EngineError {
    /// The stage ("asr", "turn", "llm", "tts").
    pub stage: &'static str,
    /// Whether the engine survives it.
    pub severity: Severity,
    /// What went wrong.
    pub message: String,
}

impl EngineError {
    /// A failure of this one job.
    pub fn transient(stage: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            stage,
            severity: Severity::Transient,
            message: e.to_string(),
        }
    }

    /// A failure that ends the engine.
    pub fn fatal(stage: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            stage,
            severity: Severity::Fatal,
            message: e.to_string(),
        }
    }

    /// An engine that failed and was restarted.
    pub fn recovered(stage: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            stage,
            severity: Severity::Recovered,
            message: message.to_string(),
        }
    }

    /// Whether the engine is gone.
    pub fn is_fatal(&self) -> bool {
        self.severity == Severity::Fatal
    }
}

/// Speech to text.
pub trait Transcribe: Send {
    /// Transcribes 16 kHz speech; `cancel` set by another thread aborts (an empty text).
    fn transcribe(&mut self, audio: &[f32], cancel: &CancelToken) -> Result<String, EngineError>;
    /// Creates the working state that loading left for later; called on the session's worker
    /// thread as it starts, before the first job. A failure here shows again at that job.
    fn prepare(&mut self) -> Result<(), EngineError> {
        Ok(())
    }
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
    /// Records what the user actually heard of the last reply (cut and marked when interrupted)
    /// and what they said over it to let it go on; the reply is settled, so an engine with a
    /// history trims it now, off the next reply's path.
    fn heard(&mut self, text: &str, interrupted: bool, acknowledged: &[String]);
    /// Forgets the last exchange: its reply was dropped unheard because the user went on, and
    /// their words will come back whole in the next turn.
    fn retract(&mut self);
    /// Gives the conversation what earlier calls learnt, and keeps what this one tells, in
    /// `profile` (see `crate::profile`); an engine without memory lets it go.
    fn attach_profile(&mut self, profile: crate::profile::Profile) -> Result<(), EngineError> {
        drop(profile);
        Ok(())
    }
    /// What happened to the engine that the user should be told (it was restarted), oldest
    /// first; each is given once.
    fn notices(&mut self) -> Vec<EngineError> {
        Vec::new()
    }
}

/// Text to speech.
pub trait Speak: Send {
    /// The voice's own sample rate.
    fn rate(&self) -> u32;
    /// Sets the pace of what is synthesized next: a length factor (above 1 slower, below 1
    /// faster; 1.0 is the voice's configured pace). Voices that cannot change pace ignore it.
    fn set_pace(&mut self, length_factor: f32) {
        let _ = length_factor;
    }
    /// Synthesizes `text` at [`rate`](Self::rate); stops early (empty speech) when `cancel` is set.
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
