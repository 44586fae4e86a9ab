//! One `duplex-llm` worker serving several conversations at once (`--sequences N`), driven
//! directly over its stdin/stdout protocol with the real SmolLM2 model: replies generated side by
//! side are the same as alone (greedy), their tokens interleave, a cancel stops only its own
//! request, and each sequence keeps its own warm KV cache. Also prints (does not assert) what two
//! replies at once cost next to one alone.

#[path = "llm_common.rs"]
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use duplex::llm::FinishReason;
use duplex::llm::protocol::{Event, Request, Sampling, WireMessage, WorkerStats, to_line};

/// One worker at a time: on 2 cores, parallel workers would slow each other down many times
/// over (and the timing would mean nothing).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The longest any single event may take (a loaded machine is slow, but never this slow).
const EVENT_TIMEOUT: Duration = Duration::from_secs(120);

/// A `duplex-llm` child process, killed on drop.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Event>,
}

impl Worker {
    /// Starts the worker with `args` (after `--model`) and waits for its `loaded` event.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(common::worker())
            .arg("--model")
            .arg(common::model())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting duplex-llm");
        let stdin = child.stdin.take().expect("stdin was piped");
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event: Event = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("unreadable worker line ({e}): {line}"));
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let mut worker = Self {
            child,
            stdin,
            events,
        };
        match worker.recv() {
            Event::Loaded { n_ctx, .. } => assert_eq!(n_ctx, 4096, "n_ctx of each sequence"),
            other => panic!("expected loaded, got {other:?}"),
        }
        worker
    }

    fn send(&mut self, request: &Request) {
        self.send_line(&to_line(request));
    }

    fn send_line(&mut self, line: &str) {
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
            .expect("writing to the worker");
    }

    fn recv(&mut self) -> Event {
        match self.events.recv_timeout(EVENT_TIMEOUT) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                panic!("the worker said nothing for {EVENT_TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => panic!("the worker exited"),
        }
    }

    /// Reads events until every one of `ids` has ended (`done`, `ready` or `error`).
    fn collect(&mut self, ids: &[u64]) -> Outcome {
        let mut outcome = Outcome::default();
        while ids.iter().any(|id| !outcome.ended.contains_key(id)) {
            let event = self.recv();
            match &event {
                Event::Token { id, text } => {
                    outcome.text.entry(*id).or_default().push_str(text);
                    outcome.order.push(*id);
                }
                Event::Done { id, .. } | Event::Ready { id, .. } => {
                    outcome.order.push(*id);
                    outcome.ended.insert(*id, event.clone());
                }
                Event::Error { id: Some(id), .. } => {
                    outcome.ended.insert(*id, event.clone());
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        outcome
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a set of requests produced.
#[derive(Debug, Default)]
struct Outcome {
    /// Reply text per request.
    text: HashMap<u64, String>,
    /// The request of each token (and of each end), in the order they arrived.
    order: Vec<u64>,
    /// The event that ended each request.
    ended: HashMap<u64, Event>,
}

impl Outcome {
    fn text(&self, id: u64) -> &str {
        self.text.get(&id).map_or("", String::as_str)
    }

    /// The reason and counters of generation `id`.
    fn done(&self, id: u64) -> (FinishReason, &WorkerStats) {
        match self.ended.get(&id) {
            Some(Event::Done { reason, stats, .. }) => (*reason, stats),
            other => panic!("request {id} ended with {other:?}"),
        }
    }

    /// Index in `order` of the first token of `id`, and of its end.
    fn span(&self, id: u64) -> (usize, usize) {
        let first = self.order.iter().position(|&i| i == id).expect("a token");
        let last = self.order.iter().rposition(|&i| i == id).expect("an end");
        (first, last)
    }
}

fn message(role: &str, content: &str) -> WireMessage {
    WireMessage {
        role: role.into(),
        content: content.into(),
    }
}

/// A conversation: a system prompt and one user turn.
fn conversation(system: &str, user: &str) -> Vec<WireMessage> {
    vec![message("system", system), message("user", user)]
}

/// A system prompt of well over one prefill chunk (64 tokens), so that its prefill is cut into
/// chunks and interleaved with the other sequence's tokens.
fn long_system_prompt() -> String {
    let mut prompt = String::from("You are a helpful assistant in a voice call.");
    for i in 1..=12 {
        prompt.push_str(&format!(
            " Rule {i}: answer in plain spoken words, kindly and without lists."
        ));
    }
    prompt
}

fn generate(id: u64, seq: u32, messages: &[WireMessage], sampling: &Sampling) -> Request {
    Request::Generate {
        id,
        seq,
        messages: messages.to_vec(),
        sampling: sampling.clone(),
    }
}

/// The two conversations of the tests, one per sequence.
fn two_conversations() -> [Vec<WireMessage>; 2] {
    [
        conversation(
            "You are a helpful assistant.",
            "Write a long essay about the history of Rome.",
        ),
        conversation(
            &long_system_prompt(),
            "Tell me a long story about a dragon and a knight.",
        ),
    ]
}

#[test]
fn replies_side_by_side_equal_replies_alone_and_interleave() {
    let _serial = serial();
    let sampling = common::greedy(48);
    let [a, b] = two_conversations();

    // Alone: one after the other, in a worker of two sequences.
    let mut worker = Worker::start(&["--sequences", "2"]);
    worker.send(&generate(1, 0, &a, &sampling));
    let alone_a = worker.collect(&[1]);
    worker.send(&generate(2, 1, &b, &sampling));
    let alone_b = worker.collect(&[2]);
    drop(worker);

    // A worker of one sequence (as duplex starts it) writes the same reply.
    let mut worker = Worker::start(&[]);
    worker.send(&generate(1, 0, &a, &sampling));
    assert_eq!(worker.collect(&[1]).text(1), alone_a.text(1));
    drop(worker);

    // Side by side: both requests written before anything is read.
    let mut worker = Worker::start(&["--sequences", "2"]);
    worker.send(&generate(1, 0, &a, &sampling));
    worker.send(&generate(2, 1, &b, &sampling));
    let together = worker.collect(&[1, 2]);
    eprintln!(
        "sequence 0: {:?}\nsequence 1: {:?}\norder: {:?}",
        together.text(1),
        together.text(2),
        together.order
    );
    for id in [1, 2] {
        let (reason, stats) = together.done(id);
        eprintln!("request {id}: {reason:?} {stats:?}");
        assert_eq!(reason, FinishReason::Length, "request {id} ended early");
    }
    assert_eq!(together.text(1), alone_a.text(1), "sequence 0 changed");
    assert_eq!(together.text(2), alone_b.text(2), "sequence 1 changed");
    assert!(!together.text(1).is_empty() && together.text(1) != together.text(2));

    // Interleaved: each got tokens before the other ended.
    let (first_a, end_a) = together.span(1);
    let (first_b, end_b) = together.span(2);
    assert!(first_a < end_b && first_b < end_a, "{:?}", together.order);
    let switches = together.order.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches > 20,
        "the streams barely interleave: {:?}",
        together.order
    );
}

#[test]
fn a_cancel_stops_only_its_own_request() {
    let _serial = serial();
    let [a, b] = two_conversations();
    let mut worker = Worker::start(&["--sequences", "2"]);
    worker.send(&generate(10, 0, &a, &common::greedy(300)));
    worker.send(&generate(11, 1, &b, &common::greedy(40)));
    // Cancel request 10 once both are under way.
    let mut seen = HashMap::<u64, u32>::new();
    while seen.len() < 2 || seen.values().any(|&n| n < 3) {
        if let Event::Token { id, .. } = worker.recv() {
            *seen.entry(id).or_default() += 1;
        }
    }
    worker.send(&Request::Cancel { id: 10 });
    // A generation still waiting behind 11 on sequence 1 stops at once, with nothing computed.
    worker.send(&generate(12, 1, &b, &common::greedy(40)));
    worker.send(&Request::Cancel { id: 12 });
    let rest = worker.collect(&[10, 11, 12]);

    let (reason, stats) = rest.done(10);
    eprintln!("cancelled: {reason:?} {stats:?}");
    assert_eq!(reason, FinishReason::Cancelled);
    // The worker stops before its next token; a few more may already have been on their way
    // (written before the cancel was read, read here after it was sent).
    let after_cancel = stats.generated_tokens - seen[&10];
    eprintln!("request 10: {after_cancel} tokens after the cancel was sent");
    assert!(
        after_cancel <= 4,
        "request 10 went on for {after_cancel} tokens after the cancel"
    );
    let (reason, stats) = rest.done(11);
    eprintln!("the other: {reason:?} {stats:?}");
    assert_eq!(reason, FinishReason::Length, "request 11 was stopped too");
    assert_eq!(stats.generated_tokens, 40);
    let (reason, stats) = rest.done(12);
    assert_eq!(reason, FinishReason::Cancelled);
    assert_eq!(stats.generated_tokens, 0);
    assert!(
        rest.span(12).1 < rest.span(11).1,
        "the queued request was not answered at once: {:?}",
        rest.order
    );

    // Both sequences go on serving.
    worker.send(&generate(13, 0, &a, &common::greedy(8)));
    worker.send(&generate(14, 1, &b, &common::greedy(8)));
    let next = worker.collect(&[13, 14]);
    assert_eq!(next.done(13).0, FinishReason::Length);
    assert_eq!(next.done(14).0, FinishReason::Length);
}

#[test]
fn each_sequence_keeps_its_own_cache() {
    let _serial = serial();
    let sampling = common::greedy(24);
    let [mut a, mut b] = two_conversations();
    let mut worker = Worker::start(&["--sequences", "2"]);

    // Turn 1 of both, side by side.
    worker.send(&generate(1, 0, &a, &sampling));
    worker.send(&generate(2, 1, &b, &sampling));
    let turn1 = worker.collect(&[1, 2]);
    let (_, a1) = turn1.done(1);
    let (_, b1) = turn1.done(2);
    a.push(message("assistant", turn1.text(1)));
    b.push(message("assistant", turn1.text(2)));

    // Turn 2 of sequence 1 first: everything up to its reply is cached.
    b.push(message("user", "And then what happened?"));
    worker.send(&generate(3, 1, &b, &sampling));
    let b2 = worker.collect(&[3]);
    let (_, b2) = b2.done(3);
    eprintln!("sequence 1, turn 1: {b1:?}\nsequence 1, turn 2: {b2:?}");
    assert!(b2.cached_tokens > 0);
    assert!(
        b2.cached_tokens >= b1.prompt_tokens + b1.generated_tokens - 1,
        "sequence 1 lost its cache: {b2:?}"
    );
    assert!(b2.prompt_tokens - b2.cached_tokens < 25, "{b2:?}");

    // Then sequence 0: untouched by sequence 1's work.
    a.push(message("user", "Tell me more about its emperors."));
    worker.send(&generate(4, 0, &a, &sampling));
    let a2 = worker.collect(&[4]);
    let (_, a2) = a2.done(4);
    eprintln!("sequence 0, turn 1: {a1:?}\nsequence 0, turn 2: {a2:?}");
    assert!(
        a2.cached_tokens >= a1.prompt_tokens + a1.generated_tokens - 1,
        "sequence 0 lost its cache: {a2:?}"
    );
    assert!(a2.prompt_tokens - a2.cached_tokens < 25, "{a2:?}");

    // A reset empties its own sequence only; a sequence that does not exist is an error; a
    // request without `seq` (an older client) goes to sequence 0.
    worker.send(&Request::Reset { id: 5, seq: 1 });
    worker.send(&generate(6, 1, &b, &sampling));
    worker.send(&generate(7, 2, &b, &sampling));
    let line = to_line(&generate(8, 0, &a, &sampling)).replace(r#","seq":0"#, "");
    assert!(!line.contains("seq"), "{line}");
    worker.send_line(&line);
    let after = worker.collect(&[5, 6, 7, 8]);
    assert!(matches!(after.ended[&5], Event::Ready { n_past: 0, .. }));
    assert_eq!(after.done(6).1.cached_tokens, 0, "sequence 1 was not reset");
    assert!(
        matches!(&after.ended[&7], Event::Error { message, .. } if message.contains("sequence 2")),
        "{:?}",
        after.ended[&7]
    );
    // The same prompt as request 4: all of it is cached (its last token is decoded again, for
    // its logits).
    let (_, a3) = after.done(8);
    eprintln!("sequence 0, request 4 again: {a3:?}");
    assert_eq!(a3.prompt_tokens, a2.prompt_tokens);
    assert!(
        a3.prompt_tokens - a3.cached_tokens <= 1,
        "sequence 0 was reset too: {a3:?}"
    );
}

/// Seconds for `count` replies of 64 tokens at once on sequences 0.., each after a prefilled
/// prompt (so that only generation is timed).
fn time_replies(worker: &mut Worker, count: u32, next_id: &mut u64) -> f64 {
    let conversations = two_conversations();
    let sampling = common::greedy(64);
    let start = Instant::now();
    let ids: Vec<u64> = (0..count)
        .map(|seq| {
            *next_id += 1;
            let request = generate(*next_id, seq, &conversations[seq as usize], &sampling);
            worker.send(&request);
            *next_id
        })
        .collect();
    let outcome = worker.collect(&ids);
    let seconds = start.elapsed().as_secs_f64();
    for id in ids {
        let (reason, stats) = outcome.done(id);
        assert_eq!(
            (reason, stats.generated_tokens),
            (FinishReason::Length, 64),
            "{stats:?}"
        );
    }
    seconds
}

#[test]
fn timing_of_two_replies_at_once() {
    let _serial = serial();
    // The worker's own thread defaults (as duplex starts it on this machine), then one thread
    // for everything: the gain of batching alone.
    for args in [
        &["--sequences", "2"][..],
        &["--sequences", "2", "--threads", "1", "--threads-batch", "1"][..],
    ] {
        let mut worker = Worker::start(args);
        let mut next_id = 0;
        // Warm both sequences' caches with their prompts.
        for (seq, messages) in two_conversations().iter().enumerate() {
            next_id += 1;
            worker.send(&Request::Prefill {
                id: next_id,
                seq: seq as u32,
                messages: messages.clone(),
            });
            worker.collect(&[next_id]);
        }
        let (mut alone, mut together) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            alone.push(time_replies(&mut worker, 1, &mut next_id));
            together.push(time_replies(&mut worker, 2, &mut next_id));
        }
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (alone, together) = (best(&alone), best(&together));
        eprintln!(
            "TIMING {args:?}: one reply of 64 tokens {:.0} ms, two at once {:.0} ms: {:.2}x \
             (two one after the other: 2.00x)",
            alone * 1000.0,
            together * 1000.0,
            together / alone
        );
    }
}
