//! The OpenAI-compatible backend: `POST {base_url}/chat/completions` with `stream: true`, read
//! as server-sent events. Works with llama.cpp's `llama-server`, vLLM, Ollama and OpenAI itself.
//!
//! Each reply runs its request on a reader thread that passes pieces through a bounded channel.
//! Timeouts (connect, and silence between reads) and HTTP errors become [`LlmError`]s.
//! Cancelling shuts the connection at once (`ureq::Agent::shutdown` interrupts the blocked read),
//! which is how servers notice that the client left and stop generating; the next reply opens a
//! fresh connection pool.

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use serde_json::json;

use duplex_core::cancel::{CancelHook, CancelToken};
use duplex_llm_protocol::{FinishReason, Sampling, WireMessage as ChatMessage};

use super::backend::{EventSource, Finish, LlmBackend, LlmEvent, TokenStream};
use super::config::OpenAiConfig;
use super::error::LlmError;
use super::sse::{Chunk, SseParser, parse_chunk};

/// Pieces read from the server but not yet taken by the consumer. When full, the reader thread
/// blocks and stops reading the socket (TCP back-pressure); nothing is dropped.
const CHUNK_CHANNEL_CAPACITY: usize = 256;
/// Bytes of an HTTP error body quoted in the error.
const ERROR_BODY_LIMIT: u64 = 4096;
/// Extra wait, beyond the HTTP timeouts, before the consumer gives up on a stuck reader thread.
const READER_GRACE: Duration = Duration::from_secs(5);

/// What the reader thread passes on.
enum Piece {
    Text(String),
    End(FinishReason),
    Failed(LlmError),
}

/// A client of an OpenAI-compatible chat completions endpoint.
pub struct OpenAiBackend {
    config: OpenAiConfig,
    agent: ureq::Agent,
    /// Set when a cancel shut the agent down: the next request needs a new one.
    agent_shut: Arc<AtomicBool>,
}

impl OpenAiBackend {
    /// A client for `config` (nothing is connected until the first reply).
    pub fn new(config: OpenAiConfig) -> Self {
        let agent = make_agent(&config);
        Self {
            config,
            agent,
            agent_shut: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The request body for one reply.
    fn body(&self, messages: &[ChatMessage], sampling: &Sampling) -> String {
        let mut body = json!({
            "model": self.config.model,
            "messages": messages,
            "stream": true,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        });
        if sampling.temperature > 0.0 {
            body["seed"] = json!(sampling.seed);
        }
        // The standard penalties, and llama.cpp server's own fields for the rest (other servers
        // ignore fields they do not know).
        if sampling.frequency_penalty != 0.0 {
            body["frequency_penalty"] = json!(sampling.frequency_penalty);
        }
        if sampling.presence_penalty != 0.0 {
            body["presence_penalty"] = json!(sampling.presence_penalty);
        }
        if (sampling.repeat_penalty - 1.0).abs() > f32::EPSILON {
            body["repeat_penalty"] = json!(sampling.repeat_penalty);
            body["repeat_last_n"] = json!(sampling.repeat_last_n);
        }
        if sampling.dry_multiplier > 0.0 {
            body["dry_multiplier"] = json!(sampling.dry_multiplier);
            body["dry_base"] = json!(sampling.dry_base);
            body["dry_allowed_length"] = json!(sampling.dry_allowed_length);
            body["dry_penalty_last_n"] = json!(sampling.dry_penalty_last_n);
        }
        body.to_string()
    }
}

fn make_agent(config: &OpenAiConfig) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_millis(config.connect_timeout_ms)))
        .timeout_per_read(Some(Duration::from_millis(config.read_timeout_ms)))
        .http_status_as_error(false)
        .build()
        .into()
}

impl LlmBackend for OpenAiBackend {
    fn describe(&self) -> String {
        format!(
            "OpenAI-compatible server {} (model {})",
            self.config.base_url, self.config.model
        )
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &CancelToken,
    ) -> Result<TokenStream<'_>, LlmError> {
        if self.agent_shut.swap(false, Ordering::AcqRel) {
            self.agent = make_agent(&self.config);
        }
        let url = self.config.endpoint();
        let body = self.body(messages, sampling);
        let (tx, rx) = sync_channel(CHUNK_CHANNEL_CAPACITY);
        let request = Request {
            agent: self.agent.clone(),
            url: url.clone(),
            api_key: self.config.api_key(),
            body,
            cancel: cancel.clone(),
        };
        std::thread::Builder::new()
            .name("llm-openai".into())
            .spawn(move || request.run(&tx))
            .map_err(|e| LlmError::Request {
                url: url.clone(),
                message: format!("cannot start a reader thread: {e}"),
            })?;
        let agent = self.agent.clone();
        let shut = self.agent_shut.clone();
        let close: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            shut.store(true, Ordering::Release);
            agent.clone().shutdown();
        });
        let on_cancel = close.clone();
        let hook = cancel.on_cancel(move || on_cancel());
        let silence =
            Duration::from_millis(self.config.connect_timeout_ms + self.config.read_timeout_ms);
        Ok(TokenStream::new(OpenAiStream {
            rx,
            url,
            cancel: cancel.clone(),
            _hook: hook,
            close,
            delivered: 0,
            wait: silence + READER_GRACE,
            ended: false,
        }))
    }
}

/// One request, run on the reader thread.
struct Request {
    agent: ureq::Agent,
    url: String,
    api_key: Option<String>,
    body: String,
    cancel: CancelToken,
}

impl Request {
    fn run(self, tx: &SyncSender<Piece>) {
        let end = match self.stream(tx) {
            Ok(reason) => Piece::End(reason),
            Err(_) if self.cancel.is_cancelled() => Piece::End(FinishReason::Cancelled),
            Err(e) => Piece::Failed(e),
        };
        let _ = tx.send(end);
    }

    fn stream(&self, tx: &SyncSender<Piece>) -> Result<FinishReason, LlmError> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "text/event-stream");
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let response = request.send(&self.body).map_err(|e| self.error(e))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        if status >= 400 {
            let text = body
                .with_config()
                .limit(ERROR_BODY_LIMIT)
                .read_to_string()
                .unwrap_or_else(|e| format!("(body unreadable: {e})"));
            return Err(LlmError::Http {
                url: self.url.clone(),
                status,
                body: text.trim().to_owned(),
            });
        }
        let mut parser = SseParser::default();
        let mut finish = None;
        let mut lines = BufReader::new(body.into_reader()).lines();
        loop {
            let data = match lines.next() {
                Some(Ok(line)) => parser.line(&line),
                Some(Err(e)) => return Err(self.io_error(&e)),
                None => match parser.finish() {
                    Some(data) => Some(data),
                    None => break,
                },
            };
            let Some(data) = data else { continue };
            match parse_chunk(&data).map_err(|message| self.stream_error(message))? {
                Chunk::Done => break,
                Chunk::Error(message) => return Err(self.stream_error(message)),
                Chunk::Delta {
                    content,
                    finish_reason,
                } => {
                    if !content.is_empty() && tx.send(Piece::Text(content)).is_err() {
                        // The consumer is gone: close the connection by returning.
                        return Ok(FinishReason::Cancelled);
                    }
                    if let Some(reason) = finish_reason {
                        finish = Some(if reason == "length" {
                            FinishReason::Length
                        } else {
                            FinishReason::Stop
                        });
                    }
                }
            }
        }
        finish.ok_or_else(|| self.stream_error("the stream ended before the reply finished".into()))
    }

    fn error(&self, e: ureq::Error) -> LlmError {
        let url = self.url.clone();
        match e {
            ureq::Error::Timeout(which) => LlmError::Timeout {
                url,
                message: format!("{which} timeout"),
            },
            ureq::Error::Io(io) => self.io_error(&io),
            e @ (ureq::Error::ConnectionFailed | ureq::Error::HostNotFound) => LlmError::Connect {
                url,
                message: e.to_string(),
            },
            e => LlmError::Request {
                url,
                message: e.to_string(),
            },
        }
    }

    fn io_error(&self, e: &std::io::Error) -> LlmError {
        use std::io::ErrorKind::*;
        let url = self.url.clone();
        let message = e.to_string();
        match e.kind() {
            ConnectionRefused | ConnectionReset | NotConnected | AddrNotAvailable => {
                LlmError::Connect { url, message }
            }
            TimedOut | WouldBlock => LlmError::Timeout { url, message },
            _ => LlmError::Request { url, message },
        }
    }

    fn stream_error(&self, message: String) -> LlmError {
        LlmError::Request {
            url: self.url.clone(),
            message,
        }
    }
}

/// The consumer's side of one reply.
struct OpenAiStream {
    rx: Receiver<Piece>,
    url: String,
    cancel: CancelToken,
    _hook: CancelHook,
    /// Shuts the connection (on cancel, on a stuck server, or when dropped unfinished).
    close: Arc<dyn Fn() + Send + Sync>,
    delivered: u32,
    wait: Duration,
    ended: bool,
}

impl EventSource for OpenAiStream {
    fn next_event(&mut self) -> Result<LlmEvent, LlmError> {
        let result = self.next_inner();
        if !matches!(result, Ok(LlmEvent::Token(_))) {
            self.ended = true;
        }
        result
    }
}

impl Drop for OpenAiStream {
    fn drop(&mut self) {
        if !self.ended {
            (self.close)();
        }
    }
}

impl OpenAiStream {
    fn next_inner(&mut self) -> Result<LlmEvent, LlmError> {
        loop {
            let finish = |reason, delivered| {
                Ok(LlmEvent::Done(Finish {
                    reason,
                    delivered_tokens: delivered,
                    worker: None,
                }))
            };
            if self.cancel.is_cancelled() {
                return finish(FinishReason::Cancelled, self.delivered);
            }
            match self.rx.recv_timeout(self.wait) {
                Ok(Piece::Text(text)) => {
                    if !self.cancel.is_cancelled() {
                        self.delivered += 1;
                        return Ok(LlmEvent::Token(text));
                    }
                }
                Ok(Piece::End(reason)) => return finish(reason, self.delivered),
                Ok(Piece::Failed(e)) => return Err(e),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(LlmError::Request {
                        url: self.url.clone(),
                        message: "the reader thread ended without a result".into(),
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    (self.close)();
                    return Err(LlmError::Timeout {
                        url: self.url.clone(),
                        message: format!("no data for {:.0} s", self.wait.as_secs_f64()),
                    });
                }
            }
        }
    }
}
