//! Engine worker threads: each owns one engine and takes jobs from a bounded queue until the
//! session closes it; a named spawn helper logs how each worker ended.

use tokio::sync::mpsc;

use super::ENGINE_JOB_CAPACITY;

/// Spawns a named worker thread that calls `work` for every job; returns the job queue.
pub(crate) fn spawn_worker<J: Send + 'static>(
    name: &'static str,
    mut work: impl FnMut(J) + Send + 'static,
) -> mpsc::Sender<J> {
    let (tx, mut rx) = mpsc::channel::<J>(ENGINE_JOB_CAPACITY);
    let spawned = std::thread::Builder::new()
        .name(format!("duplex-{name}"))
        .spawn(move || {
            let mut jobs = 0u64;
            while let Some(job) = rx.blocking_recv() {
                work(job);
                jobs += 1;
            }
            tracing::debug!(
                worker = name,
                jobs,
                "worker ended: its session closed the queue"
            );
        });
    if let Err(e) = spawned {
        tracing::error!(worker = name, "cannot start worker thread: {e}");
    }
    tx
}
