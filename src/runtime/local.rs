//! The real engines of a local session: Silero VAD, Whisper, smart-turn, the configured LLM
//! backend with its memory, and the Piper voice, each adapted to the runtime's traits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::engines::{EngineError, Engines, Respond, Speak, Transcribe};
use crate::asr::{AsrError, WhisperModel, WhisperSession};
use crate::audio::PIPELINE_RATE;
use crate::config::Config;
use crate::llm::{CancelToken, TurnManager};
use crate::tts::PiperVoice;
use crate::turn::SmartTurn;
use crate::vad::SileroVad;

/// Loads every engine a session needs, as the configuration names them.
pub fn load_local_engines(config: &Config, whisper: &WhisperModel) -> Result<Engines, EngineError> {
    let vad = SileroVad::load(&config.models).map_err(|e| EngineError::new("vad", e))?;
    let asr = whisper.session().map_err(|e| EngineError::new("asr", e))?;
    let turn = SmartTurn::load_with(&config.models, &config.turn)
        .map_err(|e| EngineError::new("turn", e))?;
    let llm = TurnManager::from_config(config).map_err(|e| EngineError::new("llm", e))?;
    let tts =
        PiperVoice::load(&config.models, &config.tts).map_err(|e| EngineError::new("tts", e))?;
    Ok(Engines {
        vad: Box::new(vad),
        asr: Box::new(asr),
        turn: Box::new(turn),
        llm: Box::new(llm),
        tts: Box::new(tts),
    })
}

impl Transcribe for WhisperSession {
    fn transcribe(&mut self, audio: &[f32], cancel: &CancelToken) -> Result<String, EngineError> {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        let _hook = cancel.on_cancel(move || set.store(true, Ordering::SeqCst));
        match WhisperSession::transcribe(self, audio, Some(flag)) {
            Ok(t) => Ok(t.text),
            Err(AsrError::Cancelled) => Ok(String::new()),
            Err(e) => Err(EngineError::new("asr", e)),
        }
    }
}

impl Respond for TurnManager {
    fn respond(
        &mut self,
        user_text: &str,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        TurnManager::respond(self, user_text, cancel, on_token)
            .map(|_| ())
            .map_err(|e| EngineError::new("llm", e))
    }

    fn heard(&mut self, text: &str, interrupted: bool) {
        if interrupted {
            self.interrupt(text);
        }
    }

    fn retract(&mut self) {
        TurnManager::retract(self);
    }
}

impl Speak for PiperVoice {
    fn speak(&mut self, text: &str, cancel: &CancelToken) -> Result<Vec<f32>, EngineError> {
        let token = self
            .cancel_token()
            .map_err(|e| EngineError::new("tts", e))?;
        let on_cancel = token.clone();
        let _hook = cancel.on_cancel(move || on_cancel.cancel());
        let mut samples = Vec::new();
        match PiperVoice::speak(self, text, PIPELINE_RATE, &token, |piece| {
            samples.extend(piece.samples)
        }) {
            Ok(()) => Ok(samples),
            Err(crate::tts::TtsError::Cancelled) => Ok(Vec::new()),
            Err(e) => Err(EngineError::new("tts", e)),
        }
    }
}
