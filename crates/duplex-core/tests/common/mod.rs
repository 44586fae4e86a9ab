//! A model-free conversation harness for the agent tests: scripted VAD probabilities, instant
//! fake engines, and the transports' own playback queue as the speaker (it carries out a flush,
//! a pause or a resume at its next period, like a transport). It counts what the speaker really
//! played of each chunk, so a test can compare the agent's record of what was heard with it.
//! With a tool call set, the fake model says [`CALL_PREAMBLE`] and asks for the call instead of
//! replying; asked again with the results, it gives the usual reply. Tool calls are not run:
//! a test answers them itself, when it chooses.

#![allow(dead_code)]

use duplex_core::agent::{
    Agent, AgentConfig, AgentEvent, Input, Output, SentenceEnds, ToolCall, ToolCallId, TurnId,
};
use duplex_core::playback::{ChunkId, PlaybackQueue};
use duplex_core::{FRAME_SAMPLES, vad::VAD_CHUNK};

/// Cuts at sentence ends, at once.
pub const REPLY: [&str; 3] = [
    "One two three four five.",
    " Six seven eight nine ten eleven.",
    " Twelve thirteen fourteen.",
];

/// What the fake model says before asking for a tool call.
pub const CALL_PREAMBLE: &str = "Let me check.";

/// Samples of speech per word of a chunk (250 ms).
pub const WORD_SAMPLES: usize = 4000;

/// A sample value that names its chunk, so the speaker's output tells what was played.
pub fn code(id: ChunkId) -> f32 {
    (id.turn.0 * 10 + u64::from(id.chunk) + 1) as f32
}

/// A tiny deterministic generator for the interruption points.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The conversation harness: the agent, instant engines and the speaker.
pub struct Harness {
    /// What the fake transcriber answers.
    pub transcript: String,
    /// The note the fake cue tracker gives each turn (`None`: it never answers).
    pub cue_note: Option<String>,
    /// The tool call the fake model asks for in each reply (its id gets the turn and round).
    pub call: Option<ToolCall>,
    /// How many generations of a reply ask for the call (then it replies).
    pub calls_per_reply: u32,
    /// The fake model streams nothing: the test feeds the reply's tokens itself.
    pub hold_generation: bool,
    /// Generations asked for a turn so far.
    rounds: std::collections::HashMap<TurnId, u32>,
    /// Tool calls asked for, with when, in order.
    pub tool_runs: Vec<(u64, TurnId, ToolCall)>,
    /// Tool calls cancelled, with when.
    pub tool_cancels: Vec<(u64, ToolCallId)>,
    pub agent: Agent,
    pub now: u64,
    pub vad_pos: u64,
    pub speaker: PlaybackQueue,
    flush_asked: u64,
    hold_asked: u64,
    /// Samples of each chunk that came out of the speaker.
    played: std::collections::HashMap<u64, u64>,
    texts: std::collections::HashMap<u64, (String, u64)>,
    /// Synthesized audio kept until the agent says to play it.
    audio: std::collections::HashMap<ChunkId, Vec<f32>>,
    pub events: Vec<AgentEvent>,
    /// Every output, with the input position it was emitted at.
    pub log: Vec<(u64, Output)>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(AgentConfig::default())
    }

    pub fn with_config(config: AgentConfig) -> Self {
        Self {
            agent: Agent::new(config, || Box::new(SentenceEnds::default())),
            now: 0,
            vad_pos: 0,
            speaker: PlaybackQueue::new(),
            flush_asked: 0,
            hold_asked: 0,
            played: Default::default(),
            texts: Default::default(),
            audio: Default::default(),
            events: Vec::new(),
            log: Vec::new(),
            transcript: "tell me something".into(),
            cue_note: Some(String::new()),
            call: None,
            calls_per_reply: 1,
            hold_generation: false,
            rounds: Default::default(),
            tool_runs: Vec::new(),
            tool_cancels: Vec::new(),
        }
    }

    pub fn feed(&mut self, input: Input) {
        self.agent.handle(self.now, input);
        while let Some(out) = self.agent.poll() {
            self.log.push((self.now, out.clone()));
            match out {
                Output::ScoreTurn { request, .. } => self.agent.handle(
                    self.now,
                    Input::TurnScore {
                        request,
                        probability: 0.9,
                    },
                ),
                Output::Transcribe { request, .. } => self.agent.handle(
                    self.now,
                    Input::Transcript {
                        request,
                        text: self.transcript.clone(),
                    },
                ),
                Output::Generate { turn, .. } | Output::GenerateAfterTools { turn, .. } => {
                    self.generate(turn)
                }
                Output::RunTool { turn, call } => self.tool_runs.push((self.now, turn, call)),
                Output::CancelTool { id } => self.tool_cancels.push((self.now, id)),
                Output::Synthesize { turn, chunk, text } => {
                    let id = ChunkId { turn, chunk };
                    let words = text.split_whitespace().count();
                    let len = (words * WORD_SAMPLES) as u64;
                    self.texts.insert(code(id) as u64, (text, len));
                    self.audio.insert(id, vec![code(id); len as usize]);
                    self.agent
                        .handle(self.now, Input::Synthesized { turn, chunk });
                }
                Output::Play { turn, chunk } => {
                    // Like a transport: a chunk sent after a flush waits for the flush.
                    self.carry_out_flush();
                    let id = ChunkId { turn, chunk };
                    let samples = self
                        .audio
                        .remove(&id)
                        .expect("played once, after synthesis");
                    self.speaker.push(id, samples)
                }
                Output::Flush { epoch } => self.flush_asked = epoch,
                Output::Hold { epoch } => self.hold_asked = epoch,
                Output::Event(e) => self.events.push(e),
                Output::DescribeCues { turn, .. } => {
                    if let Some(note) = self.cue_note.clone() {
                        self.agent.handle(self.now, Input::CueNote { turn, note });
                    }
                }
                Output::MeasureRise { .. }
                | Output::Cancel(_)
                | Output::Abandon(_)
                | Output::Backchannel { .. }
                | Output::StopBackchannel => {}
            }
        }
    }

    /// The fake model: a tool call while the reply's rounds last, else [`REPLY`]; nothing when
    /// generation is held.
    fn generate(&mut self, turn: TurnId) {
        if self.hold_generation {
            return;
        }
        let round = self.rounds.entry(turn).or_default();
        *round += 1;
        let round = *round;
        let call = self.call.clone().filter(|_| round <= self.calls_per_reply);
        let tokens: Vec<&str> = match call {
            Some(_) => vec![CALL_PREAMBLE],
            None => REPLY.to_vec(),
        };
        for token in tokens {
            let text = token.to_owned();
            self.agent.handle(self.now, Input::LlmToken { turn, text });
        }
        if let Some(mut call) = call {
            call.id = ToolCallId(format!("{}-{}-{round}", call.id.0, turn.0));
            self.agent.handle(self.now, Input::ToolCall { turn, call });
        }
        self.agent.handle(
            self.now,
            Input::LlmDone {
                turn,
                failed: false,
            },
        );
    }

    /// How the agent closed `turn`: the text heard, whether it was interrupted, and what the user
    /// acknowledged over it.
    pub fn assistant_text(&self, turn: TurnId) -> Option<(String, bool, Vec<String>)> {
        self.events.iter().find_map(|e| match e {
            AgentEvent::AssistantText {
                turn: t,
                text,
                interrupted,
                acknowledged,
                ..
            } if *t == turn => Some((text.clone(), *interrupted, acknowledged.clone())),
            _ => None,
        })
    }

    /// The text heard of `turn`, if the user cut it.
    pub fn cut_text(&self, turn: TurnId) -> Option<String> {
        self.assistant_text(turn)
            .filter(|(_, interrupted, _)| *interrupted)
            .map(|(text, _, _)| text)
    }

    fn carry_out_flush(&mut self) {
        if self.flush_asked > self.speaker.flushes() {
            self.speaker.flush(self.flush_asked);
        }
    }

    /// One 20 ms frame: the speaker plays (after carrying out a flush and a pause or resume), then
    /// the user's audio.
    pub fn frame(&mut self, speech: bool) {
        self.carry_out_flush();
        self.speaker.hold(self.hold_asked, 16_000);
        let mut out = [0.0f32; FRAME_SAMPLES];
        let n = self.speaker.pull_played(&mut out);
        for s in &out[..n] {
            *self.played.entry(*s as u64).or_default() += 1;
        }
        self.now += FRAME_SAMPLES as u64;
        self.feed(Input::Audio(vec![
            if speech { 0.3 } else { 0.0 };
            FRAME_SAMPLES
        ]));
        while self.vad_pos + VAD_CHUNK as u64 <= self.now {
            let probability = if speech { 0.95 } else { 0.02 };
            let start = self.vad_pos;
            self.feed(Input::Vad { start, probability });
            self.vad_pos += VAD_CHUNK as u64;
        }
        self.feed(Input::Played(self.speaker.progress()));
    }

    pub fn frames(&mut self, n: u64, speech: bool) {
        for _ in 0..n {
            self.frame(speech);
        }
    }

    /// The words of `turn` that the speaker really played, by the share of each chunk's samples.
    pub fn truly_heard(&self, turn: TurnId) -> String {
        let mut words: Vec<&str> = Vec::new();
        for chunk in 0..REPLY.len() as u32 {
            let key = code(ChunkId { turn, chunk }) as u64;
            let Some((text, len)) = self.texts.get(&key) else {
                continue;
            };
            let played = self.played.get(&key).copied().unwrap_or(0);
            let all: Vec<&str> = text.split_whitespace().collect();
            let n = (all.len() as f64 * played as f64 / *len as f64).floor() as usize;
            words.extend(&all[..n]);
        }
        words.join(" ")
    }
}
