//! Backchannels: during a long user turn, at an inner pause that the turn-end model judged
//! incomplete, the agent may say a short "mm-hm" at low level, as a listener does, without taking
//! the floor. It never speaks over its own reply, waits a while between two, and is stopped at
//! the first voiced chunk of the user going on (the transport cuts it), so it overlaps their
//! speech by no more than one voice-detector chunk and the transport's queue. It is not a reply: nothing about the turn changes.

use serde::{Deserialize, Serialize};

use super::core::Agent;
use super::{AgentEvent, Output, ms};

/// When the agent says a backchannel: the `[agent.backchannel]` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BackchannelConfig {
    /// Whether to say them at all (`duplex talk` and `duplex serve` turn them on unless
    /// `--no-backchannels`).
    pub enabled: bool,
    /// The user must have spoken this long in the turn before the first one.
    pub min_speech_ms: u32,
    /// At least this long between two.
    pub min_gap_ms: u32,
    /// What to say, in turn.
    pub words: Vec<String>,
}

impl Default for BackchannelConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            min_speech_ms: 4000,
            min_gap_ms: 12_000,
            words: vec!["mm-hm".into(), "right".into()],
        }
    }
}

/// The core's record of its backchannels.
#[derive(Debug, Default)]
pub(super) struct Backchannels {
    /// When the last one was asked for.
    last_at: Option<u64>,
    /// Whether one may still be playing (not stopped since).
    live: bool,
    /// Which word comes next.
    next_word: usize,
    /// Whether the last voice-detector chunk was voiced: the user may already have gone on by
    /// the time the pause is judged.
    pub(super) user_voiced: bool,
}

impl Agent {
    /// At an inner pause of the utterance that began at `utterance_start` and paused at
    /// `speech_end`, judged not to end the turn: says a backchannel if the turn has gone on long
    /// enough, the last one was long enough ago, the agent's own voice is not playing, and the
    /// user has not already gone on (judging the pause takes a moment).
    pub(super) fn maybe_backchannel(&mut self, utterance_start: u64, speech_end: u64) {
        let config = &self.config.turns.backchannel;
        if !config.enabled
            || config.words.is_empty()
            || self.agent_audible()
            || self.backchannels.user_voiced
        {
            return;
        }
        if speech_end.saturating_sub(utterance_start) < ms(config.min_speech_ms) {
            return;
        }
        let gap = ms(config.min_gap_ms);
        if self
            .backchannels
            .last_at
            .is_some_and(|last| self.now < last + gap)
        {
            return;
        }
        let text = config.words[self.backchannels.next_word % config.words.len()].clone();
        self.backchannels.next_word += 1;
        self.backchannels.last_at = Some(self.now);
        self.backchannels.live = true;
        self.emit(Output::Backchannel { text: text.clone() });
        self.event(AgentEvent::Backchannel { at: self.now, text });
    }

    /// The user goes on (a voiced chunk, or confirmed speech), or the agent takes the floor: a
    /// backchannel still playing stops.
    pub(super) fn stop_backchannel(&mut self) {
        if std::mem::take(&mut self.backchannels.live) {
            self.emit(Output::StopBackchannel);
        }
    }
}
