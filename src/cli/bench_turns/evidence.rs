//! What a session over one recording tells of its turn-taking: the end-of-turn decisions it
//! took, and for every pause the evidence the core decides on (where the speech ended, when the
//! pause was confirmed, smart-turn's score, the rise, the words), so that other endpoint
//! settings can be replayed through the core's own [`EndpointConfig::decide`].

use std::sync::{Arc, Mutex};

use duplex::agent::{AgentEvent, EndpointConfig, PauseEvidence};
use duplex::audio::{FRAME_SAMPLES, PIPELINE_RATE};
use duplex::cancel::CancelToken;
use duplex::runtime::{EngineError, Respond, SessionEvent, SessionEventKind};
use serde::Serialize;

/// The session's language model, passed through, keeping the user's words of each reply asked
/// for (the k-th request is turn k: the core numbers turns in the order it asks).
pub struct WordsKept {
    inner: Box<dyn Respond>,
    words: Arc<Mutex<Vec<String>>>,
}

impl WordsKept {
    /// Wraps `inner`; the words go to `words`.
    pub fn new(inner: Box<dyn Respond>, words: Arc<Mutex<Vec<String>>>) -> Self {
        Self { inner, words }
    }
}

impl Respond for WordsKept {
    fn respond(
        &mut self,
        user_text: &str,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        if let Ok(mut words) = self.words.lock() {
            words.push(user_text.to_owned());
        }
        self.inner.respond(user_text, cancel, on_token)
    }
    fn heard(&mut self, text: &str, interrupted: bool, acknowledged: &[String]) {
        self.inner.heard(text, interrupted, acknowledged);
    }
    fn retract(&mut self) {
        self.inner.retract();
    }
    fn notices(&mut self) -> Vec<EngineError> {
        self.inner.notices()
    }
}

/// One pause as the core saw it (input samples, 16 kHz).
#[derive(Debug, Clone, Serialize)]
pub struct Pause {
    /// Where the speech ended.
    pub speech_end: u64,
    /// When the pause was confirmed.
    pub detected_at: u64,
    /// smart-turn's probability that the turn is complete, the rise, and when it arrived.
    pub score: Option<(f32, f32, u64)>,
    /// The words a reply was started on, and when (`None`: no reply, nothing intelligible).
    pub reply: Option<(String, u64)>,
    /// When the voice detector reported the user speaking again.
    pub resumed_at: Option<u64>,
}

/// What one session did.
#[derive(Debug, Default)]
pub struct SessionTurns {
    /// Every end-of-turn decision, in seconds of the recording.
    pub decisions_s: Vec<f64>,
    /// Every pause, in order.
    pub pauses: Vec<Pause>,
}

/// Reads a session's events; `words[k]` are the user's words of turn k + 1.
pub fn read_events(events: &[SessionEvent], words: &[String]) -> SessionTurns {
    let mut turns = SessionTurns::default();
    let mut last_turn = 0;
    for event in events {
        let SessionEventKind::Agent(agent) = &event.kind else {
            continue;
        };
        let pause = turns.pauses.last_mut();
        match agent {
            AgentEvent::UserSpeechEnd { at } => turns.pauses.push(Pause {
                speech_end: *at,
                detected_at: event.at,
                score: None,
                reply: None,
                resumed_at: None,
            }),
            AgentEvent::UserSpeechStart { .. } => {
                if let Some(p) = pause {
                    p.resumed_at.get_or_insert(event.at);
                }
            }
            AgentEvent::TurnScored {
                at,
                probability,
                rise,
            } => {
                if let Some(p) = pause.filter(|p| p.score.is_none()) {
                    p.score = Some((*probability, *rise, *at));
                }
            }
            AgentEvent::FirstToken { turn, at }
            | AgentEvent::EndOfTurn { turn, at, .. }
            | AgentEvent::ReplyAbandoned { turn, at } => {
                if let AgentEvent::EndOfTurn { at, .. } = agent {
                    turns
                        .decisions_s
                        .push(*at as f64 / f64::from(PIPELINE_RATE));
                }
                if turn.0 > last_turn {
                    last_turn = turn.0;
                    let text = words.get(turn.0 as usize - 1).cloned().unwrap_or_default();
                    if let Some(p) = pause.filter(|p| p.reply.is_none()) {
                        p.reply = Some((text, *at));
                    }
                }
            }
            _ => {}
        }
    }
    turns
}

/// When the core would end the turn at `pause` under `config`: once the deadline its
/// [`EndpointConfig::decide`] sets has passed (at the next input frame) and the score and the
/// reply are in, unless the user spoke first. Pauses are replayed alone: a cut-off earlier in
/// the recording does not change what follows, as it would in a session.
pub fn replay(config: &EndpointConfig, pause: &Pause) -> Option<u64> {
    let (probability, rise, scored_at) = pause.score?;
    let (words, reply_at) = pause.reply.as_ref()?;
    let deadline = config.decide(&PauseEvidence {
        speech_end: pause.speech_end,
        detected_at: pause.detected_at,
        probability,
        rise,
        transcript: Some(words),
    });
    let frame = FRAME_SAMPLES as u64;
    let at = deadline.div_ceil(frame) * frame;
    let at = at.max(scored_at).max(*reply_at);
    pause.resumed_at.is_none_or(|r| at <= r).then_some(at)
}

/// Every decision `config` would take over the pauses, in seconds.
pub fn replay_all(config: &EndpointConfig, pauses: &[Pause]) -> Vec<f64> {
    pauses
        .iter()
        .filter_map(|p| replay(config, p))
        .map(|at| at as f64 / f64::from(PIPELINE_RATE))
        .collect()
}
