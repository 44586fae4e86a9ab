//! A cancellation token for one assistant turn, usable from plain threads.
//!
//! Backends register a hook when a generation starts (the embedded backend writes a `cancel`
//! line to its worker; the OpenAI backend shuts the HTTP connection), so cancelling acts at once
//! instead of waiting for a poll. Hooks are removed when the generation ends. Tokens form a tree:
//! cancelling a parent cancels its children.
//!
//! The async runtime bridges a `tokio_util` `CancellationToken` with one task:
//! `tokio::spawn(async move { turn.cancelled().await; token.cancel() })`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    hooks: Mutex<Hooks>,
    /// Keeps this token registered with its parent (see [`CancelToken::child`]).
    parent_hook: Mutex<Option<CancelHook>>,
}

#[derive(Default)]
struct Hooks {
    next_id: u64,
    list: Vec<(u64, Hook)>,
}

/// Cancels a turn; cheap to clone, `Send + Sync`.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<Inner>);

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token cancelled when this one is (or on its own).
    pub fn child(&self) -> Self {
        let child = Self::new();
        let weak = Arc::downgrade(&child.0);
        let hook = self.on_cancel(move || {
            if let Some(inner) = weak.upgrade() {
                CancelToken(inner).cancel();
            }
        });
        *lock(&child.0.parent_hook) = Some(hook);
        child
    }

    /// Cancels: runs every registered hook once, on this thread.
    pub fn cancel(&self) {
        if self.0.cancelled.swap(true, Ordering::AcqRel) {
            return;
        }
        let hooks = std::mem::take(&mut lock(&self.0.hooks).list);
        for (_, hook) in hooks {
            hook();
        }
    }

    /// Whether [`cancel`](Self::cancel) was called (here or on a parent).
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }

    /// Runs `hook` when the token is cancelled (at once if it already is). The hook is removed
    /// when the returned guard is dropped.
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) -> CancelHook {
        let mut hooks = lock(&self.0.hooks);
        if self.is_cancelled() {
            drop(hooks);
            hook();
            return CancelHook {
                token: Weak::new(),
                id: 0,
            };
        }
        hooks.next_id += 1;
        let id = hooks.next_id;
        hooks.list.push((id, Box::new(hook)));
        CancelHook {
            token: Arc::downgrade(&self.0),
            id,
        }
    }
}

/// Keeps a hook registered; dropping it unregisters the hook.
pub struct CancelHook {
    token: Weak<Inner>,
    id: u64,
}

impl Drop for CancelHook {
    fn drop(&mut self) {
        if let Some(inner) = self.token.upgrade() {
            lock(&inner.hooks).list.retain(|(id, _)| *id != self.id);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn hooks_run_once_and_unregister() {
        let t = CancelToken::new();
        let n = Arc::new(AtomicUsize::new(0));
        let n1 = n.clone();
        let kept = t.on_cancel(move || {
            n1.fetch_add(1, Ordering::SeqCst);
        });
        let n2 = n.clone();
        drop(t.on_cancel(move || {
            n2.fetch_add(10, Ordering::SeqCst);
        }));
        t.cancel();
        t.cancel();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        drop(kept);
        let n3 = n.clone();
        let _late = t.on_cancel(move || {
            n3.fetch_add(100, Ordering::SeqCst);
        });
        assert_eq!(n.load(Ordering::SeqCst), 101);
    }

    #[test]
    fn children_follow_parents() {
        let parent = CancelToken::new();
        let child = parent.child();
        let other = parent.child();
        other.cancel();
        assert!(!parent.is_cancelled() && !child.is_cancelled());
        parent.cancel();
        assert!(child.is_cancelled());
    }
}
