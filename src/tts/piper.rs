//! A Piper voice: its `.onnx.json` settings, one ONNX Runtime session reused for every sentence,
//! sentence-by-sentence synthesis handed out as it is produced, and cancellation.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{Array1, Array2};
use ort::session::{RunOptions, Session};
use ort::value::Tensor;
use serde::Deserialize;

use duplex_core::cancel::{CancelHook, CancelToken};

use super::edges::{ends_clause, shorten_unmarked_pauses, trim_silent_edges};
use super::phonemize::{PhonemeIds, Phonemizer, Utterance, find_espeak_data};
use super::{TtsConfig, TtsError};
use crate::models::ModelPaths;
use crate::models::check_present;

/// What the voice model is called in errors.
const VOICE_WHAT: &str = "Piper voice model";

/// Peak level each synthesised piece is scaled to (Piper scales to full scale; a little
/// headroom keeps resampling from clipping).
const PEAK: f32 = 0.95;

#[derive(Deserialize)]
struct RawVoice {
    audio: RawAudio,
    espeak: RawEspeak,
    inference: RawInference,
    #[serde(default)]
    phoneme_type: Option<String>,
    #[serde(default = "one")]
    num_speakers: u32,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

#[derive(Deserialize)]
struct RawInference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// The settings in a voice's `.onnx.json`.
#[derive(Debug, Clone)]
pub struct VoiceFile {
    /// Output sample rate of the model.
    pub sample_rate: u32,
    /// espeak-ng voice for the phonemizer ("en-us").
    pub espeak_voice: String,
    /// Default noise scale.
    pub noise_scale: f32,
    /// Default length scale (larger is slower).
    pub length_scale: f32,
    /// Default noise width.
    pub noise_w: f32,
    /// Speakers in the model; the first is used.
    pub num_speakers: u32,
    /// Phoneme to id map.
    pub ids: PhonemeIds,
}

impl VoiceFile {
    /// The `.onnx.json` that goes with a voice model (`x.onnx` -> `x.onnx.json`).
    pub fn path_for(model: &Path) -> PathBuf {
        let mut name = OsString::from(model.as_os_str());
        name.push(".json");
        PathBuf::from(name)
    }

    /// Reads and checks a voice configuration file.
    pub fn load(path: &Path) -> Result<Self, TtsError> {
        check_present(path, "Piper voice config (.onnx.json)")?;
        let invalid = |detail: String| TtsError::VoiceConfig {
            path: path.to_owned(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let raw: RawVoice = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if let Some(kind) = raw.phoneme_type.as_deref()
            && kind != "espeak"
        {
            return Err(invalid(format!(
                "phoneme_type is {kind:?}; only \"espeak\" voices are supported"
            )));
        }
        if !(8_000..=48_000).contains(&raw.audio.sample_rate) {
            return Err(invalid(format!(
                "sample rate {} Hz is out of range",
                raw.audio.sample_rate
            )));
        }
        let ids = PhonemeIds::new(&raw.phoneme_id_map).map_err(invalid)?;
        Ok(Self {
            sample_rate: raw.audio.sample_rate,
            espeak_voice: raw.espeak.voice,
            noise_scale: raw.inference.noise_scale,
            length_scale: raw.inference.length_scale,
            noise_w: raw.inference.noise_w,
            num_speakers: raw.num_speakers.max(1),
            ids,
        })
    }
}

/// The adapter from the one [`CancelToken`] to ONNX Runtime: one run's options, terminated by a
/// hook on the token, so that cancelling stops the synthesis between sentences and ends the ONNX
/// run in progress.
struct OnnxCancel {
    token: CancelToken,
    run: Arc<RunOptions>,
    _hook: CancelHook,
}

impl OnnxCancel {
    fn new(token: &CancelToken) -> Result<Self, TtsError> {
        let run = Arc::new(RunOptions::new().map_err(|e| TtsError::Inference(e.to_string()))?);
        let terminate = run.clone();
        let hook = token.on_cancel(move || {
            if let Err(e) = terminate.terminate() {
                tracing::warn!(error = %e, "could not terminate the ONNX run; it stops after this sentence");
            }
        });
        Ok(Self {
            token: token.clone(),
            run,
            _hook: hook,
        })
    }

    fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// Synthesised audio for one sentence (or the last part of a text without final punctuation).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechPiece {
    /// The normalised words it says.
    pub text: String,
    /// Mono samples at `sample_rate`, with the sentence pause after a sentence end.
    pub samples: Vec<f32>,
    /// Sample rate of `samples`.
    pub sample_rate: u32,
    /// Whether it ends with a sentence mark.
    pub ends_sentence: bool,
}

/// A loaded Piper voice.
pub struct PiperVoice {
    session: Session,
    voice: VoiceFile,
    phonemizer: Phonemizer,
    scales: [f32; 3],
    sentence_silence: usize,
    clause_silence: usize,
    sid: bool,
    /// The configured length scale and pauses, which [`PiperVoice::set_pace`] scales.
    base: (f32, usize, usize),
}

impl PiperVoice {
    /// Loads the voice named in `paths` with the settings in `config`.
    pub fn load(paths: &ModelPaths, config: &TtsConfig) -> Result<Self, TtsError> {
        if !(config.speed.is_finite() && (0.1..=10.0).contains(&config.speed)) {
            return Err(TtsError::Setting(format!(
                "tts.speed is {}; use a value from 0.1 to 10 (1.0 is the voice's own pace)",
                config.speed
            )));
        }
        let model = paths.resolve(&paths.piper_voice);
        check_present(&model, VOICE_WHAT)?;
        let voice = VoiceFile::load(&VoiceFile::path_for(&model))?;
        let data = find_espeak_data(config.espeak_data.as_deref())?;
        let phonemizer = Phonemizer::new(&data, &voice.espeak_voice)?;
        let session = crate::onnx::load_session(paths, &model, VOICE_WHAT, config.threads)?;
        let sid = session.inputs().iter().any(|i| i.name() == "sid");
        let scales = [
            config.noise_scale.unwrap_or(voice.noise_scale),
            voice.length_scale / config.speed,
            config.noise_w.unwrap_or(voice.noise_w),
        ];
        let samples_for = |ms: u32| (u64::from(voice.sample_rate) * u64::from(ms) / 1000) as usize;
        let sentence_silence = samples_for(config.sentence_silence_ms);
        let clause_silence = samples_for(config.clause_silence_ms);
        Ok(Self {
            session,
            voice,
            phonemizer,
            scales,
            sentence_silence,
            clause_silence,
            sid,
            base: (scales[1], sentence_silence, clause_silence),
        })
    }

    /// Speaks at `length_factor` times the configured length (its words and its pauses),
    /// bounded to 0.8..=1.25 so that following a listener's pace never sounds odd.
    pub fn set_pace(&mut self, length_factor: f32) {
        let factor = if length_factor.is_finite() {
            length_factor.clamp(0.8, 1.25)
        } else {
            1.0
        };
        let (length, sentence, clause) = self.base;
        self.scales[1] = length * factor;
        self.sentence_silence = (sentence as f32 * factor) as usize;
        self.clause_silence = (clause as f32 * factor) as usize;
    }

    /// The model's own sample rate (22 050 Hz for "joe").
    pub fn sample_rate(&self) -> u32 {
        self.voice.sample_rate
    }

    /// The voice's settings.
    pub fn voice(&self) -> &VoiceFile {
        &self.voice
    }

    /// Normalises and phonemizes `text` into utterances (one per sentence); errors if there is
    /// nothing to say.
    pub fn prepare(&self, text: &str) -> Result<Vec<Utterance>, TtsError> {
        let normalized = crate::text::normalize(text);
        let utterances = self.phonemizer.utterances(&normalized, &self.voice.ids)?;
        if utterances.is_empty() {
            return Err(TtsError::EmptyText);
        }
        Ok(utterances)
    }

    /// Runs the model on one utterance's phoneme ids; samples at the model's rate, peak-scaled.
    pub fn infer(&mut self, ids: &[i64], cancel: &CancelToken) -> Result<Vec<f32>, TtsError> {
        self.infer_with(ids, &OnnxCancel::new(cancel)?)
    }

    fn infer_with(&mut self, ids: &[i64], cancel: &OnnxCancel) -> Result<Vec<f32>, TtsError> {
        if cancel.is_cancelled() {
            return Err(TtsError::Cancelled);
        }
        let fail = |e: ort::Error| {
            if cancel.is_cancelled() {
                TtsError::Cancelled
            } else {
                TtsError::Inference(e.to_string())
            }
        };
        let input = Array2::from_shape_vec((1, ids.len()), ids.to_vec())
            .map_err(|e| TtsError::Inference(e.to_string()))?;
        let mut inputs = ort::inputs![
            "input" => Tensor::from_array(input).map_err(fail)?,
            "input_lengths" => Tensor::from_array(Array1::from_vec(vec![ids.len() as i64])).map_err(fail)?,
            "scales" => Tensor::from_array(Array1::from_vec(self.scales.to_vec())).map_err(fail)?,
        ];
        if self.sid {
            let sid = Tensor::from_array(Array1::from_vec(vec![0i64])).map_err(fail)?;
            inputs.push(("sid".into(), sid.into()));
        }
        let outputs = self
            .session
            .run_with_options(inputs, &*cancel.run)
            .map_err(fail)?;
        let audio = outputs["output"].try_extract_array::<f32>().map_err(fail)?;
        let mut samples: Vec<f32> = audio.iter().copied().collect();
        drop(outputs);
        if cancel.is_cancelled() {
            return Err(TtsError::Cancelled);
        }
        let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        let gain = PEAK / peak.max(0.01);
        samples
            .iter_mut()
            .for_each(|s| *s = (*s * gain).clamp(-1.0, 1.0));
        Ok(samples)
    }

    /// Speaks `text` sentence by sentence at `rate` Hz: `on_piece` gets each sentence's audio as
    /// soon as it exists. Returns `Cancelled` if `cancel` fires first.
    pub fn speak(
        &mut self,
        text: &str,
        rate: u32,
        cancel: &CancelToken,
        mut on_piece: impl FnMut(SpeechPiece),
    ) -> Result<(), TtsError> {
        let utterances = self.prepare(text)?;
        let cancel = OnnxCancel::new(cancel)?;
        for u in utterances {
            let mut samples = self.infer_with(&u.ids, &cancel)?;
            trim_silent_edges(&mut samples, self.sample_rate());
            shorten_unmarked_pauses(&mut samples, self.sample_rate(), &u.text);
            let pause = if u.ends_sentence {
                self.sentence_silence
            } else if ends_clause(&u.text) {
                self.clause_silence
            } else {
                0
            };
            samples.resize(samples.len() + pause, 0.0);
            let samples = crate::audio::resample::resample(&samples, self.sample_rate(), rate)?;
            if cancel.is_cancelled() {
                return Err(TtsError::Cancelled);
            }
            on_piece(SpeechPiece {
                text: u.text,
                samples,
                sample_rate: rate,
                ends_sentence: u.ends_sentence,
            });
        }
        Ok(())
    }

    /// Speaks all of `text` at `rate` Hz and returns the samples.
    pub fn synthesize(&mut self, text: &str, rate: u32) -> Result<Vec<f32>, TtsError> {
        let cancel = CancelToken::new();
        let mut all = Vec::new();
        self.speak(text, rate, &cancel, |piece| all.extend(piece.samples))?;
        Ok(all)
    }
}
