//! Listening to a recording: VAD finds the speech segments, Whisper transcribes each one.
//! This is what `duplex transcribe` runs, and what the word-error-rate tests measure.

use std::path::Path;

use serde::Serialize;

use crate::asr::{AsrError, WhisperModel, WhisperSession};
use crate::audio::{AudioError, PIPELINE_RATE, load_pipeline_audio};
use crate::config::Config;
use crate::vad::{SileroVad, SpeechSegment, VadConfig, VadError, detect_segments};

/// Errors while listening to a file.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The audio could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Voice activity detection failed.
    #[error(transparent)]
    Vad(#[from] VadError),
    /// Speech recognition failed.
    #[error(transparent)]
    Asr(#[from] AsrError),
}

/// One utterance and its text.
#[derive(Debug, Clone, Serialize)]
pub struct TranscribedSegment {
    /// Start, in seconds from the start of the file.
    pub start_s: f64,
    /// End, in seconds from the start of the file.
    pub end_s: f64,
    /// What was said.
    pub text: String,
}

/// A whole file's segments.
#[derive(Debug, Clone, Serialize)]
pub struct FileTranscript {
    /// The file.
    pub file: String,
    /// Its duration in seconds.
    pub duration_s: f64,
    /// Speech segments, in order.
    pub segments: Vec<TranscribedSegment>,
}

impl FileTranscript {
    /// All segments' text joined by spaces.
    pub fn text(&self) -> String {
        let parts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        parts.join(" ")
    }
}

/// Speech segments closer than this are transcribed together as one utterance: Whisper is more
/// accurate on whole phrases than on the fragments between short pauses.
pub const UTTERANCE_GAP_S: f64 = 1.5;

/// Longest utterance given to Whisper at once (its window is 30 s).
pub const MAX_UTTERANCE_S: f64 = 28.0;

/// Audio kept around an utterance when it is transcribed: Whisper hears the first and last
/// syllables better with a little of the surrounding room tone.
pub const ASR_CONTEXT_S: f64 = 0.15;

/// Groups speech segments into utterances: neighbours less than [`UTTERANCE_GAP_S`] apart are
/// joined, as long as the result stays under [`MAX_UTTERANCE_S`].
pub fn group_utterances(segments: &[SpeechSegment]) -> Vec<SpeechSegment> {
    let mut out: Vec<SpeechSegment> = Vec::new();
    for s in segments {
        match out.last_mut() {
            Some(last)
                if s.start_s() - last.end_s() < UTTERANCE_GAP_S
                    && s.end_s() - last.start_s() <= MAX_UTTERANCE_S =>
            {
                last.end = s.end;
            }
            _ => out.push(*s),
        }
    }
    out
}

/// VAD and ASR loaded together, ready to transcribe recordings.
pub struct Listener {
    vad: SileroVad,
    vad_config: VadConfig,
    asr: WhisperSession,
}

impl Listener {
    /// Loads the VAD and the Whisper model named in `config`.
    pub fn load(config: &Config) -> Result<Self, ListenError> {
        let vad = SileroVad::load(&config.models)?;
        let model = WhisperModel::load(&config.models, &config.asr)?;
        Ok(Self::new(vad, config.vad.clone(), model.session()?))
    }

    /// Assembles a listener from loaded parts.
    pub fn new(vad: SileroVad, vad_config: VadConfig, asr: WhisperSession) -> Self {
        Self {
            vad,
            vad_config,
            asr,
        }
    }

    /// The speech segments of 16 kHz audio, without transcribing them.
    pub fn segments(&mut self, samples: &[f32]) -> Result<Vec<SpeechSegment>, ListenError> {
        Ok(detect_segments(&mut self.vad, samples, &self.vad_config)?)
    }

    /// Finds every utterance of 16 kHz audio and transcribes it.
    pub fn transcribe_samples(
        &mut self,
        samples: &[f32],
    ) -> Result<Vec<TranscribedSegment>, ListenError> {
        let mut out = Vec::new();
        for segment in group_utterances(&self.segments(samples)?) {
            let context = (ASR_CONTEXT_S * f64::from(PIPELINE_RATE)) as u64;
            let start = segment.start.saturating_sub(context) as usize;
            let end = ((segment.end + context) as usize).min(samples.len());
            let speech = &samples[start..end];
            let transcript = self.asr.transcribe(speech, None)?;
            if !transcript.text.is_empty() {
                out.push(TranscribedSegment {
                    start_s: segment.start_s(),
                    end_s: segment.end_s(),
                    text: transcript.text,
                });
            }
        }
        Ok(out)
    }

    /// Reads a WAV file and transcribes its speech.
    pub fn transcribe_file(&mut self, path: &Path) -> Result<FileTranscript, ListenError> {
        let samples = load_pipeline_audio(path)?;
        Ok(FileTranscript {
            file: path.display().to_string(),
            duration_s: samples.len() as f64 / f64::from(PIPELINE_RATE),
            segments: self.transcribe_samples(&samples)?,
        })
    }
}
