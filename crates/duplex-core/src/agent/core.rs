//! The [`Agent`] state machine: turn-taking, the reply pipeline, barge-in and the bookkeeping of
//! what the user actually heard.

use std::collections::{BTreeSet, VecDeque};

use super::barge::Barge;
use super::io::{AgentEvent, Input, Output, RequestId, TurnId};
use super::playout::Playout;
use super::said::Said;
use super::{AgentConfig, ChunkText, PauseEvidence, ms};
use crate::playback::ChunkId;
use crate::vad::{Segmenter, VadEvent};

/// Audio the turn-end model looks at: the last 8 s.
const SCORE_WINDOW: u64 = 8 * 16_000;

/// How long after a pause is confirmed its turn-end score may wait for the reply's first token
/// (see [`Agent::send_score`]): 200 ms.
const SCORE_DEFER: u64 = 200 * 16;

/// The user's side of the floor.
#[derive(Debug, Clone)]
enum User {
    /// No user speech since the last turn ended.
    Silent,
    /// The user is speaking; the utterance began at `utterance_start`; `resumed_from` is the
    /// end of the speech before a pause, when the user went on after one.
    Speaking {
        utterance_start: u64,
        resumed_from: Option<u64>,
    },
    /// The user paused at `speech_end`; the turn may be over.
    Paused(Pause),
}

#[derive(Debug, Clone)]
struct Pause {
    utterance_start: u64,
    speech_end: u64,
    detected_at: u64,
    score_request: RequestId,
    /// Whether the score was asked for (it waits for the reply's first token).
    score_sent: bool,
    transcript_request: RequestId,
    /// The turn-end model's score, once back.
    score: Option<f32>,
    /// Confidence that the speech ended in a rise.
    rise: f32,
    transcript: Option<String>,
    /// Where the pause's transcription ends.
    transcribed_to: u64,
}

/// Whether a prepared reply may be heard yet.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Floor {
    /// The turn-end score of the pause is not back: the reply is prepared meanwhile and held.
    AwaitingScore {
        request: RequestId,
        detected_at: u64,
        /// Whether the score was asked for.
        sent: bool,
    },
    /// The turn ends at this input position, unless the user goes on first.
    At(u64),
    /// The turn has ended: the reply plays.
    Taken,
}

/// The agent's reply in progress.
pub(super) struct Reply {
    pub(super) turn: TurnId,
    /// Where the user's utterance began, to resume it if the user goes on before hearing us.
    utterance_start: u64,
    /// Where the user's speech ended.
    speech_end: u64,
    /// What the user said.
    user_text: String,
    /// Where the transcription of `user_text` ends.
    transcribed_to: u64,
    /// Until the turn ends, the reply is prepared but held, and dropped if the user goes on.
    floor: Floor,
    /// Confidence that the user's speech ended in a rise.
    rise: f32,
    /// The request for the reply waits for the turn's cue note (see [`Input::CueNote`]).
    awaiting_note: bool,
    chunker: Box<dyn ChunkText>,
    chunk_texts: Vec<String>,
    /// Synthesized chunks not yet sent to playback.
    synthesized: BTreeSet<u32>,
    next_play: u32,
    llm_done: bool,
    /// The model failed before finishing it.
    llm_failed: bool,
    got_token: bool,
    sent_audio: bool,
    /// What the user said over it to let it go on.
    pub(super) acknowledged: Vec<String>,
}

/// The conversation core. See the module docs of [`crate::agent`].
pub struct Agent {
    pub(super) config: AgentConfig,
    new_chunker: Box<dyn Fn() -> Box<dyn ChunkText> + Send>,
    pub(super) now: u64,
    outputs: VecDeque<Output>,
    segmenter: Segmenter,
    /// Recent input audio; `audio[0]` is input sample `audio_start`.
    audio: VecDeque<f32>,
    audio_start: u64,
    user: User,
    /// A sound over the agent's voice being judged (see [`super::barge`]).
    pub(super) barge: Option<Barge>,
    /// The last sound over the reply that let it go on: where it began and ended, and whether
    /// it was noted as an acknowledgement (a sound soon after it is judged together with it).
    pub(super) last_overlap: Option<(u64, u64, bool)>,
    pub(super) reply: Option<Reply>,
    /// A transcription started at the first silent VAD chunk, before the pause is confirmed,
    /// and its text once known.
    pub(super) early_transcript: Option<(RequestId, Option<String>)>,
    /// The current utterance's settled segments (see [`super::said`]).
    pub(super) said: Said,
    pub(super) playout: Playout,
    /// Interrupted turns waiting for the transport to carry out their flush (its epoch): their
    /// heard text is taken from where playback really stopped; with what the user acknowledged.
    pub(super) cuts_pending: VecDeque<(TurnId, u64, Vec<String>)>,
    /// The backchannels said (see [`super::backchannel`]).
    pub(super) backchannels: super::backchannel::Backchannels,
    /// Hold epochs asked for (odd: playback paused).
    pub(super) holds: u64,
    /// The replies' tool calls (see [`super::tool_calls`]).
    pub(super) tools: super::tool_calls::ToolCalls,
    next_request: u64,
    next_turn: u64,
}

impl Agent {
    /// A new agent; `new_chunker` makes the sentence chunker for each reply.
    pub fn new(
        config: AgentConfig,
        new_chunker: impl Fn() -> Box<dyn ChunkText> + Send + 'static,
    ) -> Self {
        Self {
            segmenter: Segmenter::new(config.vad.clone()),
            config,
            new_chunker: Box::new(new_chunker),
            now: 0,
            outputs: VecDeque::new(),
            audio: VecDeque::new(),
            audio_start: 0,
            user: User::Silent,
            barge: None,
            last_overlap: None,
            reply: None,
            early_transcript: None,
            said: Said::default(),
            playout: Playout::default(),
            cuts_pending: VecDeque::new(),
            backchannels: Default::default(),
            holds: 0,
            tools: Default::default(),
            next_request: 0,
            next_turn: 0,
        }
    }

    /// The next effect or event, if any.
    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The current turn, if a reply is in progress.
    pub fn current_turn(&self) -> Option<TurnId> {
        self.reply.as_ref().map(|r| r.turn)
    }

    /// Whether the user is mid-turn or a reply is in progress.
    pub fn is_busy(&self) -> bool {
        self.reply.is_some()
            || !matches!(self.user, User::Silent)
            || self.playout.is_playing()
            || !self.cuts_pending.is_empty()
    }

    /// The conversation is over: interrupted replies whose flush the transport never confirmed
    /// are closed at its last report, so that no cut reply goes unrecorded.
    pub fn end(&mut self) {
        self.finish_cuts(true);
        self.tools_end();
    }

    /// The next time at which the agent will act without new input (a turn-end deadline, a
    /// deferred turn-end score falling due, or a tool call becoming slow), so a
    /// caller can feed [`Input::Tick`] then instead of waiting for the next audio frame.
    pub fn next_deadline(&self) -> Option<u64> {
        if let User::Paused(p) = &self.user
            && !p.score_sent
        {
            return Some(p.detected_at + SCORE_DEFER);
        }
        let reply = self.reply.as_ref()?;
        let slow_call = self.tools.slow_deadline(reply.turn);
        let turn_end = match reply.floor {
            Floor::At(until) => Some(until),
            Floor::AwaitingScore {
                detected_at,
                sent: false,
                ..
            } => Some(detected_at + SCORE_DEFER),
            Floor::AwaitingScore { .. } | Floor::Taken => None,
        };
        match (turn_end, slow_call) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Feeds one input at input position `now` (samples of input received so far).
    pub fn handle(&mut self, now: u64, input: Input) {
        self.now = self.now.max(now);
        match input {
            Input::Audio(samples) => self.on_audio(&samples),
            Input::Vad { start, probability } => self.on_vad(start, probability),
            Input::TurnScore {
                request,
                probability,
            } => self.on_score(request, probability),
            Input::PauseRise {
                request,
                confidence,
            } => self.on_pause_rise(request, confidence),
            Input::Transcript { request, text } => self.on_transcript(request, text),
            Input::CueNote { turn, note } => self.on_cue_note(turn, &note),
            Input::LlmToken { turn, text } => self.on_token(turn, &text),
            Input::LlmDone { turn, failed } => self.on_llm_done(turn, failed),
            Input::Synthesized { turn, chunk } => self.on_synthesized(turn, chunk),
            Input::ToolCall { turn, call } => self.on_tool_call(turn, call),
            Input::ToolDone { id, outcome } => {
                self.on_tool_done(&id, outcome);
                self.finish_reply_if_heard();
            }
            Input::Tick => {}
            Input::Played(progress) => {
                self.playout.set_progress(progress);
                self.finish_cuts(false);
                self.finish_reply_if_heard();
            }
        }
        self.maybe_start_reply();
        self.maybe_send_score(false);
        self.maybe_end_turn();
        self.maybe_acknowledge_slow_call();
    }

    /// Asks for the turn-end score of the current pause if it is due: at once when `now` says
    /// so (the reply's first token is in), else once the pause is [`SCORE_DEFER`] old.
    ///
    /// The score is only needed when the first audio is ready to play. Asked for as the pause
    /// is confirmed, it ran beside Whisper and the LLM's prefill, the two stages that use both
    /// cores, and slowed them; after the first token it runs beside token-by-token generation,
    /// which leaves a core free.
    fn maybe_send_score(&mut self, now: bool) {
        let due = |detected_at: u64| now || self.now >= detected_at + SCORE_DEFER;
        let (request, detected_at) = match (&mut self.user, self.reply.as_mut()) {
            (User::Paused(p), _) if !p.score_sent && due(p.detected_at) => {
                p.score_sent = true;
                (p.score_request, p.detected_at)
            }
            (
                _,
                Some(Reply {
                    floor:
                        Floor::AwaitingScore {
                            request,
                            detected_at,
                            sent: sent @ false,
                        },
                    ..
                }),
            ) if due(*detected_at) => {
                *sent = true;
                (*request, *detected_at)
            }
            _ => return,
        };
        self.send_score(request, detected_at);
    }

    /// Asks for the turn-end score of a pause confirmed at `detected_at`, on the audio up to it,
    /// and, first, for the rise its speech ends in.
    fn send_score(&mut self, request: RequestId, detected_at: u64) {
        let audio = self.audio_between(detected_at.saturating_sub(SCORE_WINDOW), detected_at);
        self.emit(Output::MeasureRise { request });
        self.emit(Output::ScoreTurn { request, audio });
    }

    pub(super) fn emit(&mut self, output: Output) {
        self.outputs.push_back(output);
    }

    pub(super) fn event(&mut self, event: AgentEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    pub(super) fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn on_audio(&mut self, samples: &[f32]) {
        self.audio.extend(samples);
        let keep =
            (u64::from(self.config.turns.max_utterance_s) * 16_000).max(SCORE_WINDOW) as usize;
        if self.audio.len() > keep {
            let excess = self.audio.len() - keep;
            self.audio.drain(..excess);
            self.audio_start += excess as u64;
        }
    }

    /// Input audio between two positions, clamped to what is kept.
    pub(super) fn audio_between(&self, from: u64, to: u64) -> Vec<f32> {
        let from = from.max(self.audio_start);
        let to = to.min(self.audio_start + self.audio.len() as u64);
        if from >= to {
            return Vec::new();
        }
        let (a, b) = (
            (from - self.audio_start) as usize,
            (to - self.audio_start) as usize,
        );
        self.audio.range(a..b).copied().collect()
    }

    /// Whether the agent's voice is (or is about to be) audible: something was sent to playback.
    pub(super) fn agent_audible(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.sent_audio) && self.playout.is_playing()
    }

    /// Whether the reply has been heard in part and is silent while its tool calls run: speech
    /// then is judged as speech over the reply (an interruption cuts it to what was heard),
    /// not as the user going on before hearing it.
    fn heard_reply_waits_on_tools(&self) -> bool {
        self.reply
            .as_ref()
            .is_some_and(|r| r.sent_audio && self.tools.holds(r.turn))
    }

    fn on_vad(&mut self, start: u64, probability: f32) {
        let chunk_end = start + crate::vad::VAD_CHUNK as u64;
        match self.segmenter.push(start, probability) {
            Some(VadEvent::SpeechStart(at)) => self.on_speech_start(at),
            Some(VadEvent::SpeechEnd(segment)) => {
                let pad = ms(self.config.vad.speech_pad_ms);
                self.on_speech_end(segment.end.saturating_sub(pad).max(segment.start));
            }
            Some(VadEvent::Discarded(_)) => self.on_discarded(),
            None => {}
        }
        self.track_early_transcript(probability);
        let voiced = probability >= self.config.vad.threshold;
        self.backchannels.user_voiced = voiced;
        if voiced {
            // The first voiced chunk, before the voice detector confirms speech: a backchannel
            // must not talk over the user going on.
            self.stop_backchannel();
            self.overlap_vad(chunk_end - start);
        }
    }

    /// Starts transcribing at the first silent chunk after speech, so that the transcript is
    /// ready sooner after the pause is confirmed; drops that work when the speech goes on.
    fn track_early_transcript(&mut self, probability: f32) {
        let speaking_from = match self.user {
            User::Speaking {
                utterance_start, ..
            } if self.segmenter.in_speech() && probability < self.config.vad.threshold => {
                Some(utterance_start)
            }
            _ => None,
        };
        let Some(utterance_start) = speaking_from else {
            if let Some((request, _)) = self.early_transcript.take() {
                self.emit(Output::Abandon(request));
            }
            return;
        };
        if probability < self.config.vad.neg_threshold && self.early_transcript.is_none() {
            let request = self.request_id();
            let audio = self.audio_between(self.said.from(utterance_start), self.now);
            self.said.requested_to = self.now;
            self.emit(Output::Transcribe { request, audio });
            self.early_transcript = Some((request, None));
        }
    }

    fn on_speech_start(&mut self, at: u64) {
        self.event(AgentEvent::UserSpeechStart { at });
        self.stop_backchannel();
        if self.agent_audible() || self.heard_reply_waits_on_tools() {
            self.overlap_start(at);
            return;
        }
        if let Some(reply) = self.reply.take() {
            // The user goes on before hearing the reply: drop it and resume their utterance.
            self.emit(Output::Cancel(reply.turn));
            self.tools_reply_cut(reply.turn);
            if reply.sent_audio {
                let epoch = self.playout.flush();
                self.emit(Output::Flush { epoch });
            }
            self.playout.forget(reply.turn);
            self.event(AgentEvent::ReplyAbandoned {
                turn: reply.turn,
                at: self.now,
            });
            // What the reply answered stays said: the next transcription covers what follows.
            self.said.settle_all(reply.user_text, reply.transcribed_to);
            self.user = User::Speaking {
                utterance_start: reply.utterance_start,
                resumed_from: Some(reply.speech_end),
            };
            return;
        }
        match &self.user {
            // The user goes on after a pause: its transcription is kept as a segment.
            User::Paused(p) => {
                self.said
                    .settle(p.transcript_request, p.transcript.clone(), p.transcribed_to)
            }
            User::Silent => self.said.clear(),
            User::Speaking { .. } => {}
        }
        let preroll = ms(self.config.turns.preroll_ms);
        self.user = match &self.user {
            User::Silent => User::Speaking {
                utterance_start: at.saturating_sub(preroll),
                resumed_from: None,
            },
            speaking @ User::Speaking { .. } => speaking.clone(),
            User::Paused(p) => User::Speaking {
                utterance_start: p.utterance_start,
                resumed_from: Some(p.speech_end),
            },
        };
    }

    fn on_speech_end(&mut self, speech_end: u64) {
        if self.overlap_end(speech_end) {
            return; // speech over the reply: judged by its words
        }
        let User::Speaking {
            utterance_start, ..
        } = self.user
        else {
            return;
        };
        self.pause(utterance_start, speech_end);
    }

    pub(super) fn pause(&mut self, utterance_start: u64, speech_end: u64) {
        self.event(AgentEvent::UserSpeechEnd { at: speech_end });
        let score_request = self.request_id();
        let (transcript_request, transcript) = match self.early_transcript.take() {
            Some(early) => early,
            None => {
                let request = self.request_id();
                let audio = self.audio_between(self.said.from(utterance_start), self.now);
                self.said.requested_to = self.now;
                self.emit(Output::Transcribe { request, audio });
                (request, None)
            }
        };
        self.user = User::Paused(Pause {
            utterance_start,
            speech_end,
            detected_at: self.now,
            score_request,
            score_sent: false,
            transcript_request,
            score: None,
            rise: 0.0,
            transcript,
            transcribed_to: self.said.requested_to,
        });
    }

    fn on_discarded(&mut self) {
        self.overlap_discarded();
        // A blip alone is nothing; a blip after earlier speech leaves that speech's pause standing.
        match self.user {
            User::Speaking {
                utterance_start,
                resumed_from: Some(speech_end),
            } => self.pause(utterance_start, speech_end),
            User::Speaking { .. } => self.user = User::Silent,
            _ => {}
        }
    }

    /// The rise of the paused speech, measured for score `request`.
    fn on_pause_rise(&mut self, request: RequestId, confidence: f32) {
        if let User::Paused(pause) = &mut self.user
            && pause.score_request == request
        {
            pause.rise = confidence;
        } else if let Some(reply) = self.reply.as_mut()
            && matches!(reply.floor, Floor::AwaitingScore { request: r, .. } if r == request)
        {
            reply.rise = confidence;
        }
    }

    fn on_score(&mut self, request: RequestId, probability: f32) {
        let now = self.now;
        let endpoint = self.config.turns.endpoint.clone();
        let (utterance, rise) = if let User::Paused(pause) = &mut self.user
            && pause.score_request == request
        {
            // The deadline is set once the transcript is in too (`maybe_start_reply`).
            pause.score = Some(probability);
            ((pause.utterance_start, pause.speech_end), pause.rise)
        } else if let Some(reply) = self.reply.as_mut()
            && let Floor::AwaitingScore {
                request: awaited,
                detected_at,
                ..
            } = reply.floor
            && awaited == request
        {
            // The reply started on the transcript; the score now says when it may be heard.
            reply.floor = Floor::At(endpoint.decide(&PauseEvidence {
                speech_end: reply.speech_end,
                detected_at,
                probability,
                rise: reply.rise,
                transcript: Some(&reply.user_text),
            }));
            ((reply.utterance_start, reply.speech_end), reply.rise)
        } else {
            return;
        };
        self.event(AgentEvent::TurnScored {
            at: now,
            probability,
            rise,
        });
        if probability < endpoint.complete_threshold {
            // An inner pause of a turn that goes on: a listener may say "mm-hm".
            self.maybe_backchannel(utterance.0, utterance.1);
        }
    }

    fn on_transcript(&mut self, request: RequestId, text: String) {
        if self.overlap_transcript(request, &text) || self.said.on_transcript(request, &text) {
            return;
        }
        if let Some((early, transcript)) = &mut self.early_transcript
            && *early == request
        {
            *transcript = Some(text);
            return;
        }
        if let User::Paused(pause) = &mut self.user
            && pause.transcript_request == request
        {
            pause.transcript = Some(text);
        }
    }

    /// Starts the reply as soon as the pause is transcribed, whether or not its turn-end score
    /// is back: the reply is prepared but held until the score says the turn is over (at once,
    /// or after more silence), and dropped if the user goes on first. Neither the score nor a
    /// late end of turn then adds to the time to the first audio.
    fn maybe_start_reply(&mut self) {
        let User::Paused(pause) = &self.user else {
            return;
        };
        let Some(text) = pause
            .transcript
            .as_deref()
            .and_then(|t| self.said.with_tail(t))
        else {
            return;
        };
        let floor = match pause.score {
            Some(probability) => Floor::At(self.config.turns.endpoint.decide(&PauseEvidence {
                speech_end: pause.speech_end,
                detected_at: pause.detected_at,
                probability,
                rise: pause.rise,
                transcript: Some(&text),
            })),
            None => Floor::AwaitingScore {
                request: pause.score_request,
                detected_at: pause.detected_at,
                sent: pause.score_sent,
            },
        };
        let (utterance_start, speech_end) = (pause.utterance_start, pause.speech_end);
        let (transcribed_to, rise) = (pause.transcribed_to, pause.rise);
        self.user = User::Silent;
        self.said.clear();
        if text.is_empty() {
            return; // nothing intelligible was said
        }
        // The history must hold what was heard of an interrupted reply before the next one.
        self.finish_cuts(true);
        self.next_turn += 1;
        let turn = TurnId(self.next_turn);
        self.emit(Output::DescribeCues {
            turn,
            user_text: text.clone(),
        });
        let awaiting_note = self.config.cue_notes;
        if !awaiting_note {
            self.tell_late_results(turn);
            self.emit(Output::Generate {
                turn,
                user_text: text.clone(),
            });
        }
        self.reply = Some(Reply {
            turn,
            utterance_start,
            speech_end,
            user_text: text,
            transcribed_to,
            floor,
            rise,
            awaiting_note,
            chunker: (self.new_chunker)(),
            chunk_texts: Vec::new(),
            synthesized: BTreeSet::new(),
            next_play: 0,
            llm_done: false,
            llm_failed: false,
            got_token: false,
            sent_audio: false,
            acknowledged: Vec::new(),
        });
    }

    /// Ends the user's turn once a held reply's deadline has passed: the reply may play.
    fn maybe_end_turn(&mut self) {
        let now = self.now;
        let Some(reply) = self.reply.as_mut() else {
            return;
        };
        if !matches!(reply.floor, Floor::At(until) if now >= until) {
            return;
        }
        reply.floor = Floor::Taken;
        let (turn, speech_end, text) = (reply.turn, reply.speech_end, reply.user_text.clone());
        self.stop_backchannel();
        self.event(AgentEvent::EndOfTurn {
            turn,
            at: now,
            speech_end,
        });
        self.event(AgentEvent::UserText {
            turn,
            at: now,
            text,
        });
        self.play_ready();
        self.finish_reply_if_heard();
    }

    fn reply_for(&mut self, turn: TurnId) -> Option<&mut Reply> {
        self.reply.as_mut().filter(|r| r.turn == turn)
    }

    /// The turn's cue note: the reply's request goes out with it, if it waited for it.
    fn on_cue_note(&mut self, turn: TurnId, note: &str) {
        let Some(reply) = self.reply_for(turn).filter(|r| r.awaiting_note) else {
            return;
        };
        reply.awaiting_note = false;
        let user_text = if note.is_empty() {
            reply.user_text.clone()
        } else {
            format!("{} {note}", reply.user_text)
        };
        self.tell_late_results(turn);
        self.emit(Output::Generate { turn, user_text });
    }

    fn on_token(&mut self, turn: TurnId, text: &str) {
        let now = self.now;
        let Some(reply) = self.reply_for(turn) else {
            return;
        };
        let first = !reply.got_token;
        reply.got_token = true;
        let chunks = reply.chunker.push(text);
        if first {
            self.event(AgentEvent::FirstToken { turn, at: now });
            self.maybe_send_score(true);
        }
        self.synthesize(turn, chunks);
    }

    fn on_llm_done(&mut self, turn: TurnId, failed: bool) {
        let Some(reply) = self.reply_for(turn) else {
            return;
        };
        reply.llm_done = true;
        reply.llm_failed = failed;
        let chunks = reply.chunker.finish();
        self.synthesize(turn, chunks);
        self.maybe_follow_up();
        self.finish_reply_if_heard();
    }

    fn synthesize(&mut self, turn: TurnId, chunks: Vec<String>) {
        for text in chunks {
            let Some(reply) = self.reply_for(turn) else {
                return;
            };
            let chunk = reply.chunk_texts.len() as u32;
            reply.chunk_texts.push(text.clone());
            self.emit(Output::Synthesize { turn, chunk, text });
        }
    }

    fn on_synthesized(&mut self, turn: TurnId, chunk: u32) {
        let Some(reply) = self.reply_for(turn) else {
            return;
        };
        reply.synthesized.insert(chunk);
        self.play_ready();
        self.finish_reply_if_heard();
    }

    /// Sends the synthesized chunks that are next in order to playback, unless the reply is held.
    fn play_ready(&mut self) {
        let Some(reply) = self.reply.as_mut().filter(|r| r.floor == Floor::Taken) else {
            return;
        };
        let turn = reply.turn;
        let mut ready = Vec::new();
        while reply.synthesized.remove(&reply.next_play) {
            let text = reply.chunk_texts[reply.next_play as usize].clone();
            ready.push((reply.next_play, text));
            reply.next_play += 1;
        }
        for (chunk, text) in ready {
            let first = self.reply.as_ref().is_some_and(|r| !r.sent_audio);
            if let Some(reply) = self.reply.as_mut() {
                reply.sent_audio = true;
            }
            if first {
                self.event(AgentEvent::FirstAudio { turn, at: self.now });
            }
            self.event(AgentEvent::ReplyChunk {
                turn,
                chunk,
                at: self.now,
                text: text.clone(),
            });
            self.playout.queue(ChunkId { turn, chunk }, text);
            self.emit(Output::Play { turn, chunk });
        }
    }

    /// Says `text` as the next chunk of `turn`'s reply (the core's own words: a tool call's
    /// acknowledgement or apology).
    pub(super) fn say(&mut self, turn: TurnId, text: &str) {
        self.synthesize(turn, vec![text.to_owned()]);
    }

    /// Whether the current reply's generation is done.
    pub(super) fn reply_generated(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.llm_done)
    }

    /// The current reply goes back to the model (with its tool results): another generation.
    pub(super) fn generate_again(&mut self) {
        if let Some(reply) = self.reply.as_mut() {
            reply.llm_done = false;
            reply.llm_failed = false;
        }
    }

    /// Closes the reply when the model is done, no tool call holds it, and every chunk has been
    /// played.
    pub(super) fn finish_reply_if_heard(&mut self) {
        let Some(reply) = self.reply.as_ref().filter(|r| r.floor == Floor::Taken) else {
            return;
        };
        if self.tools.holds(reply.turn) {
            return;
        }
        let all_played = reply.next_play as usize == reply.chunk_texts.len();
        if !(reply.llm_done && all_played) || self.playout.is_playing() {
            return;
        }
        let turn = reply.turn;
        let text = self.playout.heard_text(turn);
        self.playout.forget(turn);
        let (acknowledged, broke_off) = self
            .reply
            .take()
            .map(|r| (r.acknowledged, r.llm_failed))
            .unwrap_or_default();
        // Speech that began over the reply's last moments and outlasted it is the user's next
        // turn, not a lost sound over the reply.
        self.overlap_outlived_reply();
        self.event(AgentEvent::AssistantText {
            turn,
            at: self.now,
            text,
            interrupted: false,
            acknowledged,
            broke_off,
        });
    }

    /// The user's speech that began at `utterance_start` is under way.
    pub(super) fn user_speaking_from(&mut self, utterance_start: u64) {
        self.user = User::Speaking {
            utterance_start,
            resumed_from: None,
        };
    }

    /// Closes interrupted turns whose flush the transport has carried out, with the words heard
    /// up to where playback really stopped; with `now`, closes them all at the last report.
    pub(super) fn finish_cuts(&mut self, now: bool) {
        while let Some((turn, epoch, _)) = self.cuts_pending.front() {
            let (turn, epoch) = (*turn, *epoch);
            if !now && !self.playout.flushed(epoch) {
                return;
            }
            let acknowledged = self
                .cuts_pending
                .pop_front()
                .map(|(_, _, a)| a)
                .unwrap_or_default();
            let text = self.playout.heard_text(turn);
            self.playout.forget(turn);
            self.event(AgentEvent::AssistantText {
                turn,
                at: self.now,
                text,
                interrupted: true,
                acknowledged,
                broke_off: false,
            });
        }
    }
}
