//! Engine worker threads and the session's non-blocking way of feeding them.
//!
//! Each worker owns one engine and takes jobs from a bounded queue. The session never awaits a
//! full queue: a job that does not fit waits in the session's own [`Outbox`] and is moved on
//! when room frees up, so a worker blocked on a full results channel can never deadlock the
//! session that drains it. The session owns the workers: [`Worker::close`] stops taking jobs and
//! hands back the thread to join, and the engine is dropped when the thread ends.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

/// Jobs queued for one engine worker. When full, jobs wait in the session's outbox; in
/// practice an engine has at most a few because the agent asks once per pause, turn or chunk.
const ENGINE_JOB_CAPACITY: usize = 16;

/// A wait for room in one outbox's channel (see [`Outbox::room`]).
pub(crate) type RoomWait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Completes when any of `waits` does (never, if there are none).
pub(crate) async fn any_room(mut waits: Vec<RoomWait>) {
    std::future::poll_fn(|cx| {
        for wait in &mut waits {
            if wait.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await
}

/// Items waiting to enter a bounded channel, sent without ever awaiting. The waiting items
/// themselves are not capped here: each is a job or chunk the agent asked for once (per pause,
/// turn or reply chunk), so they are as many as the conversation makes, and the session drops
/// the stale ones ([`Outbox::discard`]) or the oldest ([`Outbox::cap`]) where it can lose them.
pub(crate) struct Outbox<T> {
    tx: mpsc::Sender<T>,
    waiting: VecDeque<T>,
}

impl<T> Outbox<T> {
    pub(crate) fn new(tx: mpsc::Sender<T>) -> Self {
        Self {
            tx,
            waiting: VecDeque::new(),
        }
    }

    /// Sends `item` now if the channel has room, else keeps it (in order) for [`Self::pump`].
    /// Returns false when the receiver is gone.
    pub(crate) fn push(&mut self, item: T) -> bool {
        self.waiting.push_back(item);
        self.pump()
    }

    /// Moves waiting items into the channel while it has room. False when the receiver is gone.
    pub(crate) fn pump(&mut self) -> bool {
        while let Some(item) = self.waiting.pop_front() {
            match self.tx.try_send(item) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(item)) => {
                    self.waiting.push_front(item);
                    return true;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        true
    }

    /// When items wait: a future that completes once the channel has room for one (or is
    /// closed), owning a clone of the sender, so the session can sleep on it instead of
    /// polling.
    pub(crate) fn room(&self) -> Option<RoomWait>
    where
        T: Send + 'static,
    {
        if self.waiting.is_empty() {
            return None;
        }
        let tx = self.tx.clone();
        // The permit is let go at once: the slot it held is what the next pump fills.
        Some(Box::pin(async move {
            let _ = tx.reserve_owned().await;
        }))
    }

    /// Items still waiting for room.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Drops the waiting items that match `stale`.
    pub(crate) fn discard(&mut self, stale: impl Fn(&T) -> bool) {
        self.waiting.retain(|item| !stale(item));
    }

    /// Drops the oldest waiting items beyond `max`; returns how many.
    pub(crate) fn cap(&mut self, max: usize) -> usize {
        let excess = self.waiting.len().saturating_sub(max);
        self.waiting.drain(..excess);
        excess
    }
}

/// A worker thread owning one engine, fed through an [`Outbox`].
pub(crate) struct Worker<J> {
    pub(crate) jobs: Outbox<J>,
    closing: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<J: Send + 'static> Worker<J> {
    /// Spawns a named worker thread that calls `work` for every job.
    pub(crate) fn spawn(name: &'static str, work: impl FnMut(J) + Send + 'static) -> Self {
        Self::spawn_with(name, move || work)
    }

    /// Spawns a named worker thread that first runs `start` (on the new thread) and then calls
    /// the job handler it returns for every job.
    pub(crate) fn spawn_with<W: FnMut(J)>(
        name: &'static str,
        start: impl FnOnce() -> W + Send + 'static,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<J>(ENGINE_JOB_CAPACITY);
        let closing = Arc::new(AtomicBool::new(false));
        let stop = closing.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("duplex-{name}"))
            .spawn(move || {
                let mut work = start();
                let mut jobs = 0u64;
                while let Some(job) = rx.blocking_recv() {
                    if stop.load(Ordering::Acquire) {
                        continue; // the session is ending: queued jobs are dropped unrun
                    }
                    work(job);
                    jobs += 1;
                }
                tracing::debug!(worker = name, jobs, "worker ended: its session closed it");
            });
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(e) => {
                tracing::error!(worker = name, "cannot start worker thread: {e}");
                None
            }
        };
        Self {
            jobs: Outbox::new(tx),
            closing,
            thread,
        }
    }

    /// Stops taking jobs (queued ones are dropped unrun) and returns the thread to join; the
    /// engine is dropped when it ends.
    pub(crate) fn close(self) -> Option<JoinHandle<()>> {
        self.closing.store(true, Ordering::Release);
        drop(self.jobs);
        self.thread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_runs_its_start_on_its_own_thread_before_the_first_job() {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let mut worker = Worker::spawn_with("start-test", move || {
            let started_on = std::thread::current().name().map(str::to_owned);
            move |job: u32| {
                let _ = done_tx.send((started_on.clone(), job));
            }
        });
        assert!(worker.jobs.push(7));
        let (started_on, job) = done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the job ran");
        assert_eq!(started_on.as_deref(), Some("duplex-start-test"));
        assert_eq!(job, 7);
        worker.close().expect("a thread").join().expect("joins");
    }
}
