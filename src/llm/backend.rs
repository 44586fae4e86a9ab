//! The streaming interface every language-model backend implements: [`LlmBackend`] starts a
//! generation and hands back a [`TokenStream`] of [`LlmEvent`]s (text pieces, then one
//! [`LlmEvent::Done`] with its [`Finish`]). A leaf of `crate::llm`: the backends and the turn
//! manager depend on it, it depends on none of them.

use duplex_core::cancel::CancelToken;
use duplex_llm_protocol::{FinishReason, Sampling, WireMessage as ChatMessage, WorkerStats};

use super::error::LlmError;

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
