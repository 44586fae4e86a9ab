//! A language-model backend that comes back after its worker dies.
//!
//! The embedded model runs in a child process, which can crash, be killed (by the user, or by
//! the kernel when memory runs out) or hang. [`RevivingBackend`] notices before each request
//! (a dead process, or a fatal error from the last one), starts a new backend, and leaves a
//! notice for the user. Repeated failures wait longer before each restart, and after
//! [`RevivePolicy::max_restarts`] within [`RevivePolicy::window`] it gives up with
//! [`LlmError::GaveUp`], so that a session ends with a clear message instead of silence.
//!
//! The new worker's cache is empty; the conversation is given back to it by the next request
//! (a prefill or a generation sends the whole history), see
//! [`TurnManager::recover`](super::turns::TurnManager::recover).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use duplex_core::cancel::CancelToken;
use duplex_llm_protocol::{Sampling, WireMessage as ChatMessage};

use super::backend::{EventSource, LlmBackend, LlmEvent, TokenStream};
use super::error::LlmError;

/// When to restart and when to give up.
#[derive(Debug, Clone)]
pub struct RevivePolicy {
    /// The wait before the first, second, ... restart within the window (the last repeats).
    pub backoff: Vec<Duration>,
    /// Restarts allowed within [`window`](Self::window); one more failure gives up.
    pub max_restarts: usize,
    /// How far back restarts count.
    pub window: Duration,
}

impl Default for RevivePolicy {
    /// The first restart at once (the user is waiting for an answer), then 1 s and 4 s; three
    /// restarts in five minutes mean something is wrong that restarting does not fix.
    fn default() -> Self {
        Self {
            backoff: vec![
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(4),
            ],
            max_restarts: 3,
            window: Duration::from_secs(300),
        }
    }
}

/// Starts a fresh backend (a new worker process).
pub type StartBackend = Box<dyn FnMut() -> Result<Box<dyn LlmBackend>, LlmError> + Send>;

/// A backend restarted when it dies; see the module doc.
pub struct RevivingBackend {
    start: StartBackend,
    policy: RevivePolicy,
    inner: Option<Box<dyn LlmBackend>>,
    /// Why the current backend cannot serve: the fatal error of its last request.
    failure: Option<String>,
    /// When each restart within the window happened, oldest first.
    restarts: VecDeque<Instant>,
    notices: Vec<String>,
}

impl RevivingBackend {
    /// Starts the first backend; an error here (a missing model, a missing worker) is returned
    /// as it is, since restarting would not fix it.
    pub fn start(policy: RevivePolicy, mut start: StartBackend) -> Result<Self, LlmError> {
        let inner = start()?;
        Ok(Self {
            start,
            policy,
            inner: Some(inner),
            failure: None,
            restarts: VecDeque::new(),
            notices: Vec::new(),
        })
    }

    /// Restarts within the policy's window so far.
    pub fn recent_restarts(&mut self) -> usize {
        self.forget_old_restarts();
        self.restarts.len()
    }

    fn forget_old_restarts(&mut self) {
        let window = self.policy.window;
        while self.restarts.front().is_some_and(|t| t.elapsed() > window) {
            self.restarts.pop_front();
        }
    }

    /// The live backend: the current one, or a new one if it has died.
    fn live(&mut self) -> Result<&mut Box<dyn LlmBackend>, LlmError> {
        let healthy = self.failure.is_none() && self.inner.as_mut().is_some_and(|b| b.is_alive());
        if !healthy {
            let cause = self
                .failure
                .take()
                .unwrap_or_else(|| "its process exited".to_owned());
            // Dropped first: the dead process is reaped before a new one takes its memory.
            self.inner = None;
            self.inner = Some(self.restart(cause)?);
        }
        Ok(self.inner.as_mut().expect("a live backend"))
    }

    /// Starts backends with back-off until one starts or the policy gives up.
    fn restart(&mut self, mut cause: String) -> Result<Box<dyn LlmBackend>, LlmError> {
        loop {
            let done = self.recent_restarts();
            if done >= self.policy.max_restarts {
                return Err(LlmError::GaveUp {
                    restarts: done,
                    minutes: self.policy.window.as_secs_f64() / 60.0,
                    cause,
                });
            }
            let wait = self.policy.backoff.get(done).or(self.policy.backoff.last());
            std::thread::sleep(wait.copied().unwrap_or_default());
            self.restarts.push_back(Instant::now());
            tracing::warn!(restart = done + 1, %cause, "restarting the LLM worker");
            match (self.start)() {
                Ok(backend) => {
                    self.notices.push(format!(
                        "the language model stopped ({cause}) and was restarted (restart {} \
                         within {:.0} min); it has the conversation so far",
                        done + 1,
                        self.policy.window.as_secs_f64() / 60.0
                    ));
                    return Ok(backend);
                }
                Err(e) => cause = e.to_string(),
            }
        }
    }
}

impl LlmBackend for RevivingBackend {
    fn describe(&self) -> String {
        match &self.inner {
            Some(inner) => format!("{} (restarted if it dies)", inner.describe()),
            None => "a language model being restarted".to_owned(),
        }
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        cancel: &CancelToken,
    ) -> Result<TokenStream<'_>, LlmError> {
        self.live()?;
        let Self { inner, failure, .. } = self;
        let inner = inner.as_mut().expect("a live backend");
        match inner.generate(messages, sampling, cancel) {
            Ok(stream) => Ok(TokenStream::new(Watched { stream, failure })),
            Err(e) => {
                note_failure(failure, &e);
                Err(e)
            }
        }
    }

    fn prefill(&mut self, messages: &[ChatMessage]) -> Result<(), LlmError> {
        let result = self.live()?.prefill(messages);
        if let Err(e) = &result {
            note_failure(&mut self.failure, e);
        }
        result
    }

    fn process_id(&self) -> Option<u32> {
        self.inner.as_ref().and_then(|b| b.process_id())
    }

    fn is_alive(&mut self) -> bool {
        self.failure.is_none() && self.inner.as_mut().is_some_and(|b| b.is_alive())
    }

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }
}

/// Marks the backend for restart when `error` says it is gone.
fn note_failure(failure: &mut Option<String>, error: &LlmError) {
    if error.is_fatal() {
        *failure = Some(error.to_string());
    }
}

/// A generation whose fatal error marks its backend for restart.
struct Watched<'a> {
    stream: TokenStream<'a>,
    failure: &'a mut Option<String>,
}

impl EventSource for Watched<'_> {
    fn next_event(&mut self) -> Result<LlmEvent, LlmError> {
        let event = self.stream.next().unwrap_or_else(|| {
            Err(LlmError::Protocol(
                "the stream ended without a done event".into(),
            ))
        });
        if let Err(e) = &event {
            note_failure(self.failure, e);
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::llm::backend::Finish;
    use duplex_llm_protocol::FinishReason;

    /// A worker whose process "dies" when `dead` is set, and whose next reply breaks off after
    /// one token when `crash_next` is set; it records the length of each prefill.
    struct Scripted {
        dead: Arc<AtomicBool>,
        crash_next: Arc<AtomicBool>,
        prefilled: Arc<Mutex<Vec<usize>>>,
    }

    struct Reply(Vec<LlmEvent>);

    impl EventSource for Reply {
        fn next_event(&mut self) -> Result<LlmEvent, LlmError> {
            if self.0.is_empty() {
                return Err(LlmError::Protocol("the worker wrote garbage".into()));
            }
            Ok(self.0.remove(0))
        }
    }

    impl LlmBackend for Scripted {
        fn describe(&self) -> String {
            "scripted".into()
        }
        fn generate(
            &mut self,
            _: &[ChatMessage],
            _: &Sampling,
            _: &CancelToken,
        ) -> Result<TokenStream<'_>, LlmError> {
            let done = LlmEvent::Done(Finish {
                reason: FinishReason::Stop,
                delivered_tokens: 1,
                worker: None,
            });
            let events = if self.crash_next.swap(false, Ordering::SeqCst) {
                vec![LlmEvent::Token("Half".into())]
            } else {
                vec![LlmEvent::Token("Hello.".into()), done]
            };
            Ok(TokenStream::new(Reply(events)))
        }
        fn prefill(&mut self, messages: &[ChatMessage]) -> Result<(), LlmError> {
            self.prefilled.lock().unwrap().push(messages.len());
            Ok(())
        }
        fn is_alive(&mut self) -> bool {
            !self.dead.load(Ordering::SeqCst)
        }
    }

    struct Stand {
        dead: Arc<AtomicBool>,
        crash_next: Arc<AtomicBool>,
        prefilled: Arc<Mutex<Vec<usize>>>,
        starts: Arc<AtomicUsize>,
        backend: RevivingBackend,
    }

    /// A reviving backend over [`Scripted`] workers; restarts 1..=`failing_starts` fail.
    fn stand(policy: RevivePolicy, failing_starts: usize) -> Stand {
        let dead = Arc::new(AtomicBool::new(false));
        let crash_next = Arc::new(AtomicBool::new(false));
        let prefilled = Arc::new(Mutex::new(Vec::new()));
        let starts = Arc::new(AtomicUsize::new(0));
        let (d, c, p, s) = (
            dead.clone(),
            crash_next.clone(),
            prefilled.clone(),
            starts.clone(),
        );
        let backend = RevivingBackend::start(
            policy,
            Box::new(move || {
                let n = s.fetch_add(1, Ordering::SeqCst);
                if n > 0 && n <= failing_starts {
                    return Err(LlmError::Worker("cannot load the model".into()));
                }
                d.store(false, Ordering::SeqCst);
                Ok(Box::new(Scripted {
                    dead: d.clone(),
                    crash_next: c.clone(),
                    prefilled: p.clone(),
                }) as Box<dyn LlmBackend>)
            }),
        )
        .unwrap();
        Stand {
            dead,
            crash_next,
            prefilled,
            starts,
            backend,
        }
    }

    fn quick() -> RevivePolicy {
        RevivePolicy {
            backoff: vec![Duration::ZERO, Duration::from_millis(5)],
            max_restarts: 3,
            window: Duration::from_secs(60),
        }
    }

    fn msg(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }

    fn say(backend: &mut RevivingBackend) -> Result<String, LlmError> {
        let messages = [msg("user", "hi")];
        let stream = backend.generate(&messages, &Sampling::default(), &CancelToken::new())?;
        stream.collect_text(&mut |_| {}).map(|(text, _)| text)
    }

    #[test]
    fn a_worker_dead_between_requests_is_restarted_with_a_notice() {
        let mut s = stand(quick(), 0);
        assert_eq!(say(&mut s.backend).unwrap(), "Hello.");
        assert_eq!(s.starts.load(Ordering::SeqCst), 1);
        s.dead.store(true, Ordering::SeqCst);
        assert!(!s.backend.is_alive());
        assert_eq!(
            say(&mut s.backend).unwrap(),
            "Hello.",
            "answered by a new worker"
        );
        assert_eq!(s.starts.load(Ordering::SeqCst), 2);
        let notices = s.backend.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].contains("restarted"), "{notices:?}");
        assert!(
            s.backend.take_notices().is_empty(),
            "a notice is given once"
        );
    }

    #[test]
    fn a_reply_broken_off_by_a_fatal_error_restarts_the_worker_for_the_history() {
        let mut s = stand(quick(), 0);
        s.crash_next.store(true, Ordering::SeqCst);
        let error = say(&mut s.backend).unwrap_err();
        assert!(error.is_fatal(), "{error}");
        // Its process still runs, but the worker is not trusted again.
        assert!(!s.dead.load(Ordering::SeqCst));
        assert!(!s.backend.is_alive());
        let history = [
            msg("system", "be brief"),
            msg("user", "hi"),
            msg("assistant", "Half"),
        ];
        s.backend.prefill(&history).unwrap();
        assert_eq!(s.starts.load(Ordering::SeqCst), 2);
        assert_eq!(
            *s.prefilled.lock().unwrap(),
            vec![3],
            "the history, into the new worker"
        );
        assert_eq!(say(&mut s.backend).unwrap(), "Hello.");
        assert_eq!(s.starts.load(Ordering::SeqCst), 2, "no further restart");
    }

    #[test]
    fn repeated_failures_give_up_with_a_clear_error() {
        let mut s = stand(quick(), 10);
        s.dead.store(true, Ordering::SeqCst);
        let error = say(&mut s.backend).unwrap_err();
        assert!(
            matches!(error, LlmError::GaveUp { restarts: 3, .. }),
            "{error}"
        );
        assert!(error.is_fatal());
        assert!(
            error.to_string().contains("cannot load the model"),
            "{error}"
        );
        assert_eq!(
            s.starts.load(Ordering::SeqCst),
            4,
            "the first start and 3 restarts"
        );
    }

    #[test]
    fn restarts_older_than_the_window_do_not_count() {
        let policy = RevivePolicy {
            window: Duration::from_millis(30),
            max_restarts: 1,
            ..quick()
        };
        let mut s = stand(policy, 0);
        for _ in 0..3 {
            s.dead.store(true, Ordering::SeqCst);
            assert_eq!(say(&mut s.backend).unwrap(), "Hello.");
            std::thread::sleep(Duration::from_millis(40));
        }
        assert_eq!(s.starts.load(Ordering::SeqCst), 4);
    }
}
