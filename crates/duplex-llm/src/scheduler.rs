//! Continuous batching: which sequence decodes what, step by step.
//!
//! Each sequence (slot) runs its requests one after the other, in the order they were read;
//! different sequences run at the same time. One turn of the loop:
//!
//! 1. read every request that has arrived (waiting for one only when there is nothing to do);
//!    a `cancel` marks its generation, which stops before its next token (one still queued is
//!    answered `done`, `cancelled`, at once, with nothing computed);
//! 2. start the next request of every idle sequence: a `reset` is answered at once, a `prefill`
//!    or `generate` lines the sequence's cache up and leaves it tokens to decode (a feed);
//! 3. sample the next token of every running reply (each with its own sampler, from its own
//!    logits in the latest step), and send it;
//! 4. decode feeds: while replies run, one chunk of one feed (round robin), so a long prompt
//!    holds them back by one chunk per token at most; otherwise feeds until a reply starts. A
//!    reply's first token is sampled as soon as its prompt is in;
//! 5. decode the tokens of step 3 (and any first tokens of step 4) in one batch.
//!
//! Logits live until the next decode, so nothing is decoded between a decode and the sampling
//! that needs it: the step's logits are used in step 3 of the next turn, a prompt's right after
//! its last chunk. A request that fails gets an `error` and empties its own sequence only; a
//! failed step fails the replies in it.

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::Receiver;
use std::time::Instant;

use super::engine::{Engine, EngineError, Feed, StepToken};
use super::generation::{Generation, Step};
use super::serve::Output;
use crate::protocol::{Event, FinishReason, Request, WorkerStats};

/// A request waiting for its sequence.
struct Job {
    request: Request,
    /// When it was read.
    received: Instant,
}

/// What a sequence is busy with.
enum Work {
    /// Decoding tokens into the cache, then going on with `then`.
    Feeding { feeds: VecDeque<Feed>, then: Then },
    /// Writing a reply, one token per step.
    Replying(Box<Generation>),
}

/// What follows a sequence's feeds.
enum Then {
    /// Sample the reply (a `generate` whose prompt is in).
    Reply(Box<Generation>),
    /// Answer `ready` (a `prefill`).
    Ready {
        id: u64,
        received: Instant,
        n_past: u32,
        prefilled: u32,
    },
    /// Nothing: the closing tokens of request `id`'s finished reply.
    Closed { id: u64 },
}

impl Work {
    /// The generation this work runs, while it can still be cancelled.
    fn live_id(&self) -> Option<u64> {
        match self {
            Work::Replying(g)
            | Work::Feeding {
                then: Then::Reply(g),
                ..
            } => Some(g.id),
            Work::Feeding { .. } => None,
        }
    }
}

/// One sequence's queue and current work.
#[derive(Default)]
struct Slot {
    queue: VecDeque<Job>,
    work: Option<Work>,
}

/// The loop's state.
struct Scheduler<'a, 'm> {
    engine: &'a mut Engine<'m>,
    requests: Receiver<(Request, Instant)>,
    out: &'a Output,
    slots: Vec<Slot>,
    /// Running generations that a `cancel` named (each leaves the set when it ends, so the set
    /// never holds more than one id per sequence).
    cancelled: HashSet<u64>,
    /// The slot to look at first for the next feed chunk.
    next_feed: usize,
}

/// Serves the requests read into `requests` until the channel closes and all work is done.
pub fn run(engine: &mut Engine<'_>, requests: Receiver<(Request, Instant)>, out: &Output) {
    let slots = (0..engine.n_sequences()).map(|_| Slot::default()).collect();
    let mut scheduler = Scheduler {
        engine,
        requests,
        out,
        slots,
        cancelled: HashSet::new(),
        next_feed: 0,
    };
    loop {
        if scheduler.is_idle() {
            match scheduler.requests.recv() {
                Ok(request) => scheduler.admit(request),
                Err(_) => return,
            }
        }
        scheduler.take_in();
        scheduler.start_jobs();
        let mut step = Vec::new();
        scheduler.sample_replies(&mut step);
        scheduler.feed(&mut step);
        scheduler.decode_step(&mut step);
    }
}

impl Scheduler<'_, '_> {
    fn is_idle(&self) -> bool {
        self.slots
            .iter()
            .all(|s| s.work.is_none() && s.queue.is_empty())
    }

    fn send(&self, event: Event) {
        self.out.send(&event);
    }

    /// Takes in every request that has arrived, without waiting.
    fn take_in(&mut self) {
        while let Ok(request) = self.requests.try_recv() {
            self.admit(request);
        }
    }

    /// Cancels request `id`: a generation still queued is answered at once, with nothing
    /// computed; a running one is marked, and stops before its next token (or chunk of prompt).
    /// Anything else (finished, unknown, not a generation) is ignored.
    fn cancel(&mut self, id: u64) {
        for slot in &mut self.slots {
            let queued = slot.queue.iter().position(
                |j| matches!(j.request, Request::Generate { id: queued, .. } if queued == id),
            );
            if let Some(i) = queued {
                slot.queue.remove(i);
                self.send(Event::Done {
                    id,
                    reason: FinishReason::Cancelled,
                    stats: WorkerStats::default(),
                });
                return;
            }
        }
        let running = self
            .slots
            .iter()
            .any(|s| s.work.as_ref().and_then(Work::live_id) == Some(id));
        if running {
            self.cancelled.insert(id);
        }
    }

    /// Takes one request in: queues it for its sequence, or marks a cancel.
    fn admit(&mut self, (request, received): (Request, Instant)) {
        let seq = match &request {
            Request::Cancel { id } => {
                self.cancel(*id);
                return;
            }
            Request::Generate { seq, .. }
            | Request::Prefill { seq, .. }
            | Request::Reset { seq, .. } => *seq as usize,
        };
        match self.slots.get_mut(seq) {
            Some(slot) => slot.queue.push_back(Job { request, received }),
            None => self.send(Event::Error {
                id: Some(request_id(&request)),
                message: format!(
                    "sequence {seq} does not exist: this worker serves {} (start it with a \
                     larger --sequences)",
                    self.slots.len()
                ),
            }),
        }
    }

    /// Starts the next request of every idle sequence.
    fn start_jobs(&mut self) {
        for seq in 0..self.slots.len() {
            while self.slots[seq].work.is_none() {
                let Some(job) = self.slots[seq].queue.pop_front() else {
                    break;
                };
                self.slots[seq].work = self.start(seq, job);
            }
        }
    }

    /// Starts `job` on sequence `seq`; returns the work it leaves (none when it is answered).
    fn start(&mut self, seq: usize, job: Job) -> Option<Work> {
        let Job { request, received } = job;
        match request {
            Request::Reset { id, .. } => {
                self.engine.reset(seq);
                self.send(Event::Ready {
                    id,
                    n_past: 0,
                    prefilled: 0,
                    ms: ms_since(received),
                });
                None
            }
            Request::Prefill { id, messages, .. } => {
                match self.engine.line_up(seq, &messages, false) {
                    Ok(line_up) => {
                        let mut feeds = VecDeque::from([line_up.feed]);
                        let model = self.engine.model();
                        let n_ctx = self.engine.n_ctx() as usize;
                        feeds.extend(self.engine.sequence_mut(seq).plan_user_header(model, n_ctx));
                        let then = Then::Ready {
                            id,
                            received,
                            n_past: line_up.prompt,
                            prefilled: line_up.prompt - line_up.cached,
                        };
                        Some(Work::Feeding { feeds, then })
                    }
                    Err(message) => self.fail(id, message),
                }
            }
            Request::Generate {
                id,
                messages,
                sampling,
                ..
            } => match self.engine.line_up(seq, &messages, true) {
                Ok(line_up) => {
                    let generation =
                        Generation::new(id, received, &sampling, self.engine, seq, &line_up);
                    Some(Work::Feeding {
                        feeds: VecDeque::from([line_up.feed]),
                        then: Then::Reply(Box::new(generation)),
                    })
                }
                Err(message) => self.fail(id, message),
            },
            Request::Cancel { .. } => None,
        }
    }

    /// Answers request `id` with an error; returns no work.
    fn fail(&mut self, id: u64, message: EngineError) -> Option<Work> {
        self.cancelled.remove(&id);
        self.send(Event::Error {
            id: Some(id),
            message,
        });
        None
    }

    /// A request of sequence `seq` failed while its cache was being changed: empty the cache
    /// (it no longer matches its description) and answer with an error.
    fn fail_sequence(&mut self, seq: usize, id: u64, message: EngineError) {
        self.engine.reset(seq);
        self.slots[seq].work = None;
        self.fail(id, message);
    }

    /// Step 3: the next token of every running reply.
    fn sample_replies(&mut self, step: &mut Vec<StepToken>) {
        for seq in 0..self.slots.len() {
            if !matches!(self.slots[seq].work, Some(Work::Replying(_))) {
                continue;
            }
            if let Some(Work::Replying(generation)) = self.slots[seq].work.take() {
                self.advance_reply(seq, generation, step);
            }
        }
    }

    /// Samples one token of `generation` (whose logits are ready) and puts the slot's work back.
    fn advance_reply(
        &mut self,
        seq: usize,
        mut generation: Box<Generation>,
        step: &mut Vec<StepToken>,
    ) {
        let cancelled = self.cancelled.contains(&generation.id);
        let out = self.out;
        match generation.step(self.engine, seq, cancelled, &mut |e| out.send(&e)) {
            Ok(Step::Token(token)) => {
                step.push(token);
                self.slots[seq].work = Some(Work::Replying(generation));
            }
            Ok(Step::Finished(reason)) => self.finish_reply(seq, *generation, reason),
            Err(message) => self.fail_sequence(seq, generation.id, message),
        }
    }

    /// Sends the end of a reply; a finished one is then closed in the cache, off the critical
    /// path.
    fn finish_reply(&mut self, seq: usize, generation: Generation, reason: FinishReason) {
        let id = generation.id;
        self.cancelled.remove(&id);
        let out = self.out;
        if let Err(message) = generation.finish(self.engine, seq, reason, &mut |e| out.send(&e)) {
            self.fail_sequence(seq, id, message);
            return;
        }
        self.slots[seq].work = None;
        if reason == FinishReason::Stop {
            let model = self.engine.model();
            let n_ctx = self.engine.n_ctx() as usize;
            let feeds = self.engine.sequence_mut(seq).plan_close_reply(model, n_ctx);
            if !feeds.is_empty() {
                self.slots[seq].work = Some(Work::Feeding {
                    feeds: feeds.into(),
                    then: Then::Closed { id },
                });
            }
        }
    }

    /// The next sequence with a feed, round robin.
    fn next_feeding(&mut self) -> Option<usize> {
        let n = self.slots.len();
        let seq = (0..n)
            .map(|i| (self.next_feed + i) % n)
            .find(|&s| matches!(self.slots[s].work, Some(Work::Feeding { .. })))?;
        self.next_feed = (seq + 1) % n;
        Some(seq)
    }

    /// Step 4: decodes feeds; once replies run (their tokens are in `step`), one chunk at most.
    /// Requests are taken in after every chunk, so a cancel that comes during a long prompt
    /// stops it at the next chunk, before its first token.
    fn feed(&mut self, step: &mut Vec<StepToken>) {
        while let Some(seq) = self.next_feeding() {
            if self.advance_feed(seq, step) {
                if !step.is_empty() {
                    return;
                }
                self.take_in();
            }
        }
    }

    /// Moves sequence `seq`'s feeds on by one chunk, or on to what follows them; returns
    /// whether it decoded anything.
    fn advance_feed(&mut self, seq: usize, step: &mut Vec<StepToken>) -> bool {
        let Some(Work::Feeding { mut feeds, then }) = self.slots[seq].work.take() else {
            return false;
        };
        while feeds.front().is_some_and(Feed::is_done) {
            feeds.pop_front();
        }
        let Some(feed) = feeds.front_mut() else {
            self.resolve(seq, then, None, step);
            return false;
        };
        if let Then::Reply(generation) = &then
            && self.cancelled.contains(&generation.id)
        {
            // Cancelled while its prompt was going in: keep what is decoded, stop.
            let (id, decoded_to) = (generation.id, feed.decoded_to());
            let Then::Reply(generation) = then else {
                return false;
            };
            match self.engine.truncate(seq, decoded_to) {
                Ok(()) => self.finish_reply(seq, *generation, FinishReason::Cancelled),
                Err(message) => self.fail_sequence(seq, id, message),
            }
            return false;
        }
        let chunk = self.engine.feed_chunk();
        match self.engine.decode_feed(seq, feed, chunk) {
            Ok(logits) => {
                if feeds.iter().all(Feed::is_done) {
                    self.resolve(seq, then, logits, step);
                } else {
                    self.slots[seq].work = Some(Work::Feeding { feeds, then });
                }
            }
            Err(message) => {
                let id = match &then {
                    Then::Reply(g) => g.id,
                    Then::Ready { id, .. } | Then::Closed { id } => *id,
                };
                self.fail_sequence(seq, id, message);
            }
        }
        true
    }

    /// A sequence's feeds are all decoded: go on with what follows (a reply samples its first
    /// token now, from the logits at `logits`, before anything else is decoded).
    fn resolve(&mut self, seq: usize, then: Then, logits: Option<i32>, step: &mut Vec<StepToken>) {
        match then {
            Then::Reply(mut generation) => {
                generation.prefilled(logits.unwrap_or(0));
                self.advance_reply(seq, generation, step);
            }
            Then::Ready {
                id,
                received,
                n_past,
                prefilled,
            } => {
                self.send(Event::Ready {
                    id,
                    n_past,
                    prefilled,
                    ms: ms_since(received),
                });
            }
            Then::Closed { .. } => {}
        }
    }

    /// Step 5: decodes the step's tokens in one batch; each reply's next logits are at its
    /// token's index.
    fn decode_step(&mut self, step: &mut [StepToken]) {
        if step.is_empty() {
            return;
        }
        step.sort_by_key(|t| t.seq);
        match self.engine.decode_step(step) {
            Ok(()) => {
                for (index, t) in step.iter().enumerate() {
                    if let Some(Work::Replying(generation)) = &mut self.slots[t.seq].work {
                        generation.logits_index = index as i32;
                    }
                }
            }
            Err(message) => {
                for t in step.iter() {
                    if let Some(Work::Replying(generation)) = &self.slots[t.seq].work {
                        let id = generation.id;
                        self.fail_sequence(t.seq, id, message.clone());
                    }
                }
            }
        }
    }
}

/// The id of a request.
fn request_id(request: &Request) -> u64 {
    match request {
        Request::Generate { id, .. }
        | Request::Prefill { id, .. }
        | Request::Cancel { id }
        | Request::Reset { id, .. } => *id,
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
