//! Model-free agent test: 200 conversations, each interrupted at a different point of the reply,
//! driven by scripted VAD probabilities and instant fake engines, with the transports' own
//! playback queue as the speaker (it carries out a flush at its next period, like a transport).
//! At every interruption the heard text the agent records must be exactly the words of the audio
//! the speaker really played, and the reply must never stay "playing".

use duplex_core::agent::{Agent, AgentConfig, AgentEvent, ChunkText, Input, Output, TurnId};
use duplex_core::playback::{ChunkId, PlaybackQueue};
use duplex_core::{FRAME_SAMPLES, vad::VAD_CHUNK};

/// Cuts at sentence ends, at once.
struct Sentences(String);

impl ChunkText for Sentences {
    fn push(&mut self, text: &str) -> Vec<String> {
        self.0.push_str(text);
        if self.0.ends_with('.') {
            vec![std::mem::take(&mut self.0).trim().to_owned()]
        } else {
            Vec::new()
        }
    }
    fn finish(&mut self) -> Vec<String> {
        let rest = std::mem::take(&mut self.0).trim().to_owned();
        if rest.is_empty() {
            Vec::new()
        } else {
            vec![rest]
        }
    }
}

const REPLY: [&str; 3] = [
    "One two three four five.",
    " Six seven eight nine ten eleven.",
    " Twelve thirteen fourteen.",
];

/// Samples of speech per word of a chunk (250 ms).
const WORD_SAMPLES: usize = 4000;

/// A sample value that names its chunk, so the speaker's output tells what was played.
fn code(id: ChunkId) -> f32 {
    (id.turn.0 * 10 + u64::from(id.chunk) + 1) as f32
}

/// A tiny deterministic generator for the interruption points.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The conversation harness: the agent, instant engines and the speaker.
struct Harness {
    agent: Agent,
    now: u64,
    vad_pos: u64,
    speaker: PlaybackQueue,
    flush_asked: u64,
    /// Samples of each chunk that came out of the speaker.
    played: std::collections::HashMap<u64, u64>,
    texts: std::collections::HashMap<u64, (String, u64)>,
    events: Vec<AgentEvent>,
}

impl Harness {
    fn new() -> Self {
        Self {
            agent: Agent::new(AgentConfig::default(), || {
                Box::new(Sentences(String::new()))
            }),
            now: 0,
            vad_pos: 0,
            speaker: PlaybackQueue::new(),
            flush_asked: 0,
            played: Default::default(),
            texts: Default::default(),
            events: Vec::new(),
        }
    }

    fn feed(&mut self, input: Input) {
        self.agent.handle(self.now, input);
        while let Some(out) = self.agent.poll() {
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
                        text: "tell me something".into(),
                    },
                ),
                Output::Generate { turn, .. } => {
                    for token in REPLY {
                        let text = token.to_owned();
                        self.agent.handle(self.now, Input::LlmToken { turn, text });
                    }
                    self.agent.handle(self.now, Input::LlmDone { turn });
                }
                Output::Synthesize { turn, chunk, text } => {
                    let id = ChunkId { turn, chunk };
                    let words = text.split_whitespace().count();
                    let len = (words * WORD_SAMPLES) as u64;
                    self.texts.insert(code(id) as u64, (text, len));
                    let samples = vec![code(id); len as usize];
                    self.agent.handle(
                        self.now,
                        Input::Synthesized {
                            turn,
                            chunk,
                            rate: 16_000,
                            samples,
                        },
                    );
                }
                Output::Play {
                    turn,
                    chunk,
                    samples,
                    ..
                } => self.speaker.push(ChunkId { turn, chunk }, samples),
                Output::Flush { epoch } => self.flush_asked = epoch,
                Output::Event(e) => self.events.push(e),
                Output::Cancel(_) | Output::Abandon(_) => {}
            }
        }
    }

    /// One 20 ms frame: the speaker plays (after carrying out a flush), then the user's audio.
    fn frame(&mut self, speech: bool) {
        if self.flush_asked > self.speaker.flushes() {
            self.speaker.flush(self.flush_asked);
        }
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

    fn frames(&mut self, n: u64, speech: bool) {
        for _ in 0..n {
            self.frame(speech);
        }
    }

    /// The words of `turn` that the speaker really played, by the share of each chunk's samples.
    fn truly_heard(&self, turn: TurnId) -> String {
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

#[test]
fn two_hundred_interruptions_cut_the_history_exactly_where_playback_stopped() {
    let mut h = Harness::new();
    let mut rng = Lcg(7);
    let reply_frames = REPLY
        .iter()
        .map(|c| c.split_whitespace().count() * WORD_SAMPLES / FRAME_SAMPLES)
        .sum::<usize>() as u64;
    for round in 0..200 {
        // The user asks (1 s), then listens for a random share of the reply, then cuts in and
        // keeps talking long enough to take the floor, then pauses.
        h.frames(50, true);
        h.frames(25, false);
        let turn = h.agent.current_turn().expect("a reply started");
        // (Cut-ins late enough to outlast the reply before they count are issue 14's case.)
        h.frames(rng.below(reply_frames - 60) + 1, false);
        h.frames(40, true);
        h.frames(30, false);
        let cut = h.events.iter().find_map(|e| match e {
            AgentEvent::AssistantText {
                turn: t,
                text,
                interrupted: true,
                ..
            } if *t == turn => Some(text.clone()),
            _ => None,
        });
        let cut = cut
            .unwrap_or_else(|| panic!("round {round}: turn {turn:?} was not cut: {:#?}", h.events));
        assert_eq!(cut, h.truly_heard(turn), "round {round}");
        // The answer to the interruption plays to its end; nothing is left playing.
        h.frames(reply_frames + 30, false);
        assert!(!h.agent.is_busy(), "round {round}: still busy");
        h.events.clear();
    }
}

#[test]
fn a_cut_whose_flush_is_never_confirmed_is_still_recorded_at_the_end() {
    let mut h = Harness::new();
    h.frames(50, true);
    h.frames(25, false);
    let turn = h.agent.current_turn().expect("a reply started");
    h.frames(40, false);
    // The user cuts in, and the transport goes away: nothing plays or reports any more.
    for _ in 0..40 {
        h.now += FRAME_SAMPLES as u64;
        h.feed(Input::Audio(vec![0.3; FRAME_SAMPLES]));
        while h.vad_pos + VAD_CHUNK as u64 <= h.now {
            let start = h.vad_pos;
            h.feed(Input::Vad {
                start,
                probability: 0.95,
            });
            h.vad_pos += VAD_CHUNK as u64;
        }
    }
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, AgentEvent::AssistantText { turn: t, .. } if *t == turn))
    );
    h.agent.end();
    h.feed(Input::Tick);
    let heard = h.events.iter().find_map(|e| match e {
        AgentEvent::AssistantText {
            turn: t,
            text,
            interrupted: true,
            ..
        } if *t == turn => Some(text.clone()),
        _ => None,
    });
    assert_eq!(heard.as_deref(), Some(h.truly_heard(turn).as_str()));
}
