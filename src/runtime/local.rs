//! The real engines of a local session: Silero VAD, Whisper, smart-turn, the configured LLM
//! backend with its memory, and the Piper voice, each adapted to the runtime's traits, with
//! their failures sorted into transient and fatal.

use duplex_core::cancel::CancelToken;

use super::engines::{EngineError, Engines, Respond, Speak, Transcribe};
use crate::asr::{AsrError, WhisperModel, WhisperSession};
use crate::config::Config;
use crate::llm::TurnManager;
use crate::tts::{PiperVoice, TtsError};
use crate::turn::SmartTurn;
use crate::vad::SileroVad;

/// Loads every engine a session needs, as the configuration names them: the LLM first (see
/// [`load_local_llm`]), then the in-process engines around it.
pub fn load_local_engines(config: &Config, whisper: &WhisperModel) -> Result<Engines, EngineError> {
    let llm = load_local_llm(config)?;
    load_local_engines_with(config, whisper, llm)
}

/// Starts the configured LLM backend with the system prompt prefilled. It holds no native
/// state of this process (the model runs in a worker process; this side is Rust waiting on its
/// pipes), so a stopping server may leave a thread inside it while the process exits; its
/// longest part, the worker's prefill, is a wait on that other process.
pub fn load_local_llm(config: &Config) -> Result<TurnManager, EngineError> {
    // The load on the machine sizes the engines' threads: sample it while they load.
    crate::cpu::start();
    let model = config
        .llm_model_path()
        .map_err(|e| EngineError::fatal("llm", e))?;
    TurnManager::from_config(&config.llm, &model).map_err(|e| EngineError::fatal("llm", e))
}

/// Loads the in-process engines (Silero, smart-turn and Piper are ONNX Runtime sessions; the
/// Whisper state is made later on the session's worker) and makes a set with `llm`. This part
/// runs native code of this process: a stopping server waits for it (see `web::spare`).
pub fn load_local_engines_with(
    config: &Config,
    whisper: &WhisperModel,
    llm: TurnManager,
) -> Result<Engines, EngineError> {
    crate::cpu::start();
    let vad = SileroVad::load(&config.models).map_err(|e| EngineError::fatal("vad", e))?;
    // The decoding state is made when the session's transcription worker starts (see
    // `WhisperModel::idle_session`).
    let asr = whisper.idle_session();
    let turn = SmartTurn::load_with(&config.models, &config.turn)
        .map_err(|e| EngineError::fatal("turn", e))?;
    let tts =
        PiperVoice::load(&config.models, &config.tts).map_err(|e| EngineError::fatal("tts", e))?;
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
        match self.transcribe_cancellable(audio, cancel) {
            Ok(t) => Ok(t.text),
            Err(AsrError::Cancelled) => Ok(String::new()),
            Err(e @ AsrError::Model(_)) => Err(EngineError::fatal("asr", e)),
            Err(e) => Err(EngineError::transient("asr", e)),
        }
    }

    fn prepare(&mut self) -> Result<(), EngineError> {
        WhisperSession::prepare(self).map_err(|e| EngineError::transient("asr", e))
    }
}

impl Respond for TurnManager {
    fn respond(
        &mut self,
        user_text: &str,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        match TurnManager::respond(self, user_text, cancel, on_token) {
            Ok(_) => Ok(()),
            // The backend is gone: restart it now with the history (so that the next turn is
            // quick); the engine lives on unless restarting fails for good.
            Err(e) if e.is_fatal() => match self.recover() {
                Ok(()) => Err(EngineError::transient(
                    "llm",
                    format!("the reply broke off ({e})"),
                )),
                Err(gone) => Err(EngineError::fatal("llm", gone)),
            },
            Err(e) => Err(EngineError::transient("llm", e)),
        }
    }

    fn heard(&mut self, text: &str, interrupted: bool, acknowledged: &[String]) {
        if interrupted {
            self.interrupt(text);
        }
        if !acknowledged.is_empty() {
            self.memory_mut().acknowledge_last(acknowledged);
        }
        // The reply is settled: trim the history now, while the user has the floor, rather
        // than on the next reply's path.
        if let Err(e) = self.compact() {
            tracing::warn!("compacting the history failed: {e}");
        }
    }

    fn retract(&mut self) {
        TurnManager::retract(self);
    }

    fn attach_profile(&mut self, profile: crate::profile::Profile) -> Result<(), EngineError> {
        TurnManager::attach_profile(self, profile).map_err(|e| EngineError::fatal("llm", e))
    }

    fn notices(&mut self) -> Vec<EngineError> {
        self.take_notices()
            .into_iter()
            .map(|n| EngineError::recovered("llm", n))
            .collect()
    }
}

impl Speak for PiperVoice {
    fn rate(&self) -> u32 {
        self.sample_rate()
    }

    fn set_pace(&mut self, length_factor: f32) {
        PiperVoice::set_pace(self, length_factor);
    }

    fn speak(&mut self, text: &str, cancel: &CancelToken) -> Result<Vec<f32>, EngineError> {
        let mut samples = Vec::new();
        let rate = self.sample_rate();
        match PiperVoice::speak(self, text, rate, cancel, |piece| {
            samples.extend(piece.samples)
        }) {
            Ok(()) => Ok(samples),
            Err(TtsError::Cancelled) => Ok(Vec::new()),
            Err(e @ TtsError::Model(_)) => Err(EngineError::fatal("tts", e)),
            Err(e) => Err(EngineError::transient("tts", e)),
        }
    }
}
