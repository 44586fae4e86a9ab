//! A session's non-verbal cues ([`crate::cues`]): the microphone's audio goes to a cue tracker as
//! it arrives (the signal work overlaps the user's speech), a user turn starts at its first
//! speech, and when the turn goes to the language model its cues are judged with the transcript,
//! recorded as an event, and (when `[agent] cue_notes` is on) written beside the user's words as a
//! short note for the model; the reply's pace follows the user's (a quick speaker gets a
//! slightly quicker voice, a slow one a slightly slower one). At each pause the rise so far goes
//! to the end-of-turn decision beside the turn-end model's score.

use crate::agent::{AgentEvent, Output, TurnId};
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
    /// Whether notes are added to the user's words for the model.
    notes: bool,
}

impl CueFeed {
    /// A feed for a new speaker; `notes`: add the confident cues' note to the model's input.
    pub fn new(notes: bool) -> Self {
        Self {
            tracker: CueTracker::new(),
            in_turn: false,
            notes,
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

    /// Looks at what the agent core asked for: a speech start opens a turn; a request for a
    /// reply closes it, and gets the note when notes are on. Returns the turn's cues then.
    pub fn observe(&mut self, output: &mut Output) -> Option<TurnCueReport> {
        match output {
            Output::Event(AgentEvent::UserSpeechStart { .. }) if !self.in_turn => {
                self.in_turn = true;
                self.tracker.restart(PRE_ROLL_FRAMES);
                None
            }
            Output::Generate { turn, user_text } => {
                self.in_turn = false;
                let cues = self.tracker.finish(Some(user_text));
                if self.notes && !cues.annotation.is_empty() {
                    user_text.push(' ');
                    user_text.push_str(&cues.annotation);
                }
                Some(TurnCueReport {
                    turn: *turn,
                    pace: reply_pace(&cues.cues),
                    cues: cues.cues,
                    note: cues.annotation,
                })
            }
            _ => None,
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
    fn a_turn_opens_at_speech_and_its_cues_go_with_the_request() {
        let mut feed = CueFeed::new(true);
        // Half a second of a steady 150 Hz voice, then the request for a reply.
        let voice: Vec<f32> = (0..8_000)
            .map(|i| 0.3 * (i as f32 * 150.0 * std::f32::consts::TAU / 16_000.0).sin())
            .collect();
        let mut start = Output::Event(AgentEvent::UserSpeechStart { at: 0 });
        assert!(feed.observe(&mut start).is_none());
        feed.push(&voice);
        let mut request = Output::Generate {
            turn: TurnId(1),
            user_text: "Hello there".into(),
        };
        let report = feed.observe(&mut request).expect("the turn's cues");
        assert_eq!(report.turn, TurnId(1));
        let Output::Generate { user_text, .. } = request else {
            unreachable!()
        };
        // With notes on, the words carry the note exactly when there is one.
        assert!(user_text.starts_with("Hello there"));
        assert_eq!(
            user_text.len() > "Hello there".len(),
            !report.note.is_empty()
        );
    }
}
