//! One conversation's engines loaded before anyone calls, so that a call is answered at once.
//!
//! Building a session's engines (an LLM worker process with the system prompt prefilled, then
//! Silero, a Whisper state, smart-turn and Piper) takes one to two seconds on a small machine; a
//! caller who presses Talk should not wait for it. The server keeps one spare set: loaded at
//! start-up and again after each call ends (not while a call runs, which would slow its
//! replies). A call takes the spare if it is there, waits for it if it is being loaded, and
//! otherwise (a second caller while the first talks) loads its own as before.
//!
//! A stopping server [`close`](SpareEngines::close)s it: no more loads start, a ready set is
//! dropped (its LLM worker exits), and every load in its *native phase* (ONNX Runtime building
//! sessions, or dropping a set) is waited for, however long a starved machine makes it: the
//! process must not exit under it, since exiting runs the C++ static destructors of ONNX
//! Runtime, and a thread still inside ONNX Runtime then crashes the process (SIGSEGV; issue
//! 32). A load still in its LLM phase (waiting on the worker process's prefill, which a hung
//! worker may never finish) is not waited for: it holds no native state, and finding the
//! server closed when it comes back, it loads nothing more.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::asr::WhisperModel;
use crate::config::Config;
use crate::runtime::{Engines, load_local_engines_with, load_local_llm};

/// How often a stop that waits for a native phase says so.
const CLOSE_NOTE_EVERY: Duration = Duration::from_secs(5);

/// Where the spare set is.
enum Spare {
    Empty,
    Loading,
    Ready(Box<Engines>),
}

/// What the lock guards: the spare slot, whether the server is stopping, and how many loads
/// are in their native phase.
struct State {
    spare: Spare,
    /// Set by [`SpareEngines::close`]: no load enters its native phase after it.
    closed: bool,
    /// Loads (the spare's or a call's own) running or dropping in-process engines now.
    native: usize,
}

/// The server's spare engine set; see the module doc.
pub struct SpareEngines {
    config: Config,
    whisper: Arc<WhisperModel>,
    state: Mutex<State>,
    /// Woken when a spare load ends (ready, empty or failed).
    loaded: Notify,
    /// Woken when a native phase ends.
    native_done: Notify,
    /// Whether spares are kept at all (off: every call loads its own).
    enabled: bool,
}

/// A load in its native phase, counted in [`State::native`] until dropped: keep it alive until
/// the engines it made are handed over or dropped.
struct NativePhase {
    owner: Arc<SpareEngines>,
}

impl Drop for NativePhase {
    fn drop(&mut self) {
        self.owner.lock().native -= 1;
        self.owner.native_done.notify_waiters();
    }
}

/// Why a load gave up.
const STOPPING: &str = "the server is stopping";

impl SpareEngines {
    /// No spare yet: call [`refill`](Self::refill) to load one. Not `enabled`: refills do
    /// nothing and every call loads its own engines.
    pub fn new(config: Config, whisper: Arc<WhisperModel>, enabled: bool) -> Arc<Self> {
        Arc::new(Self {
            config,
            whisper,
            state: Mutex::new(State {
                spare: Spare::Empty,
                closed: false,
                native: 0,
            }),
            loaded: Notify::new(),
            native_done: Notify::new(),
            enabled,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a spare set is ready now.
    pub fn is_ready(&self) -> bool {
        matches!(self.lock().spare, Spare::Ready(_))
    }

    /// Loads in their native phase now (see the module doc).
    pub fn native_loads(&self) -> usize {
        self.lock().native
    }

    /// Starts loading a spare set on a blocking thread, unless one is there or on its way, or
    /// the server is stopping. Needs a tokio runtime.
    pub fn refill(self: &Arc<Self>) {
        if !self.enabled {
            return;
        }
        {
            let mut state = self.lock();
            if state.closed || !matches!(state.spare, Spare::Empty) {
                return;
            }
            state.spare = Spare::Loading;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let loaded = this.load();
            // Loading frees its temporaries (model parsing, warm-up buffers): give them back.
            super::memory::trim();
            let stopped = {
                let mut state = this.lock();
                match loaded {
                    Ok((engines, phase)) if state.closed => {
                        // Nobody will take it: dropped here, inside its native phase.
                        state.spare = Spare::Empty;
                        drop(state);
                        drop(engines);
                        drop(phase);
                        true
                    }
                    Ok((engines, phase)) => {
                        tracing::info!(
                            "spare engines ready in {:.0} ms",
                            started.elapsed().as_secs_f64() * 1000.0
                        );
                        state.spare = Spare::Ready(Box::new(engines));
                        drop(state);
                        drop(phase);
                        false
                    }
                    Err(e) => {
                        if !state.closed {
                            tracing::warn!(
                                "cannot load spare engines ({e}); each call loads its own"
                            );
                        }
                        state.spare = Spare::Empty;
                        state.closed
                    }
                }
            };
            if stopped {
                tracing::debug!("a spare set loaded as the server stopped was dropped");
            }
            this.loaded.notify_waiters();
        });
    }

    /// Stops further loads, drops the spare set and waits until no load is in its native phase
    /// (however long that takes; see the module doc). Returns whether a load was left in its
    /// LLM phase (it loads nothing more once it comes back).
    pub async fn close(self: &Arc<Self>) -> bool {
        let ready = {
            let mut state = self.lock();
            state.closed = true;
            match std::mem::replace(&mut state.spare, Spare::Empty) {
                Spare::Loading => {
                    state.spare = Spare::Loading;
                    None
                }
                Spare::Ready(engines) => Some(engines),
                Spare::Empty => None,
            }
        };
        if let Some(engines) = ready {
            // Dropping a set waits for its LLM worker to exit: not on an async thread.
            let _ = tokio::task::spawn_blocking(move || drop(engines)).await;
        }
        let started = Instant::now();
        let mut noted = Duration::ZERO;
        loop {
            // Registered before the check, so a phase ending in between still wakes us.
            let done = self.native_done.notified();
            if self.lock().native == 0 {
                break;
            }
            if tokio::time::timeout(CLOSE_NOTE_EVERY, done).await.is_err() {
                noted += CLOSE_NOTE_EVERY;
                tracing::info!(
                    "stopping: waiting for engines being loaded ({} s so far)",
                    noted.as_secs()
                );
            }
        }
        if started.elapsed() > CLOSE_NOTE_EVERY {
            tracing::info!(
                "stopping: the engines being loaded are done after {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        matches!(self.lock().spare, Spare::Loading)
    }

    /// The spare set (waiting for it if it is being loaded), or, when there is none, a set
    /// loaded now.
    pub async fn take(self: &Arc<Self>) -> Result<Engines, String> {
        loop {
            // Registered before the check, so a load finishing in between still wakes us.
            let loaded = self.loaded.notified();
            {
                let mut state = self.lock();
                match std::mem::replace(&mut state.spare, Spare::Empty) {
                    Spare::Ready(engines) => return Ok(*engines),
                    Spare::Loading => state.spare = Spare::Loading,
                    Spare::Empty if state.closed => return Err(STOPPING.into()),
                    Spare::Empty => break,
                }
            }
            loaded.await;
        }
        let this = self.clone();
        // The phase travels back with the engines: if this call is gone by the time they are
        // loaded, tokio drops the pair on the loading thread, the engines first, so the stop
        // still waits for them.
        let (engines, phase) = tokio::task::spawn_blocking(move || this.load())
            .await
            .map_err(|e| e.to_string())??;
        // From here the engines are the session's: the server's stop waits for its sessions.
        drop(phase);
        Ok(engines)
    }

    /// Loads a set of engines (blocking: call on a blocking thread): the LLM first, then, unless
    /// the server stopped meanwhile, the in-process engines inside a counted native phase.
    fn load(self: &Arc<Self>) -> Result<(Engines, NativePhase), String> {
        let llm = load_local_llm(&self.config).map_err(|e| e.to_string())?;
        let phase = {
            let mut state = self.lock();
            if state.closed {
                return Err(STOPPING.into());
            }
            state.native += 1;
            NativePhase {
                owner: self.clone(),
            }
        };
        match load_local_engines_with(&self.config, &self.whisper, llm) {
            Ok(engines) => Ok((engines, phase)),
            Err(e) => Err(e.to_string()),
        }
    }
}
