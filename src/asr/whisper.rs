//! whisper-rs wrapper: loads a ggml model once, hands out per-session states, and transcribes
//! speech segments with settings chosen for short utterances (greedy decoding, one segment, and
//! an encoder context sized to the audio).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use super::{AsrConfig, AsrError};
use crate::audio::PIPELINE_RATE;
use crate::config::ModelPaths;
use crate::models::{ModelError, check_present};

/// whisper.cpp refuses input shorter than one second; shorter speech is padded with silence.
const MIN_INPUT_SAMPLES: usize = PIPELINE_RATE as usize + PIPELINE_RATE as usize / 20;

/// Encoder positions per second of audio (the 30 s window has 1500).
const POSITIONS_PER_SECOND: usize = 50;

/// The full encoder context of the Whisper models.
const FULL_AUDIO_CONTEXT: usize = 1500;

/// Text recognised in a stretch of audio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transcript {
    /// The recognised words, trimmed.
    pub text: String,
}

/// A loaded Whisper model, shared between sessions.
#[derive(Clone)]
pub struct WhisperModel {
    context: Arc<WhisperContext>,
    config: AsrConfig,
}

impl WhisperModel {
    /// Loads the ggml model named in `paths`.
    pub fn load(paths: &ModelPaths, config: &AsrConfig) -> Result<Self, AsrError> {
        whisper_rs::install_logging_hooks();
        let path = paths.resolve(&paths.whisper);
        Self::load_file(&path, config)
    }

    /// Loads a ggml model from a file.
    pub fn load_file(path: &Path, config: &AsrConfig) -> Result<Self, AsrError> {
        check_present(path, "Whisper model")?;
        let context = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .map_err(|e| ModelError::Load {
                what: "Whisper model",
                path: path.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            context: Arc::new(context),
            config: config.clone(),
        })
    }

    /// A new decoding state for one session.
    pub fn session(&self) -> Result<WhisperSession, AsrError> {
        let state = self
            .context
            .create_state()
            .map_err(|e| AsrError::Decode(format!("cannot create a Whisper state: {e}")))?;
        Ok(WhisperSession {
            state,
            config: self.config.clone(),
        })
    }
}

/// One session's Whisper decoder state.
pub struct WhisperSession {
    state: WhisperState,
    config: AsrConfig,
}

impl WhisperSession {
    /// Changes the settings used for later transcriptions.
    pub fn set_config(&mut self, config: AsrConfig) {
        self.config = config;
    }

    /// Transcribes 16 kHz mono speech. `cancel`, when set by another thread, aborts the decoder.
    pub fn transcribe(
        &mut self,
        samples: &[f32],
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<Transcript, AsrError> {
        let mut padded;
        let input = if samples.len() < MIN_INPUT_SAMPLES {
            padded = samples.to_vec();
            padded.resize(MIN_INPUT_SAMPLES, 0.0);
            &padded[..]
        } else {
            samples
        };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.config.threads.max(1) as i32);
        params.set_language(Some(&self.config.language));
        params.set_translate(false);
        params.set_no_context(true);
        params.set_no_timestamps(true);
        params.set_single_segment(true);
        params.set_suppress_blank(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_temperature_inc(0.0);
        if self.config.fit_audio_context {
            params.set_audio_ctx(audio_context_for(input.len(), &self.config) as i32);
        }
        if let Some(flag) = cancel.clone() {
            params.set_abort_callback_safe(move || flag.load(Ordering::Relaxed));
        }
        let result = self.state.full(params, input);
        if cancel.is_some_and(|flag| flag.load(Ordering::Relaxed)) {
            return Err(AsrError::Cancelled);
        }
        result.map_err(|e| AsrError::Decode(e.to_string()))?;
        let mut text = String::new();
        for segment in self.state.as_iter() {
            let piece = segment
                .to_str_lossy()
                .map_err(|e| AsrError::Decode(e.to_string()))?;
            text.push_str(&piece);
        }
        Ok(Transcript {
            text: text.trim().to_owned(),
        })
    }
}

/// Encoder positions needed for `samples` of audio plus the configured margin.
pub fn audio_context_for(samples: usize, config: &AsrConfig) -> usize {
    let needed = samples.div_ceil(PIPELINE_RATE as usize / POSITIONS_PER_SECOND);
    (needed + config.audio_context_margin as usize).min(FULL_AUDIO_CONTEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_grows_with_audio_and_caps_at_the_window() {
        let cfg = AsrConfig::default();
        assert_eq!(audio_context_for(16_000, &cfg), 50 + 64);
        assert_eq!(audio_context_for(16_000 * 40, &cfg), FULL_AUDIO_CONTEXT);
    }
}
