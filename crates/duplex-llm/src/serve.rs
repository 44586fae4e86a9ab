//! The worker's request loop: a reader thread for stdin, the engine on the main thread.
//!
//! The reader thread parses each line as it arrives. A `cancel` is acted on at once (it raises an
//! atomic that the generation loop checks between tokens); every other request is queued for the
//! main thread, which runs them one at a time. When stdin closes (the parent exited or dropped
//! its handle) the queue ends and the worker exits: it never outlives its client.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use duplex_llm_protocol::{Event, Request, to_line};

use crate::engine::Engine;

/// Requests read but not yet started. When full, the reader thread stops reading stdin (the
/// client is then blocked writing, which it never is in practice: it sends one request at a
/// time). Cancels bypass this queue.
const REQUEST_QUEUE_CAPACITY: usize = 16;

/// Writes events to stdout, one line each, flushed at once. Shared by the reader thread (for
/// errors about unreadable lines) and the main thread.
#[derive(Clone)]
pub struct Output(Arc<Mutex<std::io::Stdout>>);

impl Output {
    /// The process's stdout.
    pub fn stdout() -> Self {
        Self(Arc::new(Mutex::new(std::io::stdout())))
    }

    /// Sends one event. If the client is gone there is no one left to serve: exit.
    pub fn send(&self, event: &Event) {
        let line = to_line(event);
        let mut out = match self.0.lock() {
            Ok(out) => out,
            Err(poisoned) => poisoned.into_inner(),
        };
        if out
            .write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            std::process::exit(0);
        }
    }
}

/// Starts the stdin reader; returns the queue of requests (each with the time it was read) and
/// the highest id cancelled so far.
fn spawn_reader(out: Output) -> (Receiver<(Request, Instant)>, Arc<AtomicU64>) {
    let (tx, rx) = sync_channel(REQUEST_QUEUE_CAPACITY);
    let cancelled = Arc::new(AtomicU64::new(0));
    let flag = cancelled.clone();
    std::thread::Builder::new()
        .name("llm-stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Request>(&line) {
                    // Ids increase: cancelling `id` also covers any earlier request.
                    Ok(Request::Cancel { id }) => {
                        flag.fetch_max(id, Ordering::AcqRel);
                    }
                    Ok(request) => {
                        if tx.send((request, Instant::now())).is_err() {
                            break;
                        }
                    }
                    Err(e) => out.send(&Event::Error {
                        id: None,
                        message: format!("unreadable request line ({e}): {line}"),
                    }),
                }
            }
        })
        .expect("spawning the stdin reader thread");
    (rx, cancelled)
}

/// Serves requests until stdin closes.
pub fn serve(engine: &mut Engine<'_>, out: &Output) {
    let (requests, cancelled) = spawn_reader(out.clone());
    for (request, received) in requests {
        match request {
            Request::Generate {
                id,
                messages,
                sampling,
            } => {
                let mut emit = |e: Event| out.send(&e);
                let result =
                    engine.generate(id, &messages, &sampling, received, &cancelled, &mut emit);
                if let Err(message) = result {
                    out.send(&Event::Error {
                        id: Some(id),
                        message,
                    });
                }
            }
            Request::Prefill { id, messages } => match engine.prefill(&messages) {
                Ok((n_past, prefilled)) => out.send(&Event::Ready {
                    id,
                    n_past,
                    prefilled,
                    ms: received.elapsed().as_secs_f64() * 1000.0,
                }),
                Err(message) => out.send(&Event::Error {
                    id: Some(id),
                    message,
                }),
            },
            Request::Reset { id } => {
                engine.reset();
                out.send(&Event::Ready {
                    id,
                    n_past: 0,
                    prefilled: 0,
                    ms: received.elapsed().as_secs_f64() * 1000.0,
                });
            }
            // Handled by the reader thread.
            Request::Cancel { .. } => {}
        }
    }
}
