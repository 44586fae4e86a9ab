//! The `duplex-llm` child process: finding it, starting it, writing requests, reading events,
//! and turning every way it can fail into an [`LlmError`] instead of a hang.
//!
//! Two threads per worker: one reads its stdout (events) into a bounded channel, one keeps the
//! last lines of its stderr for error messages. The worker exits when its stdin closes, which
//! happens when this handle is dropped (and it is killed if it does not exit promptly).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duplex_llm_protocol::{Event, Request, to_line};

use super::error::LlmError;

/// Events read from the worker but not yet taken by the client. When full, the reader thread
/// blocks, the worker's stdout pipe fills and the worker waits: back-pressure, nothing dropped.
const EVENT_CHANNEL_CAPACITY: usize = 256;
/// Lines of the worker's stderr kept for error messages (oldest dropped).
const STDERR_TAIL_LINES: usize = 20;
/// How long a worker may take to exit after its stdin closes before it is killed.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// The worker binary's file name.
pub const WORKER_NAME: &str = "duplex-llm";

/// What the reader thread passes on.
enum Incoming {
    Event(Event),
    Garbage(String),
    Closed,
}

/// Where to look for the worker binary, in order: the configured path, `DUPLEX_LLM_WORKER`,
/// next to the running executable, and (for tests and benches, which run from `deps/`) one
/// directory up.
pub fn candidates(configured: &Path) -> Vec<PathBuf> {
    if !configured.as_os_str().is_empty() {
        return vec![configured.to_owned()];
    }
    if let Some(path) = std::env::var_os("DUPLEX_LLM_WORKER") {
        return vec![PathBuf::from(path)];
    }
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        out.push(dir.join(WORKER_NAME));
        if dir.file_name().is_some_and(|n| n == "deps")
            && let Some(up) = dir.parent()
        {
            out.push(up.join(WORKER_NAME));
        }
    }
    out
}

/// The worker binary that would be started with no configured path, if it exists (it is built
/// by `cargo build` at the workspace top, next to `duplex`).
pub fn installed_worker() -> Option<PathBuf> {
    candidates(Path::new("")).into_iter().find(|p| p.is_file())
}

/// A running worker process.
pub struct WorkerProcess {
    path: PathBuf,
    child: Child,
    stdin: Arc<Mutex<Option<ChildStdin>>>,
    events: Receiver<Incoming>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    exited: Option<String>,
    /// The stdout and stderr reader threads, joined when the process is dropped.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl WorkerProcess {
    /// Finds and starts the worker with `args`.
    pub fn spawn(configured: &Path, args: &[String]) -> Result<Self, LlmError> {
        let tried = candidates(configured);
        let path = tried
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or(LlmError::WorkerMissing { tried })?;
        let mut child = Command::new(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| LlmError::WorkerSpawn {
                path: path.clone(),
                source,
            })?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let stderr = child.stderr.take().expect("stderr was piped");
        let stdin = Arc::new(Mutex::new(child.stdin.take()));

        let (tx, events) = sync_channel(EVENT_CHANNEL_CAPACITY);
        let out_reader = std::thread::Builder::new()
            .name("llm-worker-out".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let item = match serde_json::from_str::<Event>(&line) {
                        Ok(event) => Incoming::Event(event),
                        Err(_) => Incoming::Garbage(line),
                    };
                    if tx.send(item).is_err() {
                        return;
                    }
                }
                let _ = tx.send(Incoming::Closed);
            })
            .map_err(|source| LlmError::WorkerSpawn {
                path: path.clone(),
                source,
            })?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        let err_reader = std::thread::Builder::new()
            .name("llm-worker-err".into())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    tracing::debug!(target: "duplex::llm::worker", "{line}");
                    let mut tail = lock(&tail);
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            })
            .map_err(|source| LlmError::WorkerSpawn {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            path,
            child,
            stdin,
            events,
            stderr_tail,
            exited: None,
            readers: vec![out_reader, err_reader],
        })
    }

    /// The worker binary in use.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (a dead one is reaped here, so it does not linger
    /// as a zombie).
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                self.exited = Some(status.to_string());
                false
            }
            Err(e) => {
                self.exited = Some(e.to_string());
                false
            }
        }
    }

    /// A sender usable from other threads (for cancel hooks).
    pub fn request_writer(&self) -> RequestWriter {
        RequestWriter(self.stdin.clone())
    }

    /// Sends one request.
    pub fn send(&mut self, request: &Request) -> Result<(), LlmError> {
        if self.request_writer().send(request) {
            Ok(())
        } else {
            Err(self.exited_error())
        }
    }

    /// Waits up to `timeout` for the next event. A dead worker, a silent one (killed after
    /// `timeout`) or an unreadable line each become an error.
    pub fn recv(&mut self, timeout: Duration) -> Result<Event, LlmError> {
        if self.exited.is_some() {
            return Err(self.exited_error());
        }
        match self.events.recv_timeout(timeout) {
            Ok(Incoming::Event(event)) => Ok(event),
            Ok(Incoming::Garbage(line)) => Err(LlmError::Protocol(format!(
                "unexpected output from {}: {line}",
                self.path.display()
            ))),
            Ok(Incoming::Closed) | Err(RecvTimeoutError::Disconnected) => Err(self.exited_error()),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.exited = Some("killed: not answering".into());
                Err(LlmError::WorkerTimeout {
                    path: self.path.clone(),
                    seconds: timeout.as_secs_f64(),
                })
            }
        }
    }

    /// The error for a worker that is gone, with its exit status and last stderr lines.
    fn exited_error(&mut self) -> LlmError {
        if self.exited.is_none() {
            // Its stdout closed: it is exiting. Give it a moment to be reaped.
            let deadline = Instant::now() + EXIT_GRACE;
            let status = loop {
                match self.child.try_wait() {
                    Ok(Some(status)) => break status.to_string(),
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Ok(None) => {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        break "its output closed; killed".to_owned();
                    }
                    Err(e) => break e.to_string(),
                }
            };
            self.exited = Some(status);
        }
        // Let the stderr thread catch the last lines.
        std::thread::sleep(Duration::from_millis(20));
        let stderr: Vec<String> = lock(&self.stderr_tail).iter().cloned().collect();
        LlmError::WorkerExited {
            path: self.path.clone(),
            status: self.exited.clone().unwrap_or_default(),
            stderr: if stderr.is_empty() {
                "(nothing on stderr)".into()
            } else {
                stderr.join(" | ")
            },
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // Closing stdin asks the worker to exit; kill it if it does not.
        lock(&self.stdin).take();
        let deadline = Instant::now() + EXIT_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                self.join_readers();
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_readers();
    }
}

impl WorkerProcess {
    /// Joins the reader threads once the process is gone: its pipes are closed, and dropping
    /// the event receiver unblocks a reader waiting for room.
    fn join_readers(&mut self) {
        let (_, closed) = sync_channel(0);
        drop(std::mem::replace(&mut self.events, closed));
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// Writes requests to the worker's stdin; cloneable, usable from any thread.
#[derive(Clone)]
pub struct RequestWriter(Arc<Mutex<Option<ChildStdin>>>);

impl RequestWriter {
    /// Writes one request line; false if the worker's stdin is closed.
    pub fn send(&self, request: &Request) -> bool {
        let line = to_line(request);
        let mut stdin = lock(&self.0);
        match stdin.as_mut() {
            Some(pipe) => pipe
                .write_all(line.as_bytes())
                .and_then(|()| pipe.flush())
                .is_ok(),
            None => false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
