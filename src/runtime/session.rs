//! One conversation session: the agent core driven by transport input and engine results, its
//! effects dispatched to the engine workers and the transport.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::llm::CancelToken;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;

use super::engines::Engines;
use super::workers::spawn_worker;
use super::{ENGINE_RESULT_CAPACITY, EngineError};
use crate::agent::{Agent, AgentConfig, AgentEvent, ChunkText, Input, Output, RequestId, TurnId};
use crate::audio::frames::Rechunker;
use crate::text::SentenceChunker;
use crate::vad::VAD_CHUNK;

/// From the transport to the session.
#[derive(Debug)]
pub enum TransportIn {
    /// The next microphone samples (16 kHz mono, normally one 20 ms frame).
    Audio(Vec<f32>),
    /// Total samples of agent speech played so far.
    Played(u64),
}

/// From the session to the transport.
#[derive(Debug)]
pub enum TransportOut {
    /// Queue 16 kHz speech after whatever is queued.
    Play(Vec<f32>),
    /// Drop everything queued, now.
    Flush,
}

/// A recorded event: what happened, at which input sample, and when on the wall clock.
#[derive(Debug, Clone, Serialize)]
pub struct SessionEvent {
    /// Input sample position when it happened.
    pub at: u64,
    /// Milliseconds since the session started (wall clock, for metrics only).
    pub wall_ms: f64,
    /// What happened.
    #[serde(flatten)]
    pub kind: SessionEventKind,
}

/// What a [`SessionEvent`] records.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SessionEventKind {
    /// A milestone of the agent core.
    Agent(AgentEvent),
    /// Wall-clock cost of one engine job.
    Cost {
        /// The stage.
        stage: &'static str,
        /// The turn it served, if any.
        turn: Option<TurnId>,
        /// Milliseconds it took (for the LLM: to the first token).
        cost_ms: f64,
    },
    /// An engine failed; the session goes on.
    EngineFailed {
        /// The error.
        error: String,
    },
}

/// Shared counters a transport may read (e.g. to feed input only when the engines are idle).
#[derive(Debug, Default)]
pub struct SessionStatus {
    /// Engine jobs dispatched and not yet answered.
    pub in_flight: AtomicUsize,
    /// Whether a user turn or a reply is in progress.
    pub busy: AtomicBool,
    /// Audio messages fully handled (their effects dispatched).
    pub frames_handled: AtomicU64,
}

/// The channels connecting a session to its transport and its event recorder.
pub struct SessionIo {
    /// Audio and playback progress from the transport.
    pub input: mpsc::Receiver<TransportIn>,
    /// Playback commands to the transport.
    pub output: mpsc::Sender<TransportOut>,
    /// Events for the recorder.
    pub events: mpsc::Sender<SessionEvent>,
    /// Counters shared with the transport.
    pub status: Arc<SessionStatus>,
}

/// A result coming back from a worker.
struct EngineResult {
    input: Option<Input>,
    cost: Option<(&'static str, Option<TurnId>, f64)>,
    error: Option<EngineError>,
    /// Whether this ends a job (token results do not).
    job_done: bool,
}

impl EngineResult {
    /// The result that ends a job of `stage` begun at `started`.
    fn done(
        stage: &'static str,
        turn: Option<TurnId>,
        started: Instant,
        input: Input,
        error: Option<EngineError>,
    ) -> Self {
        Self {
            input: Some(input),
            cost: Some((stage, turn, millis(started))),
            error,
            job_done: true,
        }
    }
}

enum LlmJob {
    Generate {
        turn: TurnId,
        text: String,
        cancel: CancelToken,
    },
    Heard {
        text: String,
        interrupted: bool,
    },
    /// The turn's reply was dropped unheard.
    Retract {
        turn: TurnId,
    },
}

/// A transcription job: the request it answers, 16 kHz speech, and its cancel token.
type AsrJob = (RequestId, Vec<f32>, CancelToken);

struct Chunker(SentenceChunker);

impl ChunkText for Chunker {
    fn push(&mut self, text: &str) -> Vec<String> {
        self.0.push(text).into_iter().map(|c| c.text).collect()
    }
    fn finish(&mut self) -> Vec<String> {
        self.0.finish().into_iter().map(|c| c.text).collect()
    }
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Runs a session until the transport closes its input.
pub async fn run_session(config: AgentConfig, engines: Engines, mut io: SessionIo) {
    let started = Instant::now();
    let Engines {
        mut vad,
        mut asr,
        mut turn,
        mut llm,
        mut tts,
    } = engines;
    let (results_tx, mut results) = mpsc::channel::<EngineResult>(ENGINE_RESULT_CAPACITY);

    let tx = results_tx.clone();
    let asr_jobs = spawn_worker("asr", move |(request, audio, cancel): AsrJob| {
        let t = Instant::now();
        let (text, error) = match asr.transcribe(&audio, &cancel) {
            Ok(text) => (text, None),
            Err(e) => (String::new(), Some(e)),
        };
        let input = Input::Transcript { request, text };
        let _ = tx.blocking_send(EngineResult::done("asr", None, t, input, error));
    });
    let tx = results_tx.clone();
    let turn_jobs = spawn_worker("turn", move |(request, audio): (_, Vec<f32>)| {
        let t = Instant::now();
        let (probability, error) = match turn.score(&audio) {
            Ok(p) => (p, None),
            Err(e) => (0.0, Some(EngineError::new("turn", e))),
        };
        let input = Input::TurnScore {
            request,
            probability,
        };
        let _ = tx.blocking_send(EngineResult::done("turn", None, t, input, error));
    });
    let tx = results_tx.clone();
    // The turn whose exchange ends the LLM's history, if any (only that one may be retracted).
    let mut last_exchange: Option<TurnId> = None;
    let llm_jobs = spawn_worker("llm", move |job: LlmJob| match job {
        LlmJob::Heard { text, interrupted } => llm.heard(&text, interrupted),
        LlmJob::Retract { turn } => {
            if last_exchange.take() == Some(turn) {
                llm.retract();
            }
        }
        LlmJob::Generate { turn, text, cancel } => {
            let t = Instant::now();
            let mut first = true;
            let result = llm.respond(&text, &cancel, &mut |token| {
                let cost = first.then(|| ("llm_first_token", Some(turn), millis(t)));
                first = false;
                let input = Some(Input::LlmToken {
                    turn,
                    text: token.to_owned(),
                });
                let _ = tx.blocking_send(EngineResult {
                    input,
                    cost,
                    error: None,
                    job_done: false,
                });
            });
            last_exchange = result.is_ok().then_some(turn);
            let input = Input::LlmDone { turn };
            let done = EngineResult::done("llm_total", Some(turn), t, input, result.err());
            let _ = tx.blocking_send(done);
        }
    });
    let tx = results_tx.clone();
    let tts_jobs = spawn_worker(
        "tts",
        move |(turn, chunk, text, cancel): (TurnId, u32, String, CancelToken)| {
            let t = Instant::now();
            let (samples, error) = match tts.speak(&text, &cancel) {
                Ok(s) => (s, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            let input = Input::Synthesized {
                turn,
                chunk,
                samples,
            };
            let _ = tx.blocking_send(EngineResult::done("tts", Some(turn), t, input, error));
        },
    );
    drop(results_tx);

    let chunker = config.chunker;
    let mut agent = Agent::new(config, move || {
        Box::new(Chunker(SentenceChunker::new(chunker))) as Box<dyn ChunkText>
    });
    let mut now = 0u64;
    let mut rechunker = Rechunker::<VAD_CHUNK>::default();
    let mut cancels: HashMap<TurnId, CancelToken> = HashMap::new();
    let mut asr_cancels: HashMap<RequestId, CancelToken> = HashMap::new();
    let status = io.status.clone();

    loop {
        let mut handled_audio = false;
        let mut finished_job = false;
        tokio::select! {
            message = io.input.recv() => match message {
                None => break,
                Some(TransportIn::Audio(frame)) => {
                    handled_audio = true;
                    now += frame.len() as u64;
                    let mut probabilities = Vec::new();
                    rechunker.push(&frame, |start, chunk| {
                        probabilities.push((start, vad.probability(chunk)));
                    });
                    agent.handle(now, Input::Audio(frame));
                    for (start, p) in probabilities {
                        match p {
                            Ok(probability) => agent.handle(now, Input::Vad { start, probability }),
                            Err(e) => tracing::error!("VAD failed: {e}"),
                        }
                    }
                }
                Some(TransportIn::Played(total)) => agent.handle(now, Input::Played { total }),
            },
            Some(result) = results.recv() => {
                if let Some((stage, turn, cost_ms)) = result.cost {
                    let kind = SessionEventKind::Cost { stage, turn, cost_ms };
                    let _ = io.events.send(SessionEvent { at: now, wall_ms: millis(started), kind }).await;
                }
                if let Some(e) = result.error {
                    tracing::warn!("{e}");
                    let kind = SessionEventKind::EngineFailed { error: e.to_string() };
                    let _ = io.events.send(SessionEvent { at: now, wall_ms: millis(started), kind }).await;
                }
                if let Some(input) = result.input {
                    if let Input::Transcript { request, .. } = &input {
                        asr_cancels.remove(request);
                    }
                    agent.handle(now, input);
                }
                finished_job = result.job_done;
            }
        }
        if agent.next_deadline().is_some_and(|d| d <= now) {
            agent.handle(now, Input::Tick);
        }
        while let Some(output) = agent.poll() {
            let in_flight = &status.in_flight;
            let sent = match output {
                Output::Transcribe { request, audio } => {
                    let cancel = asr_cancels.entry(request).or_default().clone();
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    asr_jobs.send((request, audio, cancel)).await.is_ok()
                }
                Output::Abandon(request) => {
                    if let Some(token) = asr_cancels.remove(&request) {
                        token.cancel();
                    }
                    true
                }
                Output::ScoreTurn { request, audio } => {
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    turn_jobs.send((request, audio)).await.is_ok()
                }
                Output::Generate { turn, user_text } => {
                    let cancel = cancels.entry(turn).or_default().clone();
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let job = LlmJob::Generate {
                        turn,
                        text: user_text,
                        cancel,
                    };
                    llm_jobs.send(job).await.is_ok()
                }
                Output::Synthesize { turn, chunk, text } => {
                    let cancel = cancels.entry(turn).or_default().clone();
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    tts_jobs.send((turn, chunk, text, cancel)).await.is_ok()
                }
                Output::Play { samples, .. } => {
                    io.output.send(TransportOut::Play(samples)).await.is_ok()
                }
                Output::Flush => io.output.send(TransportOut::Flush).await.is_ok(),
                Output::Cancel(turn) => {
                    if let Some(token) = cancels.remove(&turn) {
                        token.cancel();
                    }
                    true
                }
                Output::Event(event) => {
                    if let AgentEvent::ReplyAbandoned { turn, .. } = &event {
                        let _ = llm_jobs.send(LlmJob::Retract { turn: *turn }).await;
                    }
                    if let AgentEvent::AssistantText {
                        text,
                        interrupted,
                        turn,
                        ..
                    } = &event
                    {
                        cancels.remove(turn);
                        let job = LlmJob::Heard {
                            text: text.clone(),
                            interrupted: *interrupted,
                        };
                        let _ = llm_jobs.send(job).await;
                    }
                    let kind = SessionEventKind::Agent(event);
                    io.events
                        .send(SessionEvent {
                            at: now,
                            wall_ms: millis(started),
                            kind,
                        })
                        .await
                        .is_ok()
                }
            };
            if !sent {
                tracing::warn!("a session queue closed; ending the session");
                return;
            }
        }
        status.busy.store(agent.is_busy(), Ordering::SeqCst);
        // Counted only now, after the effects were dispatched, so that a transport waiting for
        // quiet never sees zero between a result and the jobs it causes.
        if finished_job {
            status.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        if handled_audio {
            status.frames_handled.fetch_add(1, Ordering::SeqCst);
        }
    }
}
