//! A session's non-verbal cues ([`crate::cues`]): the microphone's audio goes to a cue tracker as
//! it arrives (the signal work overlaps the user's speech), a user turn starts at its first
//! speech, and when the turn goes to the language model its cues are judged with the transcript,
//! recorded as an event, and (when `[agent] cue_notes` is on) written beside the user's words as a
//! short note for the model.

use crate::agent::{AgentEvent, Output, TurnId};
use crate::cues::{Cue, CueTracker};

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
                    cues: cues.cues,
                    note: cues.annotation,
                })
            }
            _ => None,
        }
    }
}
