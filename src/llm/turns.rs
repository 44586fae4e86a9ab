//! The turn manager: one call per user turn, streaming the reply and keeping the memory right.
//!
//! [`TurnManager::respond`] adds the user's turn, trims the history to its budget, streams the
//! reply through a callback and records it: whole when it finished, as far as it got and marked
//! interrupted when it was cancelled. When the playout side knows which words were actually heard
//! it calls [`TurnManager::interrupt`] to cut the reply to them. Replies are stored verbatim (not
//! trimmed) so that the next prompt matches what the embedded worker has cached.

use std::time::{Duration, Instant};

use super::cancel::CancelToken;
use super::error::LlmError;
use super::memory::Conversation;
use super::protocol::{FinishReason, Sampling};
use super::{Finish, LlmBackend, LlmConfig, LlmEvent, build_backend};

/// A finished (or cancelled) reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The text delivered (for a cancelled reply: up to the cancel).
    pub text: String,
    /// How it ended.
    pub finish: Finish,
    /// From the call to the first piece of text (none if there was none).
    pub first_token: Option<Duration>,
    /// From the call to the end.
    pub elapsed: Duration,
}

impl Reply {
    /// Whether the reply was cancelled.
    pub fn cancelled(&self) -> bool {
        self.finish.reason == FinishReason::Cancelled
    }
}

/// A backend, a conversation and the sampling settings.
pub struct TurnManager {
    backend: Box<dyn LlmBackend>,
    memory: Conversation,
    sampling: Sampling,
}

impl TurnManager {
    /// Ties a backend to a conversation.
    pub fn new(backend: Box<dyn LlmBackend>, memory: Conversation, sampling: Sampling) -> Self {
        Self {
            backend,
            memory,
            sampling,
        }
    }

    /// The backend, memory and sampling chosen by the `[llm]` section (`model`: the resolved
    /// GGUF of the embedded backend), with the system prompt prefilled.
    pub fn from_config(config: &LlmConfig, model: &std::path::Path) -> Result<Self, LlmError> {
        let backend = build_backend(config, model)?;
        let memory = Conversation::new(
            config.system_prompt.clone(),
            config.history_budget_tokens as usize,
        );
        let mut manager = Self::new(backend, memory, config.sampling());
        manager.warm_up()?;
        Ok(manager)
    }

    /// Prefills the conversation so far (at start-up: the system prompt), so that the first
    /// reply computes only the user's turn.
    pub fn warm_up(&mut self) -> Result<(), LlmError> {
        self.backend.prefill(&self.memory.messages())
    }

    /// Answers `user_text`, calling `on_token` with each piece as it arrives.
    pub fn respond(
        &mut self,
        user_text: &str,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Reply, LlmError> {
        let start = Instant::now();
        self.memory.push_user(user_text);
        let dropped = self.memory.trim();
        if dropped > 0 {
            tracing::debug!(dropped, "history over budget: oldest turns dropped");
        }
        let messages = self.memory.messages();
        let mut text = String::new();
        let mut first_token = None;
        let result = (|| {
            let stream = self.backend.generate(&messages, &self.sampling, cancel)?;
            for event in stream {
                match event? {
                    LlmEvent::Token(piece) => {
                        first_token.get_or_insert_with(|| start.elapsed());
                        on_token(&piece);
                        text.push_str(&piece);
                    }
                    LlmEvent::Done(finish) => return Ok(finish),
                }
            }
            Err(LlmError::Protocol(
                "the stream ended without a done event".into(),
            ))
        })();
        let finish = match result {
            Ok(finish) => finish,
            Err(e) => {
                // Keep the history consistent: no question without an answer.
                self.memory.pop_user();
                return Err(e);
            }
        };
        let cancelled = finish.reason == FinishReason::Cancelled;
        self.memory.push_assistant(text.clone(), cancelled);
        Ok(Reply {
            text,
            finish,
            first_token,
            elapsed: start.elapsed(),
        })
    }

    /// Forgets the whole conversation (a new one starts; the system prompt stays).
    pub fn forget_all(&mut self) {
        self.memory.clear();
    }

    /// Forgets the last exchange: its reply was dropped before the user heard any of it. False
    /// if the history does not end with an exchange.
    pub fn retract(&mut self) -> bool {
        self.memory.retract_last_exchange()
    }

    /// Cuts the last reply to the words the user heard and marks it interrupted. False if the
    /// last turn is not a reply.
    pub fn interrupt(&mut self, heard: &str) -> bool {
        self.memory.interrupt_last(heard)
    }

    /// The conversation.
    pub fn memory(&self) -> &Conversation {
        &self.memory
    }

    /// The conversation, to edit.
    pub fn memory_mut(&mut self) -> &mut Conversation {
        &mut self.memory
    }

    /// The backend.
    pub fn backend_mut(&mut self) -> &mut dyn LlmBackend {
        self.backend.as_mut()
    }

    /// The sampling settings.
    pub fn sampling_mut(&mut self) -> &mut Sampling {
        &mut self.sampling
    }
}
