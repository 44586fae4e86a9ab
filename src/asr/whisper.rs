//! whisper-rs wrapper: loads a ggml model once, hands out per-session states, and transcribes
//! speech segments with settings chosen for short utterances (greedy decoding, one segment, and
//! an encoder context sized to the audio).

use std::ffi::CStr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use whisper_rs::whisper_rs_sys::{whisper_n_vocab, whisper_token_eot, whisper_token_to_str};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
    WhisperSysContext, WhisperSysState, WhisperTokenData,
};

use super::loop_guard::{LoopGuard, repeated_unit};
use super::{AsrConfig, AsrError};
use crate::audio::PIPELINE_RATE;
use crate::models::ModelPaths;
use crate::models::{ModelError, check_present};

/// whisper.cpp refuses input shorter than one second; shorter speech is padded with silence.
const MIN_INPUT_SAMPLES: usize = PIPELINE_RATE as usize + PIPELINE_RATE as usize / 20;

/// Encoder positions per second of audio (the 30 s window has 1500).
const POSITIONS_PER_SECOND: usize = 50;

/// The full encoder context of the Whisper models.
const FULL_AUDIO_CONTEXT: usize = 1500;

/// Token budget per second of audio (fast speech is about 4 words, 5 to 6 tokens, a second).
const MAX_TOKENS_PER_SECOND: f64 = 10.0;

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
        let mut session = self.idle_session();
        session.prepare()?;
        Ok(session)
    }

    /// A session whose decoding state is created later, by [`WhisperSession::prepare`] or its
    /// first transcription. An engine set kept ready for the next caller holds one of these:
    /// whisper.cpp's state allocates its scheduler tables (16 MiB) zeroed, and in a heap that
    /// earlier calls left with freed gaps the allocator clears them page by page, so a ready
    /// state would keep that memory resident while the server idles.
    pub fn idle_session(&self) -> WhisperSession {
        WhisperSession {
            context: self.context.clone(),
            state: None,
            config: self.config.clone(),
        }
    }
}

/// One session's Whisper decoder state.
pub struct WhisperSession {
    context: Arc<WhisperContext>,
    state: Option<WhisperState>,
    config: AsrConfig,
}

impl WhisperSession {
    /// Creates the decoding state if there is none yet.
    pub fn prepare(&mut self) -> Result<(), AsrError> {
        ready_state(&self.context, &mut self.state).map(|_| ())
    }

    /// Changes the settings used for later transcriptions.
    pub fn set_config(&mut self, config: AsrConfig) {
        self.config = config;
    }

    /// Transcribes 16 kHz mono speech. `cancel`, when set by another thread, aborts the decoder.
    ///
    /// With a fitted audio context, the decoder can fall into a loop on some inputs (a known
    /// whisper.cpp behaviour). The loop guard ends a phrase repeated three times as it happens
    /// (see [`super::loop_guard`]); any other loop is bounded by the token budget (tokens per
    /// second of audio), never by wall time, so a busy machine does not make a pass look like
    /// one; a looping result is decoded again with twice the context margin, then with the full
    /// window.
    pub fn transcribe(
        &mut self,
        samples: &[f32],
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<Transcript, AsrError> {
        let guard = AbortGuard { cancel };
        if self.config.fit_audio_context {
            let margin = self.config.audio_context_margin;
            for margin in [margin, margin * 2] {
                let context = audio_context_for(samples.len().max(MIN_INPUT_SAMPLES), margin);
                if context >= FULL_AUDIO_CONTEXT {
                    break;
                }
                let text = self.decode(samples, &guard, Some(context))?;
                if !is_degenerate(&text.text, samples.len()) {
                    return Ok(text);
                }
            }
        }
        self.decode(samples, &guard, None)
    }

    /// [`transcribe`](Self::transcribe) stopped by duplex's one cancellation token: a hook on the
    /// token raises the flag that whisper.cpp's abort callback reads.
    pub fn transcribe_cancellable(
        &mut self,
        samples: &[f32],
        cancel: &duplex_core::cancel::CancelToken,
    ) -> Result<Transcript, AsrError> {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        let _hook = cancel.on_cancel(move || set.store(true, std::sync::atomic::Ordering::SeqCst));
        self.transcribe(samples, Some(flag))
    }

    /// One decoding pass, with the encoder context given (`None`: the full 30 s window).
    fn decode(
        &mut self,
        samples: &[f32],
        abort: &AbortGuard,
        context: Option<usize>,
    ) -> Result<Transcript, AsrError> {
        let guard = PassGuard {
            abort,
            loops: LoopGuard::default(),
        };
        let mut padded;
        let input = if samples.len() < MIN_INPUT_SAMPLES {
            padded = samples.to_vec();
            padded.resize(MIN_INPUT_SAMPLES, 0.0);
            &padded[..]
        } else {
            samples
        };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(crate::cpu::threads_for(self.config.threads) as i32);
        params.set_language(Some(&self.config.language));
        params.set_translate(false);
        params.set_no_context(true);
        // Timestamp tokens on: the decoder ends a segment with one, and with a fitted encoder
        // context it loops less often than without them. Symbols that are not speech (quotes,
        // brackets) are never written: a short noise came out as `" "`.
        params.set_no_timestamps(false);
        params.set_single_segment(true);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_temperature_inc(0.0);
        let seconds = input.len() as f64 / f64::from(PIPELINE_RATE);
        params.set_max_tokens((seconds * MAX_TOKENS_PER_SECOND).ceil() as i32 + 8);
        if let Some(context) = context {
            params.set_audio_ctx(context as i32);
        }
        // whisper-rs 0.16's `set_abort_callback_safe` hands the C side a pointer of another type
        // than its trampoline reads (a boxed trait object read as the closure), so the callback
        // returned garbage and aborted encodes at random. The raw API is used instead.
        // SAFETY: the callbacks only use the `PassGuard` through the pointer, and `guard`
        // outlives the `full` call below, the only user of it.
        unsafe {
            let user_data = &guard as *const PassGuard as *mut std::ffi::c_void;
            params.set_abort_callback(Some(abort_when));
            params.set_abort_callback_user_data(user_data);
            params.set_filter_logits_callback(Some(end_loops));
            params.set_filter_logits_callback_user_data(user_data);
        }
        let state = ready_state(&self.context, &mut self.state)?;
        let result = state.full(params, input);
        if abort.cancelled() {
            return Err(AsrError::Cancelled);
        }
        result.map_err(|e| AsrError::Decode(e.to_string()))?;
        let mut text = String::new();
        for segment in state.as_iter() {
            let piece = segment
                .to_str_lossy()
                .map_err(|e| AsrError::Decode(e.to_string()))?;
            text.push_str(&piece);
        }
        Ok(Transcript {
            text: guard.loops.cut(&text).trim().to_owned(),
        })
    }
}

/// `state`, created from `context` if there is none yet.
fn ready_state<'a>(
    context: &WhisperContext,
    state: &'a mut Option<WhisperState>,
) -> Result<&'a mut WhisperState, AsrError> {
    match state {
        Some(state) => Ok(state),
        empty => {
            let created = context
                .create_state()
                .map_err(|e| AsrError::Decode(format!("cannot create a Whisper state: {e}")))?;
            Ok(empty.insert(created))
        }
    }
}

/// What whisper.cpp's abort callback reads: the caller's cancel flag.
struct AbortGuard {
    cancel: Option<Arc<AtomicBool>>,
}

impl AbortGuard {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }
}

/// What one decoding pass's callbacks read and write.
struct PassGuard<'a> {
    abort: &'a AbortGuard,
    loops: LoopGuard,
}

/// whisper.cpp's abort callback: aborts when cancelled.
unsafe extern "C" fn abort_when(user_data: *mut std::ffi::c_void) -> bool {
    // SAFETY: `user_data` is the `PassGuard` that `decode` keeps alive for the whole call.
    let guard = unsafe { &*(user_data as *const PassGuard) };
    guard.abort.cancelled()
}

/// whisper.cpp's logits filter, called before each token is chosen with the tokens chosen so
/// far: when they end in a loop (see [`super::loop_guard`]), the end of text is the only choice.
unsafe extern "C" fn end_loops(
    ctx: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    tokens: *const WhisperTokenData,
    n_tokens: std::os::raw::c_int,
    logits: *mut f32,
    user_data: *mut std::ffi::c_void,
) {
    let Ok(n_tokens) = usize::try_from(n_tokens) else {
        return;
    };
    if tokens.is_null() || logits.is_null() || n_tokens == 0 {
        return;
    }
    // SAFETY: whisper.cpp passes its context, the `n_tokens` tokens of the sequence, a logits
    // array of the vocabulary's size, and the `PassGuard` that `decode` keeps alive.
    unsafe {
        let guard = &*(user_data as *const PassGuard);
        let eot = whisper_token_eot(ctx);
        let chosen = std::slice::from_raw_parts(tokens, n_tokens);
        // Text tokens come before the end of text in the vocabulary; timestamps after it.
        let text: Vec<i32> = chosen.iter().map(|t| t.id).filter(|&id| id < eot).collect();
        let Some(unit) = repeated_unit(&text) else {
            return;
        };
        let logits = std::slice::from_raw_parts_mut(logits, whisper_n_vocab(ctx).max(0) as usize);
        for (id, logit) in logits.iter_mut().enumerate() {
            if id as i32 != eot {
                *logit = f32::NEG_INFINITY;
            }
        }
        let words: String = text[text.len() - unit..]
            .iter()
            .map(|&id| CStr::from_ptr(whisper_token_to_str(ctx, id)).to_string_lossy())
            .collect();
        *guard.loops.unit.borrow_mut() = Some(words);
    }
}

/// Whether a transcript looks like a decoder loop: more words than anyone says in that time,
/// one short phrase repeated three times or more in a row, or a few characters repeated six
/// times or more ("y-y-y-y-y-y").
fn is_degenerate(text: &str, samples: usize) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let stutter = (1..=4).any(|n| {
        chars
            .windows(6 * n)
            .any(|w| w.chunks(n).all(|unit| unit == &w[..n]) && w.iter().any(|c| c.is_alphabetic()))
    });
    if stutter {
        return true;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let seconds = samples as f64 / f64::from(PIPELINE_RATE);
    if words.len() as f64 > seconds.max(1.0) * 6.0 {
        return true;
    }
    (1..=6).any(|n| {
        words.windows(3 * n).any(|w| {
            let (a, rest) = w.split_at(n);
            let (b, c) = rest.split_at(n);
            a == b && b == c
        })
    })
}

/// Encoder positions needed for `samples` of audio plus `margin`.
pub fn audio_context_for(samples: usize, margin: u32) -> usize {
    let needed = samples.div_ceil(PIPELINE_RATE as usize / POSITIONS_PER_SECOND);
    (needed + margin as usize).min(FULL_AUDIO_CONTEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_are_recognised_and_normal_speech_is_not() {
        assert!(is_degenerate("you. you. you. you.", 32_000));
        assert!(is_degenerate("he was not an old-s-y-y-y-y-y-y-y-y", 48_000));
        assert!(!is_degenerate("Hmm... well, 1000000 people", 48_000));
        assert!(is_degenerate(
            "And so my fellow And so my fellow And so my fellow",
            64_000
        ));
        assert!(!is_degenerate(
            "ask not what your country can do for you, ask what you can do",
            64_000
        ));
    }

    #[test]
    fn context_grows_with_audio_and_caps_at_the_window() {
        assert_eq!(audio_context_for(16_000, 240), 50 + 240);
        assert_eq!(audio_context_for(16_001, 240), 51 + 240);
        assert_eq!(audio_context_for(16_000 * 40, 240), FULL_AUDIO_CONTEXT);
    }
}
