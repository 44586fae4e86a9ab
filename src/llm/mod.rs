//! The language model: a small streaming trait, two backends, conversation memory and the turn
//! manager that ties them together.
//!
//! - [`LlmBackend`]: `generate(messages, sampling, cancel)` returns a [`TokenStream`] of
//!   [`LlmEvent`]s (text pieces, then one `Done`). Plain threads and bounded channels; a blocking
//!   consumer (the runtime runs it on a blocking worker) reads it as an iterator.
//! - [`embedded::EmbeddedBackend`]: llama.cpp with SmolLM2 in the `duplex-llm` worker process
//!   (one ggml per binary, see `src/llm_worker/mod.rs`), KV cache kept warm across turns.
//! - [`openai::OpenAiBackend`]: `/v1/chat/completions` with server-sent events (llama-server,
//!   vLLM, Ollama).
//! - [`memory::Conversation`]: history with a token budget; interrupted replies cut to what
//!   was heard, and marked.
//! - [`turns::TurnManager`]: one call per user turn; records the reply in the memory.

pub mod brains;
pub mod clarify;
pub mod config;
pub mod embedded;
pub mod error;
pub mod memory;
pub mod openai;
pub mod revive;
pub mod sse;
pub mod turns;
mod worker;

pub use config::{BackendKind, LlmConfig};
pub use duplex_core::cancel::{self, CancelToken};
pub use duplex_llm_protocol as protocol;
pub use error::LlmError;
pub use memory::Conversation;
pub use protocol::{FinishReason, Sampling, WireMessage as ChatMessage, WorkerStats};
pub use turns::{Reply, TurnManager};
pub use worker::installed_worker;

/// How a generation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// Why it ended.
    pub reason: FinishReason,
    /// Text pieces delivered to the consumer.
    pub delivered_tokens: u32,
    /// The worker's own counters (embedded backend only): with them a test sees how many tokens
    /// the model sampled in all, including any it sampled after a cancel.
    pub worker: Option<WorkerStats>,
}

/// One item of a [`TokenStream`].
#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// A piece of the reply (one or a few tokens; whole UTF-8 characters).
    Token(String),
    /// The end; nothing follows.
    Done(Finish),
}

/// Where a [`TokenStream`] gets its events; implemented by each backend.
pub trait EventSource: Send {
    /// Blocks for the next event. After `Done` or an error it is not called again.
    fn next_event(&mut self) -> Result<LlmEvent, LlmError>;
}

/// The streamed reply of one generation. Ends after [`LlmEvent::Done`] or the first error.
/// Dropping it early cancels the generation.
pub struct TokenStream<'a> {
    source: Box<dyn EventSource + 'a>,
    ended: bool,
}

impl<'a> TokenStream<'a> {
    /// Wraps a backend's event source.
    pub fn new(source: impl EventSource + 'a) -> Self {
        Self {
            source: Box::new(source),
            ended: false,
        }
    }

    /// Reads the stream to its end, calling `on_token` for each piece; returns the whole text
    /// and how it ended.
    pub fn collect_text(
        self,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<(String, Finish), LlmError> {
        let mut text = String::new();
        for event in self {
            match event? {
                LlmEvent::Token(piece) => {
                    on_token(&piece);
                    text.push_str(&piece);
                }
                LlmEvent::Done(finish) => return Ok((text, finish)),
            }
        }
        Err(LlmError::Protocol(
            "the stream ended without a done event".into(),
        ))
    }
}

impl Iterator for TokenStream<'_> {
    type Item = Result<LlmEvent, LlmError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let event = self.source.next_event();
        if !matches!(event, Ok(LlmEvent::Token(_))) {
            self.ended = true;
        }
        Some(event)
    }
}

/// A language model that streams replies.
pub trait LlmBackend: Send {
    /// A one-line description (backend, model, where it runs).
    fn describe(&self) -> String;

    /// Starts a reply to `messages` (system prompt first, the user's turn last). `cancel` stops
    /// it: no further token is delivered, and the model stops within one token.
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &CancelToken,
    ) -> Result<TokenStream<'_>, LlmError>;

    /// Computes what can be computed ahead of the next [`generate`](Self::generate) for this
    /// conversation (the system prompt at start-up, a partial user turn while they speak).
    /// Backends that cannot do this return at once.
    fn prefill(&mut self, messages: &[ChatMessage]) -> Result<(), LlmError> {
        let _ = messages;
        Ok(())
    }

    /// The process that runs the model, where it runs in one of ours (the embedded worker).
    fn process_id(&self) -> Option<u32> {
        None
    }

    /// Whether the backend can still serve (an embedded worker whose process has died cannot).
    fn is_alive(&mut self) -> bool {
        true
    }

    /// What happened to the backend since the last call that the user should be told (a
    /// restarted worker), oldest first.
    fn take_notices(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Builds the backend chosen by the `[llm]` section; `model` is the resolved GGUF path for the
/// embedded backend.
pub fn build_backend(
    config: &LlmConfig,
    model: &std::path::Path,
) -> Result<Box<dyn LlmBackend>, LlmError> {
    Ok(match config.backend {
        BackendKind::Embedded => {
            let (embedded, model) = (config.embedded.clone(), model.to_owned());
            Box::new(revive::RevivingBackend::start(
                revive::RevivePolicy::default(),
                Box::new(move || {
                    let backend = embedded::EmbeddedBackend::spawn(&embedded, &model)?;
                    Ok(Box::new(backend) as Box<dyn LlmBackend>)
                }),
            )?)
        }
        BackendKind::Openai => Box::new(openai::OpenAiBackend::new(config.openai.clone())),
    })
}
