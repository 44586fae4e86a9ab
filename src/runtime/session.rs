//! One conversation session, and its owner: the agent core driven by transport input, playback
//! reports and engine results, its effects dispatched to the engine workers and the transport
//! without ever awaiting a full queue, and, when it ends, everything it started stopped: every
//! outstanding job cancelled, every worker joined, every engine (and the LLM process) dropped
//! before `run_session` returns.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use duplex_core::cancel::CancelToken;
use duplex_core::playback::ChunkId;
use tokio::sync::mpsc;

use super::cue_feed::CueFeed;
use super::engines::{EngineError, Engines};
use super::io::{PlayChunk, SessionEvent, SessionEventKind, SessionIo, TransportIn, TransportOut};
use super::reply_audio::ReplyAudio;
use super::workers::{Outbox, Worker};
use super::{ENGINE_RESULT_CAPACITY, EVENT_CAPACITY};
use crate::agent::{Agent, AgentConfig, AgentEvent, ChunkText, Input, Output, RequestId, TurnId};
use crate::audio::frames::Rechunker;
use crate::text::SentenceChunker;
use crate::vad::VAD_CHUNK;

/// A backchannel's level against the reply voice (about -10 dB: a listener's "mm-hm" is quiet).
const BACKCHANNEL_GAIN: f32 = 0.3;

/// How often the session retries outboxes that are waiting for room.
const OUTBOX_RETRY: Duration = Duration::from_millis(2);

/// A result coming back from a worker.
struct EngineResult {
    input: Option<Input>,
    /// A backchannel's speech: its words, rate and samples.
    backchannel: Option<(String, u32, Vec<f32>)>,
    /// A reply chunk's speech: its id, rate and samples (the core gets only its length).
    speech: Option<(ChunkId, u32, Vec<f32>)>,
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
            backchannel: None,
            speech: None,
            cost: Some((stage, turn, millis(started))),
            error,
            job_done: true,
        }
    }

    /// Something to tell the user about an engine, in the middle of a job.
    fn notice(notice: EngineError) -> Self {
        Self {
            input: None,
            backchannel: None,
            speech: None,
            cost: None,
            error: Some(notice),
            job_done: false,
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
        acknowledged: Vec<String>,
    },
    /// The turn's reply was dropped unheard.
    Retract { turn: TurnId },
}

/// A transcription job: the request it answers, 16 kHz speech, and its cancel token.
type AsrJob = (RequestId, Vec<f32>, CancelToken);

/// The voice activity model, run on the session's task.
type Vad = Box<dyn crate::vad::SpeechProbability + Send>;

/// A synthesis job.
enum TtsJob {
    /// A reply chunk: its turn and index, its text, the reply's pace (length factor) and the
    /// turn's cancel token.
    Chunk(TurnId, u32, String, f32, CancelToken),
    /// A backchannel's words (synthesized once, then kept by the session).
    Backchannel(String),
}

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

/// The engine workers of one session.
struct Workers {
    asr: Worker<AsrJob>,
    turn: Worker<(RequestId, Vec<f32>)>,
    llm: Worker<LlmJob>,
    tts: Worker<TtsJob>,
}

impl Workers {
    /// Starts a worker per engine; results go to `tx`. The VAD runs on the session's own task,
    /// so it is handed back.
    fn spawn(engines: Engines, tx: mpsc::Sender<EngineResult>) -> (Self, Vad) {
        let Engines {
            vad,
            mut asr,
            mut turn,
            mut llm,
            mut tts,
        } = engines;
        let results = tx.clone();
        let asr_worker = Worker::spawn_with("asr", move || {
            if let Err(e) = asr.prepare() {
                tracing::warn!("{e}; the first transcription tries again");
            }
            move |(request, audio, cancel): AsrJob| {
                let t = Instant::now();
                let (text, error) = match asr.transcribe(&audio, &cancel) {
                    Ok(text) => (text, None),
                    Err(e) => (String::new(), Some(e)),
                };
                let input = Input::Transcript { request, text };
                let _ = results.blocking_send(EngineResult::done("asr", None, t, input, error));
            }
        });
        let results = tx.clone();
        let turn_worker = Worker::spawn("turn", move |(request, audio): (_, Vec<f32>)| {
            let t = Instant::now();
            let (probability, error) = match turn.score(&audio) {
                Ok(p) => (p, None),
                Err(e) => (0.0, Some(EngineError::transient("turn", e))),
            };
            let input = Input::TurnScore {
                request,
                probability,
            };
            let _ = results.blocking_send(EngineResult::done("turn", None, t, input, error));
        });
        let results = tx.clone();
        // The turn whose exchange ends the LLM's history, if any (only that one may be retracted).
        let mut last_exchange: Option<TurnId> = None;
        let llm_worker = Worker::spawn("llm", move |job: LlmJob| match job {
            LlmJob::Heard {
                text,
                interrupted,
                acknowledged,
            } => llm.heard(&text, interrupted, &acknowledged),
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
                    let sent = results.blocking_send(EngineResult {
                        input,
                        backchannel: None,
                        speech: None,
                        cost,
                        error: None,
                        job_done: false,
                    });
                    if sent.is_err() {
                        cancel.cancel(); // the session is gone: stop generating
                    }
                });
                last_exchange = result.is_ok().then_some(turn);
                for notice in llm.notices() {
                    let _ = results.blocking_send(EngineResult::notice(notice));
                }
                let failed = result.is_err();
                let input = Input::LlmDone { turn, failed };
                let done = EngineResult::done("llm_total", Some(turn), t, input, result.err());
                let _ = results.blocking_send(done);
            }
        });
        let results = tx;
        let tts_worker = Worker::spawn("tts", move |job: TtsJob| match job {
            TtsJob::Chunk(turn, chunk, text, pace, cancel) => {
                let t = Instant::now();
                let rate = tts.rate();
                tts.set_pace(pace);
                let (samples, error) = match tts.speak(&text, &cancel) {
                    Ok(s) => (s, None),
                    Err(e) => (Vec::new(), Some(e)),
                };
                let input = Input::Synthesized {
                    turn,
                    chunk,
                    rate,
                    len: samples.len(),
                };
                let mut done = EngineResult::done("tts", Some(turn), t, input, error);
                done.speech = Some((ChunkId { turn, chunk }, rate, samples));
                let _ = results.blocking_send(done);
            }
            TtsJob::Backchannel(text) => {
                tts.set_pace(1.0);
                let (samples, error) = match tts.speak(&text, &CancelToken::new()) {
                    Ok(s) => (s, None),
                    Err(e) => (Vec::new(), Some(e)),
                };
                let _ = results.blocking_send(EngineResult {
                    input: None,
                    backchannel: Some((text, tts.rate(), samples)),
                    speech: None,
                    cost: None,
                    error,
                    job_done: true,
                });
            }
        });
        let workers = Self {
            asr: asr_worker,
            turn: turn_worker,
            llm: llm_worker,
            tts: tts_worker,
        };
        (workers, vad)
    }

    /// Moves waiting jobs on; false when a worker is gone.
    fn pump(&mut self) -> bool {
        self.asr.jobs.pump()
            && self.turn.jobs.pump()
            && self.llm.jobs.pump()
            && self.tts.jobs.pump()
    }

    fn waiting(&self) -> usize {
        self.asr.jobs.waiting()
            + self.turn.jobs.waiting()
            + self.llm.jobs.waiting()
            + self.tts.jobs.waiting()
    }

    /// Stops every worker and joins its thread (each drops its engine as it ends).
    async fn close(self) {
        let threads: Vec<_> = [
            self.asr.close(),
            self.turn.close(),
            self.llm.close(),
            self.tts.close(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                if thread.join().is_err() {
                    tracing::error!("an engine worker panicked");
                }
            }
        });
        if joined.await.is_err() {
            tracing::error!("could not join the engine workers");
        }
    }
}

/// The session's state besides the agent: cancel tokens, outboxes, the playback epoch.
struct Dispatch {
    workers: Workers,
    playback: Outbox<TransportOut>,
    events: Outbox<SessionEvent>,
    control: std::sync::Arc<super::io::PlaybackControl>,
    epoch: u64,
    cancels: HashMap<TurnId, CancelToken>,
    asr_cancels: HashMap<RequestId, CancelToken>,
    /// The voice's pace for each reply in progress (its length factor; 1.0: the voice's own).
    paces: HashMap<TurnId, f32>,
    /// Reply chunks' speech until the agent says to play it.
    reply_audio: ReplyAudio,
    /// Backchannels' speech by their words, once synthesized (rate, samples at low level).
    backchannels: HashMap<String, (u32, Vec<f32>)>,
    /// The backchannel asked for and not yet sent or stopped.
    backchannel_wanted: Option<String>,
    /// The user's non-verbal cues: it answers the agent's questions about them at once.
    cues: CueFeed,
    status: std::sync::Arc<super::io::SessionStatus>,
    started: Instant,
}

impl Dispatch {
    fn record(&mut self, at: u64, kind: SessionEventKind) -> bool {
        let event = SessionEvent {
            at,
            wall_ms: millis(self.started),
            kind,
        };
        let open = self.events.push(event);
        let dropped = self.events.cap(EVENT_CAPACITY);
        if dropped > 0 {
            self.status
                .events_dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        open
    }

    /// Carries out one effect of the agent, answering at once what the session itself knows
    /// (the agent gets the answer next). False when the transport or a worker is gone.
    fn carry_out(&mut self, now: u64, output: Output, answer: &mut Option<Input>) -> bool {
        let in_flight = &self.status.in_flight;
        match output {
            Output::MeasureRise { request } => {
                let confidence = self.cues.rise_so_far();
                *answer = Some(Input::PauseRise {
                    request,
                    confidence,
                });
                true
            }
            Output::DescribeCues { turn, user_text } => {
                let report = self.cues.describe(turn, &user_text);
                self.paces.insert(turn, report.pace);
                *answer = Some(Input::CueNote {
                    turn,
                    note: report.note.clone(),
                });
                self.record(now, SessionEventKind::Cues(report))
            }
            Output::Transcribe { request, audio } => {
                let cancel = self.asr_cancels.entry(request).or_default().clone();
                in_flight.fetch_add(1, Ordering::SeqCst);
                self.workers.asr.jobs.push((request, audio, cancel))
            }
            Output::Abandon(request) => {
                if let Some(token) = self.asr_cancels.remove(&request) {
                    token.cancel();
                }
                true
            }
            Output::ScoreTurn { request, audio } => {
                in_flight.fetch_add(1, Ordering::SeqCst);
                self.workers.turn.jobs.push((request, audio))
            }
            Output::Generate { turn, user_text } => {
                let cancel = self.cancels.entry(turn).or_default().clone();
                in_flight.fetch_add(1, Ordering::SeqCst);
                let job = LlmJob::Generate {
                    turn,
                    text: user_text,
                    cancel,
                };
                self.workers.llm.jobs.push(job)
            }
            Output::Synthesize { turn, chunk, text } => {
                let cancel = self.cancels.entry(turn).or_default().clone();
                let pace = self.paces.get(&turn).copied().unwrap_or(1.0);
                in_flight.fetch_add(1, Ordering::SeqCst);
                self.workers
                    .tts
                    .jobs
                    .push(TtsJob::Chunk(turn, chunk, text, pace, cancel))
            }
            Output::Play { turn, chunk } => {
                let id = ChunkId { turn, chunk };
                let Some((rate, samples)) = self.reply_audio.take(id) else {
                    tracing::error!(?id, "the agent played a chunk whose speech is not here");
                    return true;
                };
                self.playback.push(TransportOut::Play(PlayChunk {
                    epoch: self.epoch,
                    id,
                    rate,
                    samples,
                }))
            }
            Output::Flush { epoch } => {
                self.epoch = epoch;
                self.control.flush(epoch);
                // Chunks still waiting here were never seen by the transport: drop them too.
                self.playback
                    .discard(|out| matches!(out, TransportOut::Play(chunk) if chunk.epoch < epoch));
                true
            }
            Output::Hold { epoch } => {
                self.control.hold(epoch);
                true
            }
            Output::Cancel(turn) => {
                if let Some(token) = self.cancels.remove(&turn) {
                    token.cancel();
                }
                self.paces.remove(&turn);
                self.reply_audio.drop_turn(turn);
                true
            }
            Output::Backchannel { text } => {
                if self.backchannels.contains_key(&text) {
                    self.backchannel_wanted = Some(text);
                    return self.send_backchannel();
                }
                self.backchannel_wanted = Some(text.clone());
                in_flight.fetch_add(1, Ordering::SeqCst);
                self.workers.tts.jobs.push(TtsJob::Backchannel(text))
            }
            Output::StopBackchannel => {
                self.backchannel_wanted = None;
                self.control.stop_backchannels();
                true
            }
            Output::Event(event) => self.on_event(now, event),
        }
    }

    /// Keeps a backchannel's speech (at its low level) and sends it if it is still wanted.
    fn backchannel_ready(&mut self, text: String, rate: u32, samples: Vec<f32>) -> bool {
        let quiet = samples.iter().map(|s| s * BACKCHANNEL_GAIN).collect();
        self.backchannels.insert(text, (rate, quiet));
        self.send_backchannel()
    }

    /// Sends the wanted backchannel to the transport, beside whatever plays.
    fn send_backchannel(&mut self) -> bool {
        let Some(text) = self.backchannel_wanted.take() else {
            return true;
        };
        let Some((rate, samples)) = self.backchannels.get(&text) else {
            return true;
        };
        let (rate, samples) = (*rate, samples.clone());
        self.playback
            .push(TransportOut::Backchannel { rate, samples })
    }

    fn on_event(&mut self, now: u64, event: AgentEvent) -> bool {
        let mut open = true;
        if let AgentEvent::UserSpeechStart { .. } = &event {
            self.cues.speech_started();
        }
        if let AgentEvent::ReplyAbandoned { turn, .. } = &event {
            open &= self.workers.llm.jobs.push(LlmJob::Retract { turn: *turn });
        }
        if let AgentEvent::AssistantText {
            text,
            interrupted,
            turn,
            acknowledged,
            ..
        } = &event
        {
            self.cancels.remove(turn);
            self.paces.remove(turn);
            self.reply_audio.drop_turn(*turn);
            let job = LlmJob::Heard {
                text: text.clone(),
                interrupted: *interrupted,
                acknowledged: acknowledged.clone(),
            };
            open &= self.workers.llm.jobs.push(job);
        }
        open && self.record(now, SessionEventKind::Agent(event))
    }

    /// Cancels everything outstanding, joins the workers (dropping the engines) and hands the
    /// last events to the recorder.
    async fn close(mut self, events: mpsc::Sender<SessionEvent>) {
        for token in self.cancels.values().chain(self.asr_cancels.values()) {
            token.cancel();
        }
        self.workers.close().await;
        self.events.pump();
        let Dispatch {
            events: mut outbox, ..
        } = self;
        // Whatever the recorder has not taken yet, it gets now (bounded by EVENT_CAPACITY).
        while outbox.waiting() > 0 {
            if events.reserve().await.is_err() || !outbox.pump() {
                break;
            }
        }
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
    let mut dispatch = Dispatch {
        workers,
        playback: Outbox::new(output),
        events: Outbox::new(events.clone()),
        control,
        epoch: 0,
        cancels: HashMap::new(),
        asr_cancels: HashMap::new(),
        paces: HashMap::new(),
        reply_audio: ReplyAudio::default(),
        backchannels: HashMap::new(),
        backchannel_wanted: None,
        cues: CueFeed::new(),
        status: status.clone(),
        started: Instant::now(),
    };

    let chunker = config.chunker;
    let mut agent = Agent::new(config, move || {
        Box::new(Chunker(SentenceChunker::new(chunker))) as Box<dyn ChunkText>
    });
    let mut now = 0u64;
    let mut rechunker = Rechunker::<VAD_CHUNK>::default();
    let mut progress_open = true;

    loop {
        let mut handled_audio = false;
        let mut finished_job = false;
        let waiting = dispatch.workers.waiting() + dispatch.playback.waiting();
        tokio::select! {
            message = input.recv() => match message {
                None => break,
                Some(TransportIn::Audio(frame)) => {
                    handled_audio = true;
                    now += frame.len() as u64;
                    dispatch.cues.push(&frame);
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
            },
            changed = progress.changed(), if progress_open => match changed {
                Ok(()) => {
                    let report = *progress.borrow_and_update();
                    agent.handle(now, Input::Played(report));
                }
                Err(_) => progress_open = false,
            },
            Some(result) = results.recv() => {
                if let Some((stage, turn, cost_ms)) = result.cost {
                    dispatch.record(now, SessionEventKind::Cost { stage, turn, cost_ms });
                }
                if let Some(e) = result.error {
                    let fatal = e.is_fatal();
                    if fatal {
                        tracing::error!("{e}; the session ends");
                    } else {
                        tracing::warn!("{e}");
                    }
                    let kind = SessionEventKind::EngineFailed {
                        error: e.to_string(),
                        severity: e.severity,
                    };
                    dispatch.record(now, kind);
                    if fatal {
                        // Every later turn would fail the same way: end the session (the
                        // event above says why) rather than leave the user in silence.
                        break;
                    }
                }
                if let Some((text, rate, samples)) = result.backchannel {
                    dispatch.backchannel_ready(text, rate, samples);
                }
                // Speech of a turn still in progress is kept for its Play; a late chunk of a
                // cancelled or finished turn is dropped here (the agent ignores it too).
                if let Some((id, rate, samples)) = result.speech
                    && dispatch.cancels.contains_key(&id.turn)
                {
                    dispatch.reply_audio.keep(id, rate, samples);
                }
                if let Some(input) = result.input {
                    if let Input::Transcript { request, .. } = &input {
                        dispatch.asr_cancels.remove(request);
                    }
                    agent.handle(now, input);
                }
                finished_job = result.job_done;
            }
            _ = tokio::time::sleep(OUTBOX_RETRY), if waiting > 0 => {}
        }
        if agent.next_deadline().is_some_and(|d| d <= now) {
            agent.handle(now, Input::Tick);
        }
        let mut open = dispatch.workers.pump() && dispatch.playback.pump();
        dispatch.events.pump();
        while let Some(output) = agent.poll() {
            let mut answer = None;
            open &= dispatch.carry_out(now, output, &mut answer);
            if let Some(input) = answer {
                agent.handle(now, input);
            }
        }
        if !open {
            tracing::warn!("a session queue closed; ending the session");
            break;
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
    agent.end();
    while let Some(output) = agent.poll() {
        if let Output::Event(event) = output {
            dispatch.record(now, SessionEventKind::Agent(event));
        }
    }
    drop(results);
    drop(vad);
    dispatch.close(events).await;
}
