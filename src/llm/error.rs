//! Errors of the language-model layer. Each names the file, binary, URL or setting to fix, and
//! every failure mode of a backend (missing file, crashed worker, silent server) ends in one of
//! these rather than a hang.

use std::path::PathBuf;

use crate::models::ModelError;

/// What went wrong talking to a language model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The GGUF model file is missing or wrong.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The worker binary was not found.
    #[error(
        "LLM worker binary not found (looked at {}); build it with `cargo build --release --bin \
         duplex-llm` (it ships next to `duplex`), or set llm.embedded.worker",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    WorkerMissing {
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },
    /// The worker could not be started.
    #[error("cannot start the LLM worker {path}: {source}")]
    WorkerSpawn {
        /// The worker binary.
        path: PathBuf,
        /// Why the OS refused.
        source: std::io::Error,
    },
    /// The worker process ended (crashed, killed, or failed to load the model).
    #[error("the LLM worker {path} exited ({status}); its last words: {stderr}")]
    WorkerExited {
        /// The worker binary.
        path: PathBuf,
        /// Its exit status, as far as known.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The worker stopped answering; it was killed.
    #[error(
        "the LLM worker {path} did not answer within {seconds} s and was stopped \
         (llm.embedded.response_timeout_ms)"
    )]
    WorkerTimeout {
        /// The worker binary.
        path: PathBuf,
        /// How long it was given.
        seconds: f64,
    },
    /// The worker kept dying: restarting it did not help.
    #[error(
        "the language model failed again after {restarts} restarts within {minutes:.0} min; \
         last failure: {cause}. Check the model file and free memory, then start a new conversation"
    )]
    GaveUp {
        /// Restarts within the window.
        restarts: usize,
        /// The window, in minutes.
        minutes: f64,
        /// The last failure.
        cause: String,
    },
    /// The worker reported a failed request.
    #[error("LLM worker: {0}")]
    Worker(String),
    /// The worker wrote something that is not the protocol.
    #[error("LLM worker protocol error: {0}")]
    Protocol(String),
    /// No connection to the OpenAI-compatible server.
    #[error(
        "cannot connect to the LLM server at {url}: {message} (is it running? see llm.openai.base_url)"
    )]
    Connect {
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server took too long.
    #[error(
        "the LLM server at {url} timed out ({message}); see llm.openai.connect_timeout_ms and \
         read_timeout_ms"
    )]
    Timeout {
        /// The URL requested.
        url: String,
        /// Which wait ran out.
        message: String,
    },
    /// The server answered with an HTTP error.
    #[error("the LLM server at {url} answered HTTP {status}: {body}")]
    Http {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Any other failure of the request or of the event stream.
    #[error("LLM request to {url} failed: {message}")]
    Request {
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
    },
}

impl LlmError {
    /// Whether the backend is gone (a missing, dead or hung worker, an unusable model), rather
    /// than this one request having failed (a server error, a timeout, a refused request).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Model(_)
                | Self::WorkerMissing { .. }
                | Self::WorkerSpawn { .. }
                | Self::WorkerExited { .. }
                | Self::WorkerTimeout { .. }
                | Self::GaveUp { .. }
                | Self::Protocol(_)
        )
    }
}
