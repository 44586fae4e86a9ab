//! A session's non-verbal cues ([`crate::cues`]): the microphone's audio goes to a cue tracker as
//! it arrives (the signal work overlaps the user's speech), and a user turn starts at its first
//! speech. The agent core asks the rest: at each pause the rise so far
//! ([`Output::MeasureRise`](crate::agent::Output::MeasureRise)), which goes to the end-of-turn
//! decision beside the turn-end model's score; and, when the turn goes to the language model, its
//! cues judged with the transcript
//! ([`Output::DescribeCues`](crate::agent::Output::DescribeCues)): recorded as an event, given
//! back as a short note that the core puts beside the user's words when `[llm] cue_notes` is on,
//! and setting the reply's pace (a quick speaker gets a slightly quicker voice, a slow one a
//! slightly slower one).

use crate::agent::TurnId;
use crate::cues::{Cue, CueKind, CueTracker, MIN_CONFIDENCE};

/// The reply's length factor for a user who spoke quickly, and for one who spoke slowly: the
/// agent follows the user's pace, within bounds a listener would not find odd.
const QUICK_REPLY: f32 = 0.85;
const SLOW_REPLY: f32 = 1.2;

/// The reply's pace (length factor) for a turn's cues.
fn reply_pace(cues: &[Cue]) -> f32 {
    let sure = |kind| {
        cues.iter()
            .any(|c| c.kind == kind && c.confidence >= MIN_CONFIDENCE)
    };
    if sure(CueKind::Fast) {
        QUICK_REPLY
    } else if sure(CueKind::Slow) {
        SLOW_REPLY
    } else {
        1.0
    }
}

/// Frames of 10 ms kept from before a turn's speech was noticed (the detector's delay).
const PRE_ROLL_FRAMES: usize = 50;

/// What a turn's cues were.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TurnCueReport {
    /// The turn.
    pub turn: TurnId,
    /// Every cue decided, with its confidence.
    pub cues: Vec<Cue>,
    /// The note for the model (confident cues only; empty if none).
    pub note: String,
    /// The reply's pace as a length factor: a little quicker for a user who spoke quickly, a
    /// little slower for one who spoke slowly, else 1.0.
    pub pace: f32,
}

/// The session's cue tracker and where its turn stands.
pub struct CueFeed {
    tracker: CueTracker,
    /// Whether the user's turn has started (since the last turn went to the model).
    in_turn: bool,
}

impl Default for CueFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl CueFeed {
    /// A feed for a new speaker.
    pub fn new() -> Self {
        Self {
            tracker: CueTracker::new(),
            in_turn: false,
        }
    }

    /// The next microphone samples (16 kHz).
    pub fn push(&mut self, samples: &[f32]) {
        self.tracker.push(samples);
    }

    /// Confidence that the user's turn so far ends in a rise (0 outside a turn).
    pub fn rise_so_far(&self) -> f32 {
        if self.in_turn {
            self.tracker.rise_so_far()
        } else {
            0.0
        }
    }

    /// The user started speaking: opens a turn, unless one is open.
    pub fn speech_started(&mut self) {
        if !self.in_turn {
            self.in_turn = true;
            self.tracker.restart(PRE_ROLL_FRAMES);
        }
    }

    /// Closes the turn that goes to the model with `user_text`, and judges its cues.
    pub fn describe(&mut self, turn: TurnId, user_text: &str) -> TurnCueReport {
        self.in_turn = false;
        let cues = self.tracker.finish(Some(user_text));
        TurnCueReport {
            turn,
            pace: reply_pace(&cues.cues),
            cues: cues.cues,
            note: cues.annotation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(kind: CueKind, confidence: f32) -> Cue {
        Cue { kind, confidence }
    }

    #[test]
    fn the_reply_follows_a_confident_pace_only() {
        assert_eq!(reply_pace(&[cue(CueKind::Fast, 0.9)]), QUICK_REPLY);
        assert_eq!(reply_pace(&[cue(CueKind::Slow, 0.8)]), SLOW_REPLY);
        assert_eq!(reply_pace(&[cue(CueKind::Fast, 0.3)]), 1.0);
        assert_eq!(reply_pace(&[cue(CueKind::QuestionRise, 0.99)]), 1.0);
    }

    #[test]
    fn a_turn_opens_at_speech_and_closes_when_its_cues_are_described() {
        let mut feed = CueFeed::new();
        // Half a second of a steady 150 Hz voice.
        let voice: Vec<f32> = (0..8_000)
            .map(|i| 0.3 * (i as f32 * 150.0 * std::f32::consts::TAU / 16_000.0).sin())
            .collect();
        feed.push(&voice);
        assert!(!feed.in_turn && feed.rise_so_far() == 0.0, "no turn yet");
        feed.speech_started();
        feed.push(&voice);
        assert!(feed.in_turn);
        let report = feed.describe(TurnId(1), "Hello there");
        assert_eq!(report.turn, TurnId(1));
        // The turn is closed: no rise until the next one opens.
        assert!(!feed.in_turn && feed.rise_so_far() == 0.0);
    }
}
