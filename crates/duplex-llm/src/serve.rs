//! The worker's request loop: a reader thread for stdin, the engine on the main thread.
//!
//! The reader thread parses each line as it arrives and passes it on; the main thread takes in
//! everything that has arrived between two decode steps (`scheduler.rs`), so a `cancel` is
//! acted on within one step even while replies run. When stdin closes (the parent exited or
//! dropped its handle) the queue ends and the worker exits once the work in hand is done: it
//! never outlives its client.

use std::io::{BufRead, Write};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::engine::Engine;
use super::scheduler;
use crate::protocol::{Event, Request, to_line};

/// Requests read but not yet taken in by the main thread, which takes in all of them between
/// two decode steps. When full, the reader thread stops reading stdin (the client is then
/// blocked writing, which it never is in practice).
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

/// Starts the stdin reader; returns the queue of requests, each with the time it was read.
fn spawn_reader(out: Output) -> Receiver<(Request, Instant)> {
    let (tx, rx) = sync_channel(REQUEST_QUEUE_CAPACITY);
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
    rx
}

/// Serves requests until stdin closes and the work in hand is done.
pub fn serve(engine: &mut Engine<'_>, out: &Output) {
    scheduler::run(engine, spawn_reader(out.clone()), out);
}
