//! A pool of engines of one kind shared by every session of a process, handed out one job at a
//! time in the order a listener needs them.
//!
//! A server with several conversations does not need an engine per conversation: the weights
//! are the same, and two cores run at most two jobs at once anyway. The pool holds as many
//! engines as the machine has cores; a job leases one for its run and gives it back when the
//! lease drops. When every engine is busy, waiting jobs are served by [`Urgency`] (what a
//! listener is waiting for first), then in the order they came. A job whose cancel token is set
//! while it waits leaves the queue without running.

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use duplex_core::cancel::CancelToken;

/// How soon a listener needs a job's result; waiting jobs are served in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Someone waits for it now: a transcript or turn-end score at a pause, a reply's first
    /// audio.
    Now,
    /// Needed soon: a reply's later chunks, which play after the ones before them.
    Soon,
    /// Nobody waits: a backchannel's words, synthesized once and kept.
    Spare,
}

/// How often a waiting job looks at its cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Engines of one kind, shared; see the module doc.
pub struct EnginePool<T: ?Sized> {
    state: Mutex<PoolState<T>>,
    freed: Condvar,
    size: usize,
}

struct PoolState<T: ?Sized> {
    free: Vec<Box<T>>,
    /// Jobs waiting, by urgency and then arrival.
    waiting: BTreeSet<(Urgency, u64)>,
    next_ticket: u64,
}

impl<T: ?Sized> EnginePool<T> {
    /// A pool of these engines (at least one).
    pub fn new(engines: Vec<Box<T>>) -> Arc<Self> {
        assert!(!engines.is_empty(), "an engine pool needs an engine");
        let size = engines.len();
        Arc::new(Self {
            state: Mutex::new(PoolState {
                free: engines,
                waiting: BTreeSet::new(),
                next_ticket: 0,
            }),
            freed: Condvar::new(),
            size,
        })
    }

    /// How many engines the pool holds.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Jobs waiting for an engine now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    fn lock(&self) -> MutexGuard<'_, PoolState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leases an engine, waiting behind more urgent and earlier jobs while all are busy;
    /// `None` when `cancel` is set before one is free.
    pub fn acquire(self: &Arc<Self>, urgency: Urgency, cancel: &CancelToken) -> Option<Lease<T>> {
        let mut state = self.lock();
        let ticket = (urgency, state.next_ticket);
        state.next_ticket += 1;
        state.waiting.insert(ticket);
        loop {
            let first = state.waiting.first() == Some(&ticket);
            if first && let Some(engine) = state.free.pop() {
                state.waiting.remove(&ticket);
                // The next in line may find another engine free.
                self.freed.notify_all();
                return Some(Lease {
                    pool: self.clone(),
                    engine: Some(engine),
                });
            }
            if cancel.is_cancelled() {
                state.waiting.remove(&ticket);
                self.freed.notify_all();
                return None;
            }
            state = self
                .freed
                .wait_timeout(state, CANCEL_POLL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// One engine of a pool, given back when dropped.
pub struct Lease<T: ?Sized> {
    pool: Arc<EnginePool<T>>,
    engine: Option<Box<T>>,
}

impl<T: ?Sized> Deref for Lease<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.engine.as_deref().expect("held until dropped")
    }
}

impl<T: ?Sized> DerefMut for Lease<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.engine.as_deref_mut().expect("held until dropped")
    }
}

impl<T: ?Sized> Drop for Lease<T> {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            self.pool.lock().free.push(engine);
            self.pool.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::mpsc;
    use std::thread;

    fn pool_of(n: usize) -> Arc<EnginePool<u32>> {
        EnginePool::new((0..n as u32).map(Box::new).collect())
    }

    /// Waits until `n` jobs are queued.
    fn until_waiting(pool: &EnginePool<u32>, n: usize) {
        while pool.waiting() < n {
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_lease_gives_its_engine_back_when_dropped() {
        let pool = pool_of(1);
        let never = CancelToken::new();
        let first = *pool.acquire(Urgency::Now, &never).expect("free");
        let second = *pool.acquire(Urgency::Now, &never).expect("given back");
        assert_eq!(first, second);
        assert_eq!(pool.size(), 1);
    }

    #[test]
    fn waiting_jobs_are_served_by_urgency_then_arrival() {
        let pool = pool_of(1);
        let never = CancelToken::new();
        let held = pool.acquire(Urgency::Now, &never).expect("free");
        let (tx, rx) = mpsc::channel();
        let mut threads = Vec::new();
        for (i, urgency) in [Urgency::Spare, Urgency::Soon, Urgency::Now, Urgency::Soon]
            .into_iter()
            .enumerate()
        {
            let (job_pool, tx) = (pool.clone(), tx.clone());
            threads.push(thread::spawn(move || {
                let lease = job_pool
                    .acquire(urgency, &CancelToken::new())
                    .expect("served");
                tx.send(i).expect("recorded");
                drop(lease);
            }));
            until_waiting(&pool, i + 1);
        }
        drop(held);
        for t in threads {
            t.join().expect("job");
        }
        let order: Vec<usize> = rx.try_iter().collect();
        assert_eq!(order, vec![2, 1, 3, 0]);
    }

    #[test]
    fn a_cancelled_job_leaves_the_queue_without_an_engine() {
        let pool = pool_of(1);
        let never = CancelToken::new();
        let held = pool.acquire(Urgency::Now, &never).expect("free");
        let cancel = CancelToken::new();
        let waiter = {
            let (pool, cancel) = (pool.clone(), cancel.clone());
            thread::spawn(move || pool.acquire(Urgency::Now, &cancel).is_none())
        };
        until_waiting(&pool, 1);
        cancel.cancel();
        assert!(
            waiter.join().expect("waiter"),
            "a cancelled wait gets nothing"
        );
        assert_eq!(pool.waiting(), 0);
        drop(held);
        assert!(pool.acquire(Urgency::Spare, &never).is_some());
    }

    #[test]
    fn as_many_jobs_run_at_once_as_the_pool_has_engines() {
        let pool = pool_of(2);
        let never = CancelToken::new();
        let a = pool.acquire(Urgency::Soon, &never).expect("first");
        let b = pool.acquire(Urgency::Soon, &never).expect("second");
        assert_ne!(*a, *b);
        let cancel = CancelToken::new();
        cancel.cancel();
        assert!(pool.acquire(Urgency::Now, &cancel).is_none(), "all busy");
    }
}
