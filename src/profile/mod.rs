//! Memory between calls: what the user told about themselves and their life, kept on this machine
//! and erasable, so that a new call starts knowing what earlier calls learnt.
//!
//! - [`store`]: one SQLite file in the data directory (`~/.local/share/duplex`, or
//!   `$XDG_DATA_HOME/duplex`, `DUPLEX_DATA_DIR`, `--data-dir`), owner-only; forgetting leaves no
//!   trace in its files.
//! - [`extract`]: which sentences are the user's statements about themselves (shared with the
//!   in-call running memory of `llm::memory`).
//! - [`recall`]: the block of facts a call starts with, the notes for "what did I tell you about
//!   X", and "forget ..." requests.
//! - [`Profile`]: one call's handle on one profile (`talk`, `converse` and `chat` share
//!   [`LOCAL_PROFILE`]; `duplex serve` keeps one per browser, see [`web_profile`]). The store is
//!   written on the profile's own thread: extraction and writes never sit on the reply path, and
//!   the call's summary is written there when the call ends.

pub mod extract;
pub mod recall;
pub mod store;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use recall::{ForgetRequest, RecallQuery};
pub use store::{Memory, Store, StoreError};
use worker::Job;

/// The profile of `talk`, `converse` and `chat`.
pub const LOCAL_PROFILE: &str = "local";

/// How long a call's start waits for the facts it begins with.
const START_WAIT: Duration = Duration::from_secs(2);
/// How long a reply waits for a search of the store (it is on the reply path).
const RECALL_WAIT: Duration = Duration::from_millis(300);
/// How long a spoken forget waits for the store.
const FORGET_WAIT: Duration = Duration::from_secs(5);
/// How long the end of a call waits for the profile's thread to write what is left.
const END_WAIT: Duration = Duration::from_secs(5);

/// The `[memory]` section of the configuration.
///
/// ```toml
/// [memory]
/// enabled = false    # keep nothing between calls (as --no-memory)
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Keep what the user tells between calls; off: nothing is written, no file made.
    pub enabled: bool,
    /// Most facts from earlier calls put in a new call's system prompt (the most recent).
    pub recall_facts: u32,
    /// Most facts put before a reply to "what did I tell you about X".
    pub search_facts: u32,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            recall_facts: 10,
            search_facts: 3,
        }
    }
}

/// The default data directory: `$XDG_DATA_HOME/duplex`, else `~/.local/share/duplex`.
pub fn default_data_dir() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
                .join(".local/share")
        });
    data.join("duplex")
}

/// The profile of the browser whose cookie holds `browser_id`: a digest of it, so that the
/// store never holds the cookie itself.
pub fn web_profile(browser_id: &str) -> String {
    let digest = Sha256::digest(browser_id.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("web-{hex}")
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// One call's handle on a profile: what it says goes to the store on the profile's thread;
/// dropping it ends the call (its summary is written, then the thread ends).
pub struct Profile {
    id: String,
    jobs: Option<mpsc::Sender<Job>>,
    done: mpsc::Receiver<()>,
    settings: MemoryConfig,
}

impl Profile {
    /// Opens profile `id` of the store in `data_dir` (made if missing), and starts its thread.
    pub fn open(data_dir: &Path, id: &str, settings: &MemoryConfig) -> Result<Self, StoreError> {
        let store = Store::open(data_dir, true)?.expect("a created store");
        let (jobs, receiver) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let profile = id.to_owned();
        std::thread::Builder::new()
            .name("duplex-memory".into())
            .spawn(move || {
                worker::run(&store, &profile, &receiver);
                let _ = done_tx.send(());
            })
            .map_err(|e| StoreError::Unusable {
                path: data_dir.join(store::DB_FILE),
                cause: format!("cannot start its thread: {e}"),
            })?;
        Ok(Self {
            id: id.to_owned(),
            jobs: Some(jobs),
            done,
            settings: settings.clone(),
        })
    }

    /// The profile's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }

    /// Asks the thread and waits up to `wait` for the answer.
    fn ask<T>(&self, wait: Duration, job: impl FnOnce(mpsc::Sender<T>) -> Job) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        self.send(job(tx));
        let answer = rx.recv_timeout(wait).ok();
        if answer.is_none() {
            tracing::warn!("the memory store did not answer within {wait:?}; going on without it");
        }
        answer
    }

    /// Hands what the user said in a turn to the profile's thread, which keeps their
    /// statements; returns at once.
    pub fn said(&self, utterance: &str) {
        self.send(Job::Said(utterance.to_owned(), now()));
    }

    /// The facts a call starts with: the most recent, newest first.
    pub fn recent_facts(&self) -> Vec<String> {
        let limit = self.settings.recall_facts as usize;
        if limit == 0 {
            return Vec::new();
        }
        self.ask(START_WAIT, |tx| Job::Recent(limit, tx))
            .unwrap_or_default()
    }

    /// The facts that answer `query`, best first (the most recent when it names no topic).
    pub fn recall(&self, query: &RecallQuery) -> Vec<String> {
        let limit = self.settings.search_facts as usize;
        self.ask(RECALL_WAIT, |tx| {
            Job::Search(query.words.clone(), limit, tx)
        })
        .unwrap_or_default()
    }

    /// Forgets what `request` names; how many memories went (`None`: the store did not answer).
    pub fn forget(&self, request: &ForgetRequest) -> Option<usize> {
        self.ask(FORGET_WAIT, |tx| Job::Forget(request.clone(), tx))
            .flatten()
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if self.done.recv_timeout(END_WAIT).is_err() {
            tracing::warn!("the memory store's thread did not finish within {END_WAIT:?}");
        }
    }
}
