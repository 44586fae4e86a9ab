//! Non-verbal cues of a user turn (issue 16, "hear"): what the voice says beyond the words.
//!
//! From the turn's 16 kHz audio, measured while the user speaks: the pitch contour (YIN, in
//! [`pitch`]), loudness against this speaker's running baseline ([`baseline`]), the speaking
//! rate from syllable nuclei in the audio or from the transcript's syllables ([`prosody`],
//! [`transcript`]), inner pauses and filled pauses. From these, a few cues with confidences
//! ([`decide`]): a final rise (question intonation), fast or slow speech, hesitation, emphasis.
//! The confident ones become a short note for the language model ([`annotation`]).
//!
//! Use a [`CueTracker`] per speaker: [`CueTracker::push`] the turn's audio as it arrives and
//! call [`CueTracker::finish`] with the transcript when the turn ends.

pub mod annotation;
pub mod baseline;
pub mod decide;
pub mod pitch;
pub mod prosody;
pub mod tracker;
pub mod transcript;

pub use annotation::{SYSTEM_HINT, annotation};
pub use baseline::SpeakerBaseline;
pub use decide::{Cue, CueKind, MIN_CONFIDENCE, RateBasis};
pub use tracker::{CueTracker, TurnCues};
