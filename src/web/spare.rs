//! One conversation's engines loaded before anyone calls, so that a call is answered at once.
//!
//! Building a session's engines (Silero, a Whisper state, smart-turn, Piper, and an LLM worker
//! process with the system prompt prefilled) takes one to two seconds on a small machine; a
//! caller who presses Talk should not wait for it. The server keeps one spare set: loaded at
//! start-up and again after each call ends (not while a call runs, which would slow its
//! replies). A call takes the spare if it is there, waits for it if it is being loaded, and
//! otherwise (a second caller while the first talks) loads its own as before.
//!
//! A stopping server [`close`](SpareEngines::close)s it: no more refills, a ready set is
//! dropped (its LLM worker exits), and a set still loading is waited for only briefly, then
//! dropped by its loader when it is done; the process does not wait for it to exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::asr::WhisperModel;
use crate::config::Config;
use crate::runtime::{Engines, load_local_engines};

/// How long a stopping server waits for a set being loaded. Its ONNX models load first and
/// take well under this; the last step waits on the LLM worker's prefill, which a process may
/// leave (the worker exits when its stdin closes).
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Where the spare set is.
enum Spare {
    Empty,
    Loading,
    Ready(Box<Engines>),
}

/// The server's spare engine set; see the module doc.
pub struct SpareEngines {
    config: Config,
    whisper: Arc<WhisperModel>,
    spare: Mutex<Spare>,
    loaded: Notify,
    /// Whether spares are kept at all (off: every call loads its own).
    enabled: bool,
    /// Set by [`close`](Self::close): the server is stopping.
    closed: AtomicBool,
}

impl SpareEngines {
    /// No spare yet: call [`refill`](Self::refill) to load one. Not `enabled`: refills do
    /// nothing and every call loads its own engines.
    pub fn new(config: Config, whisper: Arc<WhisperModel>, enabled: bool) -> Arc<Self> {
        Arc::new(Self {
            config,
            whisper,
            spare: Mutex::new(Spare::Empty),
            loaded: Notify::new(),
            enabled,
            closed: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Spare> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a spare set is ready now.
    pub fn is_ready(&self) -> bool {
        matches!(*self.lock(), Spare::Ready(_))
    }

    /// Starts loading a spare set on a blocking thread, unless one is there or on its way.
    /// Needs a tokio runtime.
    pub fn refill(self: &Arc<Self>) {
        if !self.enabled || self.closed.load(Ordering::SeqCst) {
            return;
        }
        {
            let mut spare = self.lock();
            if !matches!(*spare, Spare::Empty) {
                return;
            }
            *spare = Spare::Loading;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let loaded = this.load();
            // Loading frees its temporaries (model parsing, warm-up buffers): give them back.
            super::memory::trim();
            *this.lock() = match loaded {
                // The server stopped while this set loaded: nobody will take it (it is dropped
                // as this thread ends).
                _ if this.closed.load(Ordering::SeqCst) => Spare::Empty,
                Ok(engines) => {
                    tracing::info!(
                        "spare engines ready in {:.0} ms",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    Spare::Ready(Box::new(engines))
                }
                Err(e) => {
                    tracing::warn!("cannot load spare engines ({e}); each call loads its own");
                    Spare::Empty
                }
            };
            this.loaded.notify_waiters();
        });
    }

    /// Stops refills and drops the spare set; a set still loading is waited for at most
    /// [`CLOSE_WAIT`] (its loader drops it when done). Returns whether a load was left running.
    pub async fn close(self: &Arc<Self>) -> bool {
        self.closed.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
        loop {
            // Registered before the check, so a load finishing in between still wakes us.
            let loaded = self.loaded.notified();
            if !matches!(*self.lock(), Spare::Loading) {
                break;
            }
            if tokio::time::timeout_at(deadline, loaded).await.is_err() {
                return true;
            }
        }
        let spare = std::mem::replace(&mut *self.lock(), Spare::Empty);
        if let Spare::Ready(engines) = spare {
            // Dropping a set waits for its LLM worker to exit: not on an async thread.
            let _ = tokio::task::spawn_blocking(move || drop(engines)).await;
        }
        false
    }

    /// The spare set (waiting for it if it is being loaded), or, when there is none, a set
    /// loaded now.
    pub async fn take(self: &Arc<Self>) -> Result<Engines, String> {
        loop {
            // Registered before the check, so a load finishing in between still wakes us.
            let loaded = self.loaded.notified();
            {
                let mut spare = self.lock();
                match std::mem::replace(&mut *spare, Spare::Empty) {
                    Spare::Ready(engines) => return Ok(*engines),
                    Spare::Loading => *spare = Spare::Loading,
                    Spare::Empty => break,
                }
            }
            loaded.await;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.load())
            .await
            .map_err(|e| e.to_string())?
    }

    /// Loads a set of engines (blocking: call on a blocking thread).
    fn load(&self) -> Result<Engines, String> {
        load_local_engines(&self.config, &self.whisper).map_err(|e| e.to_string())
    }
}
