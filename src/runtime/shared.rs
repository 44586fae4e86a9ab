//! One set of engines for every session of a server: Whisper states, smart-turn and Piper voices
//! in process-wide [`EnginePool`]s sized to the cores, and per-session engines that lease from
//! them job by job. A session keeps only what carries its own state: the voice-activity model
//! (its recurrent state) and its LLM (its history and KV cache).

use std::sync::Arc;

use duplex_core::cancel::CancelToken;

use super::engines::{EngineError, Engines, Speak, Transcribe};
use super::local::load_session_state;
use super::pool::{EnginePool, Urgency};
use crate::asr::WhisperModel;
use crate::config::Config;
use crate::tts::PiperVoice;
use crate::turn::{SmartTurn, TurnError, TurnScorer};

/// The process's shared transcription, turn-end and voice engines.
pub struct SharedEngines {
    asr: Arc<EnginePool<dyn Transcribe>>,
    turn: Arc<EnginePool<dyn TurnScorer + Send>>,
    tts: Arc<EnginePool<dyn Speak>>,
    /// The voices' sample rate (one voice, loaded `size` times).
    tts_rate: u32,
}

impl SharedEngines {
    /// Loads `size` engines of each kind (at least one).
    pub fn load(config: &Config, whisper: &WhisperModel, size: usize) -> Result<Self, EngineError> {
        let size = size.max(1);
        let mut asr: Vec<Box<dyn Transcribe>> = Vec::with_capacity(size);
        let mut turn: Vec<Box<dyn TurnScorer + Send>> = Vec::with_capacity(size);
        let mut tts: Vec<Box<dyn Speak>> = Vec::with_capacity(size);
        for _ in 0..size {
            asr.push(Box::new(
                whisper
                    .session()
                    .map_err(|e| EngineError::fatal("asr", e))?,
            ));
            turn.push(Box::new(
                SmartTurn::load_shared(&config.models, &config.turn)
                    .map_err(|e| EngineError::fatal("turn", e))?,
            ));
            tts.push(Box::new(
                PiperVoice::load_shared(&config.models, &config.tts)
                    .map_err(|e| EngineError::fatal("tts", e))?,
            ));
        }
        let tts_rate = tts[0].rate();
        Ok(Self {
            asr: EnginePool::new(asr),
            turn: EnginePool::new(turn),
            tts: EnginePool::new(tts),
            tts_rate,
        })
    }

    /// Engines of each kind.
    pub fn size(&self) -> usize {
        self.tts.size()
    }

    /// A session's engines: its own voice activity model and LLM, the rest leased from the
    /// pools for each job.
    pub fn session_engines(&self, config: &Config) -> Result<Engines, EngineError> {
        let (vad, llm) = load_session_state(config)?;
        Ok(Engines {
            vad: Box::new(vad),
            asr: Box::new(PooledAsr(self.asr.clone())),
            turn: Box::new(PooledTurn(self.turn.clone())),
            llm: Box::new(llm),
            tts: Box::new(PooledVoice {
                pool: self.tts.clone(),
                rate: self.tts_rate,
                pace: 1.0,
                urgency: Urgency::Now,
            }),
        })
    }
}

/// Transcription from the shared pool: always wanted now (a pause waits for it).
struct PooledAsr(Arc<EnginePool<dyn Transcribe>>);

impl Transcribe for PooledAsr {
    fn transcribe(&mut self, audio: &[f32], cancel: &CancelToken) -> Result<String, EngineError> {
        match self.0.acquire(Urgency::Now, cancel) {
            Some(mut asr) => asr.transcribe(audio, cancel),
            None => Ok(String::new()),
        }
    }
}

/// Turn-end scores from the shared pool: always wanted now.
struct PooledTurn(Arc<EnginePool<dyn TurnScorer + Send>>);

impl TurnScorer for PooledTurn {
    fn score(&mut self, audio: &[f32]) -> Result<f32, TurnError> {
        let never = CancelToken::new();
        let mut turn = self
            .0
            .acquire(Urgency::Now, &never)
            .expect("an uncancelled wait ends with an engine");
        turn.score(audio)
    }
}

/// The voice from the shared pool, at this session's pace and the urgency of the job at hand.
struct PooledVoice {
    pool: Arc<EnginePool<dyn Speak>>,
    rate: u32,
    pace: f32,
    urgency: Urgency,
}

impl Speak for PooledVoice {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn set_pace(&mut self, length_factor: f32) {
        self.pace = length_factor;
    }

    fn set_urgency(&mut self, urgency: Urgency) {
        self.urgency = urgency;
    }

    fn speak(&mut self, text: &str, cancel: &CancelToken) -> Result<Vec<f32>, EngineError> {
        let Some(mut voice) = self.pool.acquire(self.urgency, cancel) else {
            return Ok(Vec::new());
        };
        voice.set_pace(self.pace);
        voice.speak(text, cancel)
    }
}
