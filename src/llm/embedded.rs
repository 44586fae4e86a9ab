//! The embedded backend: llama.cpp (a brain, or any GGUF) in the `duplex-llm` worker process.
//!
//! Start-up spawns the worker, waits for its `loaded` event (bounded by
//! `llm.embedded.load_timeout_ms`), and callers prefill the system prompt. Each reply sends the
//! whole conversation; the worker reuses its KV cache for the part it has already seen, so only
//! the new user turn is computed (see `crates/duplex-llm/src/engine.rs`). A cancel is written to the
//! worker at once by a hook on the turn's [`CancelToken`]; the worker stops before its next token
//! and answers `done` with reason `cancelled`.

use std::path::Path;
use std::time::Duration;

use duplex_core::cancel::{CancelHook, CancelToken};
use duplex_llm_protocol::{Event, Request, Sampling, WireMessage as ChatMessage};

use super::backend::{EventSource, Finish, LlmBackend, LlmEvent, TokenStream};
use super::config::EmbeddedConfig;
use super::error::LlmError;
use super::worker::WorkerProcess;
use crate::models::check_present;

/// What the worker reported when it started.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    /// The GGUF file.
    pub model: String,
    /// Context size in tokens.
    pub n_ctx: u32,
    /// Threads it generates with.
    pub threads: u32,
    /// Threads it prefills with.
    pub threads_batch: u32,
    /// llama.cpp's system info (CPU features of its ggml).
    pub system_info: String,
}

/// llama.cpp in a child process.
pub struct EmbeddedBackend {
    process: WorkerProcess,
    info: WorkerInfo,
    next_id: u64,
    response_timeout: Duration,
}

impl EmbeddedBackend {
    /// Starts the worker on `model` (a ChatML GGUF) and waits until it has loaded it.
    pub fn spawn(config: &EmbeddedConfig, model: &Path) -> Result<Self, LlmError> {
        check_present(model, "LLM (GGUF)")?;
        let args = vec![
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
        ];
        let mut process = WorkerProcess::spawn(&config.worker, &args)?;
        let info = match process.recv(config.load_timeout())? {
            Event::Loaded {
                model,
                n_ctx,
                threads,
                threads_batch,
                system_info,
            } => WorkerInfo {
                model,
                n_ctx,
                threads,
                threads_batch,
                system_info,
            },
            Event::Error { message, .. } => return Err(LlmError::Worker(message)),
            other => {
                return Err(LlmError::Protocol(format!(
                    "expected a loaded event, got {other:?}"
                )));
            }
        };
        tracing::info!(model = %info.model, n_ctx = info.n_ctx, threads = info.threads,
            system_info = %info.system_info, "LLM worker ready");
        Ok(Self {
            process,
            info,
            next_id: 0,
            response_timeout: config.response_timeout(),
        })
    }

    /// What the worker reported at start-up.
    pub fn info(&self) -> &WorkerInfo {
        &self.info
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Empties the worker's KV cache (the next request computes its whole prompt).
    pub fn reset(&mut self) -> Result<(), LlmError> {
        let id = self.new_id();
        self.process.send(&Request::Reset { id })?;
        self.wait_ready(id).map(|_| ())
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Waits for `ready` of request `id`, skipping what is left of earlier requests.
    fn wait_ready(&mut self, id: u64) -> Result<(u32, u32), LlmError> {
        loop {
            match self.process.recv(self.response_timeout)? {
                Event::Ready {
                    id: i,
                    n_past,
                    prefilled,
                    ..
                } if i == id => return Ok((n_past, prefilled)),
                Event::Error { id: i, message } if i.is_none_or(|i| i == id) => {
                    return Err(LlmError::Worker(message));
                }
                _ => {}
            }
        }
    }
}

impl LlmBackend for EmbeddedBackend {
    fn describe(&self) -> String {
        format!(
            "embedded llama.cpp ({}, threads {}/{}, context {}) in {}",
            self.info.model,
            self.info.threads,
            self.info.threads_batch,
            self.info.n_ctx,
            self.process.path().display()
        )
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &CancelToken,
    ) -> Result<TokenStream<'_>, LlmError> {
        let id = self.new_id();
        self.process.send(&Request::Generate {
            id,
            messages: messages.to_vec(),
            sampling: sampling.clone(),
        })?;
        // Registered after the request, so a token cancelled already sends its cancel second.
        let writer = self.process.request_writer();
        let hook = cancel.on_cancel(move || {
            writer.send(&Request::Cancel { id });
        });
        Ok(TokenStream::new(EmbeddedStream {
            backend: self,
            id,
            cancel: cancel.clone(),
            _hook: hook,
            delivered: 0,
            done: false,
        }))
    }

    fn is_alive(&mut self) -> bool {
        self.process.is_running()
    }

    fn process_id(&self) -> Option<u32> {
        Some(self.process.pid())
    }

    fn prefill(&mut self, messages: &[ChatMessage]) -> Result<(), LlmError> {
        let id = self.new_id();
        self.process.send(&Request::Prefill {
            id,
            messages: messages.to_vec(),
        })?;
        let (n_past, prefilled) = self.wait_ready(id)?;
        tracing::debug!(n_past, prefilled, "LLM prefill");
        Ok(())
    }
}

/// The events of one generation of the worker.
struct EmbeddedStream<'a> {
    backend: &'a mut EmbeddedBackend,
    id: u64,
    cancel: CancelToken,
    _hook: CancelHook,
    delivered: u32,
    done: bool,
}

impl EventSource for EmbeddedStream<'_> {
    fn next_event(&mut self) -> Result<LlmEvent, LlmError> {
        let result = self.next_inner();
        if !matches!(result, Ok(LlmEvent::Token(_))) {
            self.done = true;
        }
        result
    }
}

impl EmbeddedStream<'_> {
    fn next_inner(&mut self) -> Result<LlmEvent, LlmError> {
        loop {
            match self.backend.process.recv(self.backend.response_timeout)? {
                // A token already on its way when the turn was cancelled is not delivered.
                Event::Token { id, text } if id == self.id && !self.cancel.is_cancelled() => {
                    self.delivered += 1;
                    return Ok(LlmEvent::Token(text));
                }
                Event::Done { id, reason, stats } if id == self.id => {
                    return Ok(LlmEvent::Done(Finish {
                        reason,
                        delivered_tokens: self.delivered,
                        worker: Some(stats),
                    }));
                }
                Event::Error { id, message } if id.is_none_or(|i| i == self.id) => {
                    return Err(LlmError::Worker(message));
                }
                // Late events of an earlier, cancelled or abandoned request.
                _ => {}
            }
        }
    }
}

impl Drop for EmbeddedStream<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Abandoned mid-reply: stop the worker; its remaining events carry this id and are
            // skipped by the next request.
            self.backend
                .process
                .request_writer()
                .send(&Request::Cancel { id: self.id });
        }
    }
}
