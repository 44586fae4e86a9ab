//! One `duplex-llm` worker process for every conversation of a server: the model is loaded once,
//! and each conversation holds one of the worker's sequences (its own KV cache), leased for as
//! long as the conversation lasts (`duplex-llm --sequences N`; see the protocol's module doc).
//! The worker decodes the replies of all sequences together, one batch per step, so two
//! conversations that speak at once share each step instead of each running its own process.
//!
//! A router thread reads the worker's events and hands each to the conversation whose request
//! it answers: request ids are unique across the worker and carry their sequence in their low
//! bits. A conversation's handle, [`SequenceLink`], sends requests tagged with its sequence and
//! reads only its own events.
//! When the worker dies, every conversation sees it on its next read; the first to recover
//! (through [`super::revive`]) starts a new worker, and the others lease sequences of that one.
//!
//! Whether that pays depends on the machine: on 2 cores with SmolLM2-135M, batches of two tokens
//! cost more than two single tokens in llama.cpp's CPU kernels, and a worker per conversation
//! (each decoding on its own core) answered sooner, so this is opt-in (see the README).
//! `duplex serve --shared-llm` installs the pool ([`install`]) with one sequence per admitted
//! conversation plus the spare engine set; [`super::build_backend`] then leases from it instead of starting a
//! process per conversation. When every sequence is taken, a conversation gets a worker of its
//! own, as before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::config::EmbeddedConfig;
use super::embedded::WorkerInfo;
use super::error::LlmError;
use super::protocol::{Event, Request};
use super::worker::{RequestWriter, WorkerProcess};
use super::worker_link::{await_loaded, worker_args};

/// Events waiting for one conversation to read them. When full, the router waits (nothing is
/// dropped): a conversation reads its events while its request runs.
const SEQUENCE_EVENT_CAPACITY: usize = 256;

/// How long the router waits for the next event (conversations time out their own requests);
/// a worker silent this long is stopped, and the next lease starts a new one.
const ROUTER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The server's shared worker, installed once by [`install`].
static POOL: OnceLock<Arc<SharedWorker>> = OnceLock::new();

/// Makes `pool` the worker that [`super::build_backend`] leases embedded conversations from.
/// Returns false if one was installed already.
pub fn install(pool: Arc<SharedWorker>) -> bool {
    POOL.set(pool).is_ok()
}

/// The installed pool, if any.
pub fn installed() -> Option<&'static Arc<SharedWorker>> {
    POOL.get()
}

/// A pool of sequences in one worker process; see the module doc.
pub struct SharedWorker {
    config: EmbeddedConfig,
    model: PathBuf,
    sequences: u32,
    running: Mutex<Option<Arc<Router>>>,
}

/// What one running worker shares with its conversations.
struct Router {
    writer: RequestWriter,
    pid: u32,
    path: PathBuf,
    info: WorkerInfo,
    next_id: AtomicU64,
    alive: AtomicBool,
    /// Why the worker stopped, once it has.
    failure: Mutex<Option<String>>,
    /// Where each leased sequence's events go.
    routes: Mutex<HashMap<u32, SyncSender<Result<Event, String>>>>,
    /// Sequences not leased.
    free: Mutex<Vec<u32>>,
}

impl SharedWorker {
    /// A pool of `sequences` conversations on `model`; the worker starts at the first lease.
    pub fn new(config: EmbeddedConfig, model: &Path, sequences: u32) -> Arc<Self> {
        Arc::new(Self {
            config,
            model: model.to_owned(),
            sequences: sequences.clamp(1, 1 << SEQ_BITS),
            running: Mutex::new(None),
        })
    }

    /// How many conversations it serves at once.
    pub fn sequences(&self) -> u32 {
        self.sequences
    }

    /// The worker's process id, while one runs.
    pub fn pid(&self) -> Option<u32> {
        lock(&self.running)
            .as_ref()
            .filter(|r| r.alive.load(Ordering::Acquire))
            .map(|r| r.pid)
    }

    /// A sequence for one conversation, starting (or restarting) the worker if it is not
    /// running. Fails when every sequence is leased or the worker cannot start.
    pub fn lease(&self) -> Result<SequenceLink, LlmError> {
        let router = {
            let mut running = lock(&self.running);
            match running.as_ref() {
                Some(router) if router.alive.load(Ordering::Acquire) => router.clone(),
                _ => {
                    let router = self.start()?;
                    *running = Some(router.clone());
                    router
                }
            }
        };
        let seq = lock(&router.free).pop().ok_or_else(|| {
            LlmError::Worker(format!(
                "all {} sequences of the shared LLM worker are in use",
                self.sequences
            ))
        })?;
        let (tx, events) = sync_channel(SEQUENCE_EVENT_CAPACITY);
        lock(&router.routes).insert(seq, tx);
        Ok(SequenceLink {
            router,
            seq,
            events,
        })
    }

    /// Starts a worker with this pool's sequences and its router thread.
    fn start(&self) -> Result<Arc<Router>, LlmError> {
        let mut args = worker_args(&self.config, &self.model)?;
        args.extend(["--sequences".to_owned(), self.sequences.to_string()]);
        let mut process = WorkerProcess::spawn(&self.config.worker, &args)?;
        let info = await_loaded(&mut process, self.config.load_timeout())?;
        tracing::info!(model = %info.model, sequences = self.sequences, pid = process.pid(),
            "shared LLM worker ready");
        let router = Arc::new(Router {
            writer: process.request_writer(),
            pid: process.pid(),
            path: process.path().to_owned(),
            info,
            next_id: AtomicU64::new(0),
            alive: AtomicBool::new(true),
            failure: Mutex::new(None),
            routes: Mutex::new(HashMap::new()),
            // Lowest first.
            free: Mutex::new((0..self.sequences).rev().collect()),
        });
        let routed = router.clone();
        std::thread::Builder::new()
            .name("llm-router".into())
            .spawn(move || route(process, &routed))
            .map_err(|source| LlmError::WorkerSpawn {
                path: router.path.clone(),
                source,
            })?;
        Ok(router)
    }
}

impl Drop for SharedWorker {
    fn drop(&mut self) {
        if let Some(router) = lock(&self.running).take() {
            // Closing its stdin asks the worker to exit; the router then reaps it.
            router.writer.close();
        }
    }
}

/// The router thread: hands each event to the sequence whose request it answers, until the
/// worker's output ends; then marks the worker dead and wakes every conversation.
fn route(mut process: WorkerProcess, router: &Router) {
    let failure = loop {
        let (event, id) = match process.recv(ROUTER_WAIT) {
            Ok(event) => {
                let id = match &event {
                    Event::Token { id, .. } | Event::Done { id, .. } | Event::Ready { id, .. } => {
                        Some(*id)
                    }
                    Event::Error { id, .. } => *id,
                    Event::Loaded { .. } => None,
                };
                (Ok(event), id)
            }
            // One unreadable line: everyone waiting hears of it, and reading goes on.
            Err(LlmError::Protocol(line)) => (Err(line), None),
            Err(e) => break e.to_string(),
        };
        let targets: Vec<_> = {
            let routes = lock(&router.routes);
            match id {
                Some(id) => routes.get(&sequence_of(id)).cloned().into_iter().collect(),
                None => routes.values().cloned().collect(),
            }
        };
        for tx in targets {
            let _ = tx.send(event.clone());
        }
    };
    router.alive.store(false, Ordering::Release);
    *lock(&router.failure) = Some(failure);
    // Dropping the senders wakes every conversation waiting on its events.
    lock(&router.routes).clear();
    drop(process);
}

/// Request ids carry their sequence in these low bits, so that any event can be routed.
const SEQ_BITS: u32 = 8;

/// The sequence of request `id`.
fn sequence_of(id: u64) -> u32 {
    (id & ((1 << SEQ_BITS) - 1)) as u32
}

/// One conversation's sequence of the shared worker: sends its requests, reads its events.
pub struct SequenceLink {
    router: Arc<Router>,
    seq: u32,
    events: Receiver<Result<Event, String>>,
}

impl SequenceLink {
    /// The sequence.
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// What the worker reported when it started.
    pub fn info(&self) -> &WorkerInfo {
        &self.router.info
    }

    /// A request id unique across the worker's conversations, carrying this sequence.
    pub fn new_id(&self) -> u64 {
        let n = self.router.next_id.fetch_add(1, Ordering::AcqRel) + 1;
        (n << SEQ_BITS) | u64::from(self.seq)
    }

    /// The worker binary.
    pub fn path(&self) -> &Path {
        &self.router.path
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.router.pid
    }

    /// Whether the worker still runs.
    pub fn is_running(&self) -> bool {
        self.router.alive.load(Ordering::Acquire)
    }

    /// A sender usable from other threads (for cancel hooks).
    pub fn request_writer(&self) -> RequestWriter {
        self.router.writer.clone()
    }

    /// Sends one request of this conversation.
    pub fn send(&mut self, request: &Request) -> Result<(), LlmError> {
        if !self.is_running() {
            return Err(self.gone());
        }
        if self.router.writer.send(request) {
            Ok(())
        } else {
            Err(self.gone())
        }
    }

    /// Waits up to `timeout` for this conversation's next event. A dead worker becomes an error;
    /// a silent one is killed after `timeout` (for every conversation: it is stuck).
    pub fn recv(&mut self, timeout: Duration) -> Result<Event, LlmError> {
        match self.events.recv_timeout(timeout) {
            Ok(Ok(event)) => Ok(event),
            Ok(Err(line)) => Err(LlmError::Protocol(line)),
            Err(RecvTimeoutError::Disconnected) => Err(self.gone()),
            Err(RecvTimeoutError::Timeout) => {
                // SAFETY: kill(2) on the worker's own pid; it is our child and reaped by the
                // router thread, so the pid cannot have been reused while the router is alive.
                if self.is_running() {
                    unsafe { libc::kill(self.router.pid as libc::pid_t, libc::SIGKILL) };
                }
                Err(LlmError::WorkerTimeout {
                    path: self.router.path.clone(),
                    seconds: timeout.as_secs_f64(),
                })
            }
        }
    }

    fn gone(&self) -> LlmError {
        LlmError::WorkerExited {
            path: self.router.path.clone(),
            status: lock(&self.router.failure)
                .clone()
                .unwrap_or_else(|| "stopped".into()),
            stderr: "(shared worker; see the server log)".into(),
        }
    }
}

impl Drop for SequenceLink {
    fn drop(&mut self) {
        lock(&self.router.routes).remove(&self.seq);
        lock(&self.router.free).push(self.seq);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
