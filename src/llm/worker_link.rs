//! How an [`super::embedded::EmbeddedBackend`] reaches its `duplex-llm` worker: a process of its
//! own, started with [`worker_args`] and ready once [`await_loaded`] returns, or one sequence of
//! the server's shared worker ([`super::shared`]). [`Link`] gives both the same face.

use std::path::Path;
use std::time::Duration;

use super::embedded::WorkerInfo;
use super::error::LlmError;
use super::protocol::{Event, Request};
use super::shared::SequenceLink;
use super::worker::{RequestWriter, WorkerProcess};
use crate::llm::config::EmbeddedConfig;
use crate::models::check_present;

/// The worker process a backend talks to: its own, or one sequence of the server's shared one.
pub(super) enum Link {
    /// A worker of its own.
    Own(WorkerProcess),
    /// A sequence of the shared worker.
    Shared(SequenceLink),
}

impl Link {
    pub(super) fn send(&mut self, request: &Request) -> Result<(), LlmError> {
        match self {
            Self::Own(p) => p.send(request),
            Self::Shared(s) => s.send(request),
        }
    }

    pub(super) fn recv(&mut self, timeout: Duration) -> Result<Event, LlmError> {
        match self {
            Self::Own(p) => p.recv(timeout),
            Self::Shared(s) => s.recv(timeout),
        }
    }

    pub(super) fn request_writer(&self) -> RequestWriter {
        match self {
            Self::Own(p) => p.request_writer(),
            Self::Shared(s) => s.request_writer(),
        }
    }

    pub(super) fn is_running(&mut self) -> bool {
        match self {
            Self::Own(p) => p.is_running(),
            Self::Shared(s) => s.is_running(),
        }
    }

    pub(super) fn pid(&self) -> u32 {
        match self {
            Self::Own(p) => p.pid(),
            Self::Shared(s) => s.pid(),
        }
    }

    pub(super) fn path(&self) -> &Path {
        match self {
            Self::Own(p) => p.path(),
            Self::Shared(s) => s.path(),
        }
    }

    /// The worker's sequence this backend's requests use.
    pub(super) fn seq(&self) -> u32 {
        match self {
            Self::Own(_) => 0,
            Self::Shared(s) => s.seq(),
        }
    }
}

/// The worker's command line for `model` (checked to be there).
pub(super) fn worker_args(config: &EmbeddedConfig, model: &Path) -> Result<Vec<String>, LlmError> {
    check_present(model, "LLM (GGUF)")?;
    Ok(vec![
        "--model".to_owned(),
        model.display().to_string(),
        "--n-ctx".to_owned(),
        config.n_ctx.to_string(),
        "--threads".to_owned(),
        config.threads.to_string(),
        "--threads-batch".to_owned(),
        match config.threads_batch {
            // The cores other processes leave free now (all of them on an idle machine).
            0 => crate::cpu::threads_for(u32::MAX).to_string(),
            n => n.to_string(),
        },
        "--flash-attn".to_owned(),
        if config.flash_attention { "on" } else { "off" }.to_owned(),
    ])
}

/// Waits for a started worker's `loaded` event.
pub(super) fn await_loaded(
    process: &mut WorkerProcess,
    timeout: Duration,
) -> Result<WorkerInfo, LlmError> {
    match process.recv(timeout)? {
        Event::Loaded {
            model,
            n_ctx,
            threads,
            threads_batch,
            system_info,
        } => Ok(WorkerInfo {
            model,
            n_ctx,
            threads,
            threads_batch,
            system_info,
        }),
        Event::Error { message, .. } => Err(LlmError::Worker(message)),
        other => Err(LlmError::Protocol(format!(
            "expected a loaded event, got {other:?}"
        ))),
    }
}
