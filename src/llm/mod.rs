//! The language model: a small streaming trait, two backends, conversation memory and the turn
//! manager that ties them together.
//!
//! - [`backend`]: the [`LlmBackend`] trait; `generate(messages, sampling, cancel)` returns a
//!   [`TokenStream`] of [`LlmEvent`]s (text pieces, then one `Done`). Plain threads and bounded
//!   channels; a blocking consumer (the runtime runs it on a blocking worker) reads it as an
//!   iterator.
//! - [`embedded::EmbeddedBackend`]: llama.cpp with SmolLM2 in the `duplex-llm` worker process
//!   (one ggml per binary, see `crates/duplex-llm/src/main.rs`), KV cache kept warm across turns.
//! - [`openai::OpenAiBackend`]: `/v1/chat/completions` with server-sent events (llama-server,
//!   vLLM, Ollama).
//! - [`memory::Conversation`]: history with a token budget; interrupted replies cut to what
//!   was heard, and marked.
//! - [`turns::TurnManager`]: one call per user turn; records the reply in the memory.
//! - [`start::build_backend`]: the backend the `[llm]` section chooses.
//!
//! This file only declares the modules and re-exports their main types for callers outside
//! `crate::llm`; the modules import each other directly (never through here), so no two of them
//! depend on each other.

pub mod backend;
pub mod brains;
pub mod clarify;
pub mod config;
pub mod embedded;
pub mod error;
pub mod memory;
pub mod openai;
pub mod revive;
pub mod sse;
pub mod start;
pub mod turns;
mod worker;

pub use backend::{EventSource, Finish, LlmBackend, LlmEvent, TokenStream};
pub use config::{BackendKind, LlmConfig};
pub use duplex_core::cancel::{self, CancelToken};
pub use duplex_llm_protocol as protocol;
pub use error::LlmError;
pub use memory::Conversation;
pub use protocol::{FinishReason, Sampling, WireMessage as ChatMessage, WorkerStats};
pub use start::build_backend;
pub use turns::{Reply, TurnManager};
pub use worker::installed_worker;
