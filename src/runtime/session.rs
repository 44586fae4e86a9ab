//! One conversation session, and its owner: the select loop that drives the agent core with
//! transport input, playback reports and engine results, and hands each of the agent's outputs
//! to [`Dispatch`], which carries it out without ever awaiting a full queue. The loop never runs
//! a model: each microphone frame goes to the voice activity model's own thread (`vad_worker`)
//! and reaches the agent when it comes back scored, the frame first and then its chunks' speech
//! probabilities, at the same sample clock as if the model had run inline. When the input ends,
//! the frames still being scored are handled before the session ends. When it ends, everything
//! it started is stopped: every outstanding job cancelled, every worker (the VAD's included)
//! joined, every engine (and the LLM process) dropped before [`run_session`] returns.
//!
//! The rest of a session lives beside this file: `dispatch` (where outputs go and results come
//! back), `engine_workers` (one thread per engine), `vad_worker` (the voice activity model's
//! thread), `llm_exchange` (the model's replies and memory), `reply_audio` and
//! `backchannel_audio` (speech the agent never holds), `cue_feed` (the user's non-verbal cues).

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::dispatch::Dispatch;
use super::engine_result::EngineResult;
use super::engine_workers::Workers;
use super::engines::Engines;
use super::io::{SessionEventKind, SessionIo, TransportIn};
use super::vad_worker::ScoredFrame;
use super::workers::any_room;
use crate::agent::{Agent, AgentConfig, ChunkText, Input, Output};
use crate::text::SentenceChunker;

/// Results from all engines to the session (tokens stream through here). When full, the
/// worker waits until the session catches up (the session never waits on a worker).
const ENGINE_RESULT_CAPACITY: usize = 256;

/// The streaming sentence chunker, as the agent's source of speakable chunks.
struct Chunker(SentenceChunker);

impl ChunkText for Chunker {
    fn push(&mut self, text: &str) -> Vec<String> {
        self.0.push(text).into_iter().map(|c| c.text).collect()
    }
    fn finish(&mut self) -> Vec<String> {
        self.0.finish().into_iter().map(|c| c.text).collect()
    }
}

/// Runs a session until the transport closes its input (or a queue to it closes). When it
/// returns, every job it started is cancelled, every worker thread joined and every engine
/// dropped (so a server can count the session's slot free).
pub async fn run_session(config: AgentConfig, engines: Engines, io: SessionIo) {
    let SessionIo {
        mut input,
        output,
        control,
        mut progress,
        events,
        status,
    } = io;
    let (results_tx, mut results) = mpsc::channel::<EngineResult>(ENGINE_RESULT_CAPACITY);
    let (workers, mut vad) = Workers::spawn(engines, results_tx);
    let mut dispatch = Dispatch::new(workers, output, control, events.clone(), status.clone());

    let chunker = config.chunker;
    let mut agent = Agent::new(config, move || {
        Box::new(Chunker(SentenceChunker::new(chunker))) as Box<dyn ChunkText>
    });
    let mut now = 0u64;
    let mut input_open = true;
    let mut progress_open = true;

    loop {
        let mut handled_audio = false;
        let mut finished_job = false;
        let mut vad_open = true;
        // Sleeps until something happens: input, a scored frame, a report, a result, or room
        // for what waits.
        let mut rooms = Vec::new();
        dispatch.workers.rooms(&mut rooms);
        rooms.extend(dispatch.playback.room());
        rooms.extend(vad.room());
        let waiting = !rooms.is_empty();
        tokio::select! {
            // A frame is taken only when the VAD thread has room for it; the transport's own
            // queue fills behind.
            message = input.recv(), if input_open && vad.takes_frames() => match message {
                None => {
                    // The frames already with the VAD thread still come back and are handled.
                    input_open = false;
                    vad.end_input();
                }
                Some(TransportIn::Audio(frame)) => vad_open = vad.send(frame),
            },
            scored = vad.next() => match scored {
                None => {
                    if input_open {
                        tracing::warn!("the VAD worker is gone; ending the session");
                    }
                    break;
                }
                Some(ScoredFrame { frame, chunks }) => {
                    // The sample clock moves with the audio the agent gets, as if the model
                    // had run inline: the frame, then the scores of the chunks it completed.
                    handled_audio = true;
                    now += frame.len() as u64;
                    dispatch.cues.push(&frame);
                    agent.handle(now, Input::Audio(frame));
                    for (start, p) in chunks {
                        match p {
                            Ok(probability) => agent.handle(now, Input::Vad { start, probability }),
                            Err(e) => tracing::error!("VAD failed: {e}"),
                        }
                    }
                }
            },
            changed = progress.changed(), if progress_open => match changed {
                Ok(()) => {
                    let report = *progress.borrow_and_update();
                    agent.handle(now, Input::Played(report));
                }
                Err(_) => progress_open = false,
            },
            Some(result) = results.recv() => {
                finished_job = result.job_done;
                match dispatch.take_result(now, result) {
                    Ok(Some(input)) => agent.handle(now, input),
                    Ok(None) => {}
                    Err(_fatal) => break,
                }
            }
            () = any_room(rooms), if waiting => {}
        }
        if agent.next_deadline().is_some_and(|d| d <= now) {
            agent.handle(now, Input::Tick);
        }
        let mut open = vad_open && dispatch.workers.pump() && dispatch.playback.pump();
        dispatch.events.pump();
        while let Some(output) = agent.poll() {
            match dispatch.carry_out(now, output) {
                Ok(Some(answer)) => agent.handle(now, answer),
                Ok(None) => {}
                Err(_closed) => open = false,
            }
        }
        if !open {
            tracing::warn!("a session queue closed; ending the session");
            break;
        }
        status.busy.store(agent.is_busy(), Ordering::SeqCst);
        // Counted only now, after the effects were dispatched, so that a transport waiting for
        // quiet never sees zero between a result and the jobs it causes; a frame only once the
        // agent has had it and its scores (not when it went to the VAD thread).
        if finished_job {
            status.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        if handled_audio {
            status.frames_handled.fetch_add(1, Ordering::SeqCst);
        }
    }
    agent.end();
    while let Some(output) = agent.poll() {
        if let Output::Event(event) = output {
            dispatch.record(now, SessionEventKind::Agent(event));
        }
    }
    drop(results);
    vad.close().await;
    dispatch.close(events).await;
}
