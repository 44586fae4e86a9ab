//! Where the agent core's outputs go and where the engines' results come back: every effect is
//! carried to its engine worker, the transport or the recorder without ever awaiting a full
//! queue (each goes through an [`Outbox`]); what the session itself knows (the user's cues) is
//! answered at once; what the agent must not hold (reply speech) is kept here by its id. It holds
//! every job's cancel token, so closing it stops all the session started.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use duplex_core::cancel::CancelToken;
use duplex_core::playback::ChunkId;
use tokio::sync::mpsc;

use super::backchannel_audio::BackchannelAudio;
use super::channels::EVENT_CAPACITY;
use super::cue_feed::CueFeed;
use super::engine_result::{EngineResult, millis};
use super::engine_workers::{TtsJob, Workers};
use super::engines::EngineError;
use super::io::{
    PlayChunk, PlaybackControl, SessionEvent, SessionEventKind, SessionStatus, TransportOut,
};
use super::llm_exchange::LlmJob;
use super::reply_audio::ReplyAudio;
use super::workers::Outbox;
use crate::agent::{AgentEvent, Input, Output, RequestId, ToolOutcome, TurnId};

/// A queue to the transport, the recorder or a worker is closed: the session ends.
#[derive(Debug)]
pub(super) struct QueueClosed;

/// The session's state besides the agent: its workers, outboxes, cancel tokens, the playback
/// epoch, and what it keeps for the agent (reply speech, backchannels, the user's cues).
pub(super) struct Dispatch {
    pub(super) workers: Workers,
    pub(super) playback: Outbox<TransportOut>,
    pub(super) events: Outbox<SessionEvent>,
    control: Arc<PlaybackControl>,
    epoch: u64,
    cancels: HashMap<TurnId, CancelToken>,
    asr_cancels: HashMap<RequestId, CancelToken>,
    /// The voice's pace for each reply in progress (its length factor; 1.0: the voice's own).
    paces: HashMap<TurnId, f32>,
    /// Reply chunks' speech until the agent says to play it.
    reply_audio: ReplyAudio,
    backchannels: BackchannelAudio,
    /// The user's non-verbal cues: it answers the agent's questions about them at once.
    pub(super) cues: CueFeed,
    status: Arc<SessionStatus>,
    started: Instant,
}

impl Dispatch {
    /// Dispatch to `workers`, the transport's `playback` queue and `control`, and the recorder.
    pub(super) fn new(
        workers: Workers,
        playback: mpsc::Sender<TransportOut>,
        control: Arc<PlaybackControl>,
        events: mpsc::Sender<SessionEvent>,
        status: Arc<SessionStatus>,
    ) -> Self {
        Self {
            workers,
            playback: Outbox::new(playback),
            events: Outbox::new(events),
            control,
            epoch: 0,
            cancels: HashMap::new(),
            asr_cancels: HashMap::new(),
            paces: HashMap::new(),
            reply_audio: ReplyAudio::default(),
            backchannels: BackchannelAudio::default(),
            cues: CueFeed::new(),
            status,
            started: Instant::now(),
        }
    }

    /// Records an event at input position `at`; false when the recorder is gone.
    pub(super) fn record(&mut self, at: u64, kind: SessionEventKind) -> bool {
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

    /// Carries out one effect of the agent; returns the answer the session knows at once (the
    /// agent gets it next), if the effect asks for one.
    pub(super) fn carry_out(
        &mut self,
        now: u64,
        output: Output,
    ) -> Result<Option<Input>, QueueClosed> {
        let in_flight = &self.status.in_flight;
        let open = match output {
            Output::MeasureRise { request } => {
                let confidence = self.cues.rise_so_far();
                return Ok(Some(Input::PauseRise {
                    request,
                    confidence,
                }));
            }
            Output::DescribeCues { turn, user_text } => {
                let report = self.cues.describe(turn, &user_text);
                self.paces.insert(turn, report.pace);
                let note = report.note.clone();
                if !self.record(now, SessionEventKind::Cues(report)) {
                    return Err(QueueClosed);
                }
                return Ok(Some(Input::CueNote { turn, note }));
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
            Output::Play { turn, chunk } => self.play(ChunkId { turn, chunk }),
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
                self.forget_turn(turn);
                true
            }
            Output::Backchannel { text } => {
                if self.backchannels.want(text.clone()) {
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    self.workers.tts.jobs.push(TtsJob::Backchannel(text))
                } else {
                    self.send_backchannel()
                }
            }
            Output::StopBackchannel => {
                self.backchannels.stop();
                self.control.stop_backchannels();
                true
            }
            Output::Event(event) => self.on_event(now, event),
            // A session has no tools yet: its model is not told of any and its replies are not
            // searched for calls, so the core asks for none. Should one be asked for, it fails
            // in words and the reply ends there, broken off.
            Output::RunTool { call, .. } => {
                let why = format!("there is no tool named {:?} in this session", call.name);
                return Ok(Some(Input::ToolDone {
                    id: call.id,
                    outcome: ToolOutcome::Failed(why),
                }));
            }
            Output::CancelTool { .. } => true,
            Output::GenerateAfterTools { turn, .. } => {
                return Ok(Some(Input::LlmDone { turn, failed: true }));
            }
        };
        if open { Ok(None) } else { Err(QueueClosed) }
    }

    /// Takes an engine's result: records its cost and any failure, keeps the speech it carries,
    /// and returns the agent's input. A fatal failure is returned as the error: every later turn
    /// would fail the same way, so the session ends (the recorded event says why) rather than
    /// leave the user in silence.
    pub(super) fn take_result(
        &mut self,
        now: u64,
        result: EngineResult,
    ) -> Result<Option<Input>, EngineError> {
        if let Some((stage, turn, cost_ms)) = result.cost {
            self.record(
                now,
                SessionEventKind::Cost {
                    stage,
                    turn,
                    cost_ms,
                },
            );
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
            self.record(now, kind);
            if fatal {
                return Err(e);
            }
        }
        if let Some((text, rate, samples)) = result.backchannel {
            self.backchannels.keep(text, rate, &samples);
            self.send_backchannel();
        }
        // Speech of a turn still in progress is kept for its Play; a late chunk of a cancelled
        // or finished turn is dropped here (the agent ignores it too).
        if let Some((id, rate, samples)) = result.speech
            && self.cancels.contains_key(&id.turn)
        {
            self.reply_audio.keep(id, rate, samples);
        }
        if let Some(Input::Transcript { request, .. }) = &result.input {
            self.asr_cancels.remove(request);
        }
        Ok(result.input)
    }

    /// Sends a reply chunk's speech to the transport; false when the transport is gone.
    fn play(&mut self, id: ChunkId) -> bool {
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

    /// Sends the wanted backchannel to the transport, beside whatever plays.
    fn send_backchannel(&mut self) -> bool {
        match self.backchannels.take_wanted() {
            Some((rate, samples)) => self
                .playback
                .push(TransportOut::Backchannel { rate, samples }),
            None => true,
        }
    }

    /// Drops what is kept for a turn that was cancelled or ended.
    fn forget_turn(&mut self, turn: TurnId) {
        self.paces.remove(&turn);
        self.reply_audio.drop_turn(turn);
    }

    fn on_event(&mut self, now: u64, event: AgentEvent) -> bool {
        let mut open = true;
        match &event {
            AgentEvent::UserSpeechStart { .. } => self.cues.speech_started(),
            AgentEvent::AssistantText { turn, .. } => {
                self.cancels.remove(turn);
                self.forget_turn(*turn);
            }
            _ => {}
        }
        if let Some(job) = LlmJob::for_event(&event) {
            open &= self.workers.llm.jobs.push(job);
        }
        open && self.record(now, SessionEventKind::Agent(event))
    }

    /// Cancels everything outstanding, joins the workers (dropping the engines) and hands the
    /// last events to the recorder.
    pub(super) async fn close(mut self, events: mpsc::Sender<SessionEvent>) {
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
