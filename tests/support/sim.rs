//! A virtual-time simulation of one conversation: real fixture audio through the real Silero VAD
//! into the agent core, with fake engines that answer after declared costs in virtual
//! milliseconds, and a virtual speaker (the transports' own playback queue) that plays queued
//! audio at 16 kHz and carries out a flush, pause or resume at its next frame. Deterministic: no threads, no clock.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use duplex::agent::{Agent, AgentConfig, Input, Output, RequestId, SentenceEnds, TurnId, ms};
use duplex::audio::FRAME_SAMPLES;
use duplex::playback::{ChunkId, PlaybackQueue};
use duplex::vad::{SileroVad, SpeechProbability, VAD_CHUNK};

/// Declared engine costs and canned answers.
#[derive(Clone)]
pub struct FakeEngines {
    /// Turn-end model cost.
    pub score_ms: u32,
    /// Its answer.
    pub score: f32,
    /// The rise the session's cue tracker measures at each pause (fed beside the score).
    pub pause_rise: f32,
    /// Transcription cost.
    pub transcribe_ms: u32,
    /// Transcripts handed out in order, one per request that is answered without having been
    /// abandoned (an abandoned one gets an empty text, as a cancelled engine gives).
    pub transcripts: Vec<String>,
    /// When not empty, used instead of `transcripts`: each phrase of the input with the time
    /// (seconds into the input) at which it has been said; the answer to a request is the
    /// phrases said within its audio, which ends when the request is made.
    pub phrases_by_time: Vec<(f32, String)>,
    /// Time to the first token after `Generate`.
    pub first_token_ms: u32,
    /// Time between later tokens.
    pub token_ms: u32,
    /// The reply's tokens.
    pub tokens: Vec<String>,
    /// Synthesis cost per chunk.
    pub tts_ms: u32,
    /// Audio produced per character of chunk text, in ms.
    pub audio_ms_per_char: u32,
}

/// Everything the agent emitted, with the virtual time it was emitted at.
pub struct Sim {
    pub agent: Agent,
    pub engines: FakeEngines,
    pub log: Vec<(u64, Output)>,
    /// Results in flight: (due time, sequence, input).
    pending: BinaryHeap<Reverse<(u64, u64, InputBox)>>,
    seq: u64,
    transcripts_used: usize,
    /// The virtual speaker.
    speaker: PlaybackQueue,
    /// Each synthesized chunk's length in samples, until the agent plays it (the agent itself
    /// gets only the length; like the runtime, the sim keeps the audio).
    synthesized: HashMap<ChunkId, usize>,
    /// The last flush asked for.
    flush_asked: u64,
    /// The last hold (pause or resume) asked for.
    hold_asked: u64,
    /// Output timeline: non-zero where the agent's voice was heard, per input sample.
    pub heard: Vec<(u64, TurnId)>,
    /// Every VAD result fed: (time fed, chunk start, probability).
    pub vad_log: Vec<(u64, u64, f32)>,
    /// Turns cancelled so far (their late results are still delivered, to test dropping).
    pub cancelled: Vec<TurnId>,
    /// Requests abandoned so far.
    pub abandoned: HashSet<RequestId>,
}

/// `Input` in a heap: ordered by due time and sequence only.
#[derive(Debug)]
struct InputBox(Input);
impl PartialEq for InputBox {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for InputBox {}
impl PartialOrd for InputBox {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InputBox {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Sim {
    pub fn new(config: AgentConfig, engines: FakeEngines) -> Self {
        Self {
            agent: Agent::new(config, || Box::new(SentenceEnds::default())),
            engines,
            log: Vec::new(),
            pending: BinaryHeap::new(),
            seq: 0,
            transcripts_used: 0,
            speaker: PlaybackQueue::new(),
            synthesized: HashMap::new(),
            flush_asked: 0,
            hold_asked: 0,
            heard: Vec::new(),
            vad_log: Vec::new(),
            cancelled: Vec::new(),
            abandoned: HashSet::new(),
        }
    }

    fn later(&mut self, due: u64, input: Input) {
        self.seq += 1;
        self.pending.push(Reverse((due, self.seq, InputBox(input))));
    }

    fn feed(&mut self, now: u64, input: Input) {
        self.agent.handle(now, input);
        while let Some(out) = self.agent.poll() {
            self.carry_out(now, &out);
            self.log.push((now, out));
        }
    }

    /// The fake engines and the virtual speaker act on an output.
    fn carry_out(&mut self, now: u64, out: &Output) {
        let e = self.engines.clone();
        match out {
            // The session measures the rise at once, the score comes later.
            Output::MeasureRise { request } => self.later(
                now,
                Input::PauseRise {
                    request: *request,
                    confidence: e.pause_rise,
                },
            ),
            Output::ScoreTurn { request, .. } => self.later(
                now + ms(e.score_ms),
                Input::TurnScore {
                    request: *request,
                    probability: e.score,
                },
            ),
            // Without lengths, the text is chosen on delivery (see `deliver_until`).
            Output::Transcribe { request, audio } => {
                let to = now as f32 / 16_000.0;
                let from = to - audio.len() as f32 / 16_000.0;
                let said: Vec<&str> = e
                    .phrases_by_time
                    .iter()
                    .filter(|(at, _)| *at > from && *at <= to)
                    .map(|(_, phrase)| phrase.as_str())
                    .collect();
                let text = (!said.is_empty()).then(|| said.join(" "));
                self.later(
                    now + ms(e.transcribe_ms),
                    Input::Transcript {
                        request: *request,
                        text: text.unwrap_or_default(),
                    },
                )
            }
            Output::Abandon(request) => {
                self.abandoned.insert(*request);
            }
            Output::Generate { turn, .. } => {
                let mut t = now + ms(e.first_token_ms);
                for token in &e.tokens {
                    self.later(
                        t,
                        Input::LlmToken {
                            turn: *turn,
                            text: token.clone(),
                        },
                    );
                    t += ms(e.token_ms);
                }
                self.later(
                    t,
                    Input::LlmDone {
                        turn: *turn,
                        failed: false,
                    },
                );
            }
            Output::Synthesize { turn, chunk, text } => {
                let n = ms(e.audio_ms_per_char * text.chars().count() as u32) as usize;
                let id = ChunkId {
                    turn: *turn,
                    chunk: *chunk,
                };
                self.synthesized.insert(id, n);
                self.later(
                    now + ms(e.tts_ms),
                    Input::Synthesized {
                        turn: *turn,
                        chunk: *chunk,
                    },
                );
            }
            Output::Play { turn, chunk } => {
                // Like a transport: a chunk sent after a flush waits for the flush.
                self.carry_out_flush();
                let id = ChunkId {
                    turn: *turn,
                    chunk: *chunk,
                };
                let n = self
                    .synthesized
                    .remove(&id)
                    .expect("played after synthesis");
                self.speaker.push(id, vec![0.1; n])
            }
            Output::Flush { epoch } => self.flush_asked = *epoch,
            Output::Hold { epoch } => self.hold_asked = *epoch,
            Output::Cancel(turn) => self.cancelled.push(*turn),
            // Said beside everything else; the log keeps them for the tests.
            Output::Backchannel { .. } | Output::StopBackchannel | Output::Event(_) => {}
            // The simulated model never asks for a tool call.
            Output::RunTool { .. }
            | Output::CancelTool { .. }
            | Output::GenerateAfterTools { .. } => {
                unreachable!("no tool calls in the simulation")
            }
            // No cues here: the turn's note is empty.
            Output::DescribeCues { turn, .. } => self.later(
                now,
                Input::CueNote {
                    turn: *turn,
                    note: String::new(),
                },
            ),
        }
    }

    /// Runs the whole input through VAD and the agent, then `tail_ms` of silence.
    pub fn run(&mut self, vad: &mut SileroVad, input: &[f32], tail_ms: u32) {
        let mut audio = input.to_vec();
        audio.resize(input.len() + ms(tail_ms) as usize, 0.0);
        audio.resize(audio.len().div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES, 0.0);
        vad.reset();
        let mut vad_pos = 0usize;
        for (i, frame) in audio.chunks(FRAME_SAMPLES).enumerate() {
            let frame_start = (i * FRAME_SAMPLES) as u64;
            let now = frame_start + FRAME_SAMPLES as u64;
            self.play(frame_start);
            self.deliver_until(now);
            self.feed(now, Input::Audio(frame.to_vec()));
            while vad_pos + VAD_CHUNK <= now as usize {
                let chunk: &[f32; VAD_CHUNK] =
                    audio[vad_pos..vad_pos + VAD_CHUNK].try_into().unwrap();
                let probability = vad.probability(chunk).expect("vad");
                self.vad_log.push((now, vad_pos as u64, probability));
                self.feed(
                    now,
                    Input::Vad {
                        start: vad_pos as u64,
                        probability,
                    },
                );
                vad_pos += VAD_CHUNK;
            }
            self.feed(now, Input::Played(self.speaker.progress()));
        }
    }

    /// Delivers every result due up to `until`, each at its exact due time, and fires deadlines.
    fn deliver_until(&mut self, until: u64) {
        loop {
            let next_result = self.pending.peek().map(|Reverse((due, _, _))| *due);
            let next_deadline = self.agent.next_deadline();
            match (next_result, next_deadline) {
                (Some(r), d) if r <= until && d.is_none_or(|d| r <= d) => {
                    let Reverse((due, _, InputBox(mut input))) = self.pending.pop().unwrap();
                    if let Input::Transcript { request, text } = &mut input
                        && self.engines.phrases_by_time.is_empty()
                        && !self.abandoned.contains(request)
                    {
                        let next = self.engines.transcripts.get(self.transcripts_used);
                        *text = next.cloned().unwrap_or_default();
                        self.transcripts_used += 1;
                    }
                    self.feed(due, input);
                }
                (_, Some(d)) if d <= until => self.feed(d, Input::Tick),
                _ => return,
            }
        }
    }

    /// The virtual speaker carries out a pending flush and pause or resume, then plays one
    /// frame of queued audio starting at `frame_start`.
    fn play(&mut self, frame_start: u64) {
        self.carry_out_flush();
        self.speaker.hold(self.hold_asked, 16_000);
        let mut frame = [0.0f32; FRAME_SAMPLES];
        let n = self.speaker.pull_played(&mut frame);
        if let Some(mark) = self.speaker.progress().mark {
            for k in 0..n as u64 {
                self.heard.push((frame_start + k, mark.id.turn));
            }
        }
    }

    fn carry_out_flush(&mut self) {
        if self.flush_asked > self.speaker.flushes() {
            self.speaker.flush(self.flush_asked);
        }
    }

    /// Times at which outputs matching `f` were emitted.
    pub fn times_of(&self, f: impl Fn(&Output) -> bool) -> Vec<u64> {
        self.log
            .iter()
            .filter(|(_, o)| f(o))
            .map(|(t, _)| *t)
            .collect()
    }
}
