//! The `[llm]` section of the configuration: which backend, how to prompt and sample, how much
//! history to keep, and the settings of each backend.
//!
//! ```toml
//! [llm]
//! backend = "openai"            # or "embedded" (the default: the brain in duplex-llm)
//! max_tokens = 96
//! [llm.openai]
//! base_url = "http://127.0.0.1:8080/v1"
//! model = "qwen2.5-7b-instruct"
//! ```

use std::path::PathBuf;
use std::time::Duration;

use duplex_llm_protocol::Sampling;
use serde::{Deserialize, Serialize};

/// The system prompt of the `fast` brain (SmolLM2): replies are heard, not read.
///
/// Chosen on `duplex bench quality` among seven wordings: the earlier default ("You are a
/// helpful voice assistant talking to a user. Keep replies to one or two short sentences...")
/// was recited by the model (3 of 10 leak cases); this one leaks in none, and scores best
/// overall on this model. It does not name the user, whom small models then narrate about.
pub const FAST_BRAIN_PROMPT: &str = "You are a friendly voice assistant. Answer in one or two \
short sentences. React naturally to what you are told, and when asked about it later, answer \
from the conversation.";

/// The system prompt of every other model (the default `balanced` brain, `quality`, a GGUF of
/// one's own): Qwen2.5-Coder otherwise answers a request for a smiley or bold text with an
/// emoji or markdown, and narrates about "the user".
pub const LARGER_BRAIN_PROMPT: &str = "You are a friendly voice assistant. Your words are spoken \
aloud, so answer in one or two short sentences of plain speech, with no emoji or formatting. \
When you are told something, react to it naturally.";

/// Which backend answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// llama.cpp in the `duplex-llm` worker process, with the brain's GGUF.
    #[default]
    Embedded,
    /// An OpenAI-compatible server (`/v1/chat/completions`, streamed).
    Openai,
}

/// The `[llm]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Which backend answers.
    pub backend: BackendKind,
    /// A named embedded model (`fast`, `balanced`, `quality`; see `llm::brains`); unset: the
    /// file `models.llm`, or without one the default brain (`llm::brains::DEFAULT_BRAIN`).
    pub brain: Option<String>,
    /// The system prompt, first in every request; never dropped from the history. Empty: the
    /// brain's own default ([`FAST_BRAIN_PROMPT`] for the `fast` brain, [`LARGER_BRAIN_PROMPT`]
    /// for the others).
    pub system_prompt: String,
    /// Write a note of how the user spoke (said quickly, rising at the end, hesitant: the
    /// confident non-verbal cues, see `src/cues`) beside their words, and explain it in the system
    /// prompt. Off by default: the shipped small brains have not been shown to use it well.
    pub cue_notes: bool,
    /// Estimated tokens of history (system prompt included) kept; older turns are dropped
    /// between turns, their facts kept in a running memory (`crate::llm::memory`). 768 (about
    /// ten exchanges): attention over a longer history made the first token of turn 40 of a
    /// call 1.98x turn 1's with 2048 (`cargo bench --bench llm`).
    pub history_budget_tokens: u32,
    /// Most tokens per reply.
    pub max_tokens: u32,
    /// A reply stops after this many sentences unless the user asked for more (0: no limit).
    pub max_sentences: u32,
    /// Sampling temperature; 0 is greedy. Unset: the brain's own ([`Self::default_temperature`]).
    /// Refused when loaded unless finite and not negative ([`check_temperature`]).
    #[serde(deserialize_with = "temperature_in_range")]
    pub temperature: Option<f32>,
    /// Nucleus sampling threshold.
    pub top_p: f32,
    /// Repetition penalty over the conversation (1.0: none).
    pub repeat_penalty: f32,
    /// Tokens of the conversation the repetition penalties look back over.
    pub repeat_last_n: i32,
    /// Penalty growing with each repeat of a token (0: none).
    pub frequency_penalty: f32,
    /// Penalty for any repeat of a token (0: none).
    pub presence_penalty: f32,
    /// DRY penalty on continuing a sequence already in the conversation (0: off). 0.8 (as
    /// llama.cpp suggests) scored best on `duplex bench quality` with every brain.
    pub dry_multiplier: f32,
    /// How fast the DRY penalty grows with the sequence's length.
    pub dry_base: f32,
    /// Repeats up to this many tokens are free of the DRY penalty.
    pub dry_allowed_length: i32,
    /// Tokens of the conversation DRY looks back over.
    pub dry_penalty_last_n: i32,
    /// Sampler seed.
    pub seed: u32,
    /// Settings of the embedded backend.
    pub embedded: EmbeddedConfig,
    /// Settings of the OpenAI-compatible backend.
    pub openai: OpenAiConfig,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Embedded,
            brain: None,
            system_prompt: String::new(),
            cue_notes: false,
            history_budget_tokens: 768,
            max_tokens: 96,
            max_sentences: 2,
            temperature: None,
            top_p: 0.9,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            dry_multiplier: 0.8,
            dry_base: 1.75,
            dry_allowed_length: 2,
            dry_penalty_last_n: 512,
            seed: 42,
            embedded: EmbeddedConfig::default(),
            openai: OpenAiConfig::default(),
        }
    }
}

impl LlmConfig {
    /// The system prompt in use: the configured one, or the brain's default.
    pub fn system_prompt(&self) -> &str {
        if !self.system_prompt.is_empty() {
            return &self.system_prompt;
        }
        match self.brain.as_deref() {
            Some("fast") => FAST_BRAIN_PROMPT,
            _ => LARGER_BRAIN_PROMPT,
        }
    }

    /// The temperature when none is configured: greedy (0) for every brain but `fast`, which
    /// keeps 0.2. On `duplex bench quality`, greedy took the default `balanced` brain from 65/71
    /// to 68/71 (after an interruption 6/8 to 7/8, length 5/6 to 6/6, no echo), and the `fast`
    /// brain from 56/71 down to 51/71.
    pub fn default_temperature(&self) -> f32 {
        match self.brain.as_deref() {
            Some("fast") => 0.2,
            _ => 0.0,
        }
    }

    /// The sampling settings for a reply.
    pub fn sampling(&self) -> Sampling {
        Sampling {
            max_tokens: self.max_tokens,
            temperature: self
                .temperature
                .unwrap_or_else(|| self.default_temperature()),
            top_p: self.top_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            dry_multiplier: self.dry_multiplier,
            dry_base: self.dry_base,
            dry_allowed_length: self.dry_allowed_length,
            dry_penalty_last_n: self.dry_penalty_last_n,
            seed: self.seed,
        }
    }
}

/// Checks a sampling temperature: finite and not negative (0 is greedy). TOML writes `inf` and
/// `nan`, and neither the worker's protocol (JSON, which has no infinity) nor a sampler can take
/// them; a negative one means nothing.
pub fn check_temperature(value: f32) -> Result<f32, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!(
            "temperature {value} is out of range: it must be a finite number, 0 (greedy) or more"
        ))
    }
}

/// Reads `temperature` through [`check_temperature`], so the file is refused when it is loaded.
fn temperature_in_range<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f32>, D::Error> {
    Option::<f32>::deserialize(deserializer)?
        .map(check_temperature)
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// `[llm.embedded]`: the llama.cpp worker process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// The `duplex-llm` binary; empty: next to the running executable (or `DUPLEX_LLM_WORKER`).
    pub worker: PathBuf,
    /// Context size in tokens.
    pub n_ctx: u32,
    /// CPU threads generating token by token; 0: all cores but one. ggml's threads spin while
    /// they wait for each other and stall when a core is shared with another busy thread (speech
    /// synthesis runs while the reply is generated): measured on 2 cores with one busy neighbour,
    /// 2 threads made 1 to 11 tokens/s, 1 thread 42.
    pub threads: u32,
    /// CPU threads prefilling the prompt; 0: the cores other processes leave free when the
    /// worker starts (all of them on an idle machine). With another process keeping one of 2
    /// cores busy, 2 threads took the first token from 64 to 129 ms; on an idle machine 1 thread
    /// took a 25-token question from about 50 to 140 ms.
    pub threads_batch: u32,
    /// llama.cpp's flash attention. Off: on 2 CPU cores it made the first token of turn 20 of a
    /// conversation 50 % slower.
    pub flash_attention: bool,
    /// How long loading the model may take.
    pub load_timeout_ms: u64,
    /// How long the worker may stay silent during a request before it is stopped.
    pub response_timeout_ms: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            worker: PathBuf::new(),
            n_ctx: 4096,
            threads: 0,
            threads_batch: 0,
            flash_attention: false,
            load_timeout_ms: 60_000,
            response_timeout_ms: 30_000,
        }
    }
}

impl EmbeddedConfig {
    /// [`Self::load_timeout_ms`] as a duration.
    pub fn load_timeout(&self) -> Duration {
        Duration::from_millis(self.load_timeout_ms)
    }

    /// [`Self::response_timeout_ms`] as a duration.
    pub fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms)
    }
}

/// `[llm.openai]`: an OpenAI-compatible server (llama.cpp's llama-server, vLLM, Ollama, ...).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// API key sent as a bearer token; empty: read the variable named by `api_key_env`.
    pub api_key: String,
    /// Environment variable holding the API key when `api_key` is empty.
    pub api_key_env: String,
    /// How long connecting may take.
    pub connect_timeout_ms: u64,
    /// How long the server may stay silent (before the first token, or between two).
    pub read_timeout_ms: u64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080/v1".to_owned(),
            model: "default".to_owned(),
            api_key: String::new(),
            api_key_env: "DUPLEX_LLM_API_KEY".to_owned(),
            connect_timeout_ms: 3_000,
            read_timeout_ms: 30_000,
        }
    }
}

impl OpenAiConfig {
    /// The API key to send, if any.
    pub fn api_key(&self) -> Option<String> {
        if !self.api_key.is_empty() {
            return Some(self.api_key.clone());
        }
        if self.api_key_env.is_empty() {
            return None;
        }
        std::env::var(&self.api_key_env)
            .ok()
            .filter(|k| !k.is_empty())
    }

    /// The chat completions endpoint.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    fn load(toml: &str) -> Result<crate::config::Config, String> {
        crate::config::Config::from_toml_str(toml, std::path::Path::new("test.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_temperature_that_is_not_finite_or_is_negative_is_refused_when_loaded() {
        for bad in ["inf", "-inf", "nan", "-0.5"] {
            let error = load(&format!("[llm]\ntemperature = {bad}\n")).expect_err(bad);
            assert!(error.contains("temperature"), "{bad}: {error}");
            assert!(error.contains("out of range"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_temperature_of_zero_or_more_is_kept_and_unset_is_the_brains_own() {
        for (text, want) in [("0", 0.0), ("0.7", 0.7), ("2", 2.0)] {
            let config = load(&format!("[llm]\ntemperature = {text}\n")).expect(text);
            assert_eq!(config.llm.temperature, Some(want));
        }
        assert_eq!(load("[llm]\n").expect("loads").llm.temperature, None);
    }
}
