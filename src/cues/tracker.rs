//! The incremental cue tracker: audio goes in while the user speaks (any chunk size, usually
//! 20 ms), and the cues come out when the turn ends.
//!
//! All signal processing (YIN and loudness, one 10 ms frame at a time) happens in
//! [`CueTracker::push`], so it overlaps the user's speech. [`CueTracker::finish`] only summarises
//! the turn's frames (about 100 small records a second: microseconds), adds what the transcript
//! tells, decides the cues against the speaker's baseline and then updates that baseline.

use super::annotation::annotation;
use super::baseline::SpeakerBaseline;
use super::decide::{Cue, RateBasis, decide};
use super::pitch::{Frame, PitchTracker};
use super::prosody::{TurnFeatures, measure};
use super::transcript;

/// Longest turn whose frames are kept (older frames are dropped: 60 s).
const MAX_FRAMES: usize = 6_000;

/// What one turn said beyond its words.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnCues {
    /// Every cue with its confidence, most confident first.
    pub cues: Vec<Cue>,
    /// The note for the language model: confident cues only, empty if none.
    pub annotation: String,
    /// The measurements the cues were decided from.
    pub features: TurnFeatures,
    /// Syllables counted in the transcript, if one was given.
    pub transcript_syllables: Option<usize>,
    /// How the rate was judged, if it could be.
    pub rate_basis: Option<RateBasis>,
}

impl TurnCues {
    /// The confidence of one kind of cue (0 if it was not decided).
    pub fn confidence(&self, kind: super::decide::CueKind) -> f32 {
        self.cues
            .iter()
            .find(|c| c.kind == kind)
            .map_or(0.0, |c| c.confidence)
    }
}

/// Tracks one speaker's turns.
#[derive(Debug, Clone, Default)]
pub struct CueTracker {
    pitch: PitchTracker,
    frames: Vec<Frame>,
    baseline: SpeakerBaseline,
}

impl CueTracker {
    /// A tracker for a speaker not heard yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker that starts from a known baseline (e.g. kept from an earlier session).
    pub fn with_baseline(baseline: SpeakerBaseline) -> Self {
        Self {
            baseline,
            ..Self::default()
        }
    }

    /// The speaker's baseline as learnt so far.
    pub fn baseline(&self) -> &SpeakerBaseline {
        &self.baseline
    }

    /// Feeds 16 kHz mono audio of the current turn.
    pub fn push(&mut self, samples: &[f32]) {
        let frames = &mut self.frames;
        self.pitch.push(samples, |f| frames.push(f));
        if frames.len() > MAX_FRAMES {
            frames.drain(..frames.len() - MAX_FRAMES);
        }
    }

    /// Confidence that the turn so far ends in a rise, without ending it: for the end-of-turn
    /// decision at a pause (microseconds: it only summarises the frames).
    pub fn rise_so_far(&self) -> f32 {
        super::decide::question_rise(&measure(&self.frames))
    }

    /// Starts a new turn, keeping only the last `keep` frames of 10 ms (the speech just before a
    /// voice-activity detector noticed it). The baseline stays.
    pub fn restart(&mut self, keep: usize) {
        let drop = self.frames.len().saturating_sub(keep);
        self.frames.drain(..drop);
    }

    /// Ends the turn: the cues, given the transcript if there is one. The baseline then learns
    /// from this turn, and the tracker is ready for the next.
    pub fn finish(&mut self, transcript: Option<&str>) -> TurnCues {
        let cues = self.judge(transcript);
        self.baseline
            .observe(&cues.features, cues.transcript_syllables);
        cues
    }

    /// Ends the turn like [`Self::finish`] but leaves the baseline as it is (for a turn that
    /// should not count as this speaker's usual, or for evaluation).
    pub fn judge(&mut self, transcript: Option<&str>) -> TurnCues {
        let features = measure(&self.frames);
        self.frames.clear();
        self.pitch.reset();
        let syllables = transcript.map(transcript::syllables);
        let fillers = transcript.map_or(0, transcript::fillers);
        let (cues, rate_basis) = decide(&features, syllables, fillers, &self.baseline);
        TurnCues {
            annotation: annotation(&cues),
            cues,
            features,
            transcript_syllables: syllables,
            rate_basis,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::decide::CueKind;
    use super::super::pitch::tests::glide;
    use super::*;

    /// A "sentence" of `syllables` voiced bursts, `each` seconds apart, pitch stepping down, then
    /// an optional final rise.
    fn sentence(syllables: usize, each: f32, rise: bool) -> Vec<f32> {
        let mut out = vec![0.0; 3200];
        for i in 0..syllables {
            let f0 = 190.0 - 3.0 * i as f32;
            let is_last = i + 1 == syllables;
            let end = if is_last && rise { f0 * 1.5 } else { f0 - 2.0 };
            out.extend(glide(f0, end, each * if is_last { 2.0 } else { 0.65 }));
            out.extend(vec![0.0; (each * 0.35 * 16_000.0) as usize]);
        }
        out.extend(vec![0.0; 4800]);
        out
    }

    #[test]
    fn a_rising_turn_is_annotated_and_a_flat_one_is_not() {
        let mut tracker = CueTracker::new();
        for chunk in sentence(8, 0.2, true).chunks(320) {
            tracker.push(chunk);
        }
        let asked = tracker.finish(None);
        assert!(asked.confidence(CueKind::QuestionRise) > 0.9, "{asked:?}");
        assert!(asked.annotation.contains("rising at the end"));
        tracker.push(&sentence(8, 0.2, false));
        let told = tracker.finish(None);
        assert!(told.confidence(CueKind::QuestionRise) < 0.1, "{told:?}");
    }

    #[test]
    fn the_same_speaker_faster_is_fast() {
        let mut tracker = CueTracker::new();
        for _ in 0..3 {
            tracker.push(&sentence(10, 0.22, false));
            let usual = tracker.finish(Some("one two three four five six seven eight nine ten"));
            assert!(usual.confidence(CueKind::Fast) < 0.5, "{usual:?}");
        }
        tracker.push(&sentence(10, 0.15, false));
        let quick = tracker.judge(Some("one two three four five six seven eight nine ten"));
        assert_eq!(quick.rate_basis, Some(RateBasis::Speaker));
        assert!(quick.confidence(CueKind::Fast) > 0.9, "{quick:?}");
        assert!(quick.annotation.contains("said quickly"));
        tracker.push(&sentence(10, 0.32, false));
        let slow = tracker.judge(None);
        assert!(slow.confidence(CueKind::Slow) > 0.9, "{slow:?}");
    }
}
