//! The speaker's running baseline: how fast, how high, how varied and how loud this person
//! usually speaks, learnt over their turns, so that "fast" or "loud" means "for them".
//!
//! Each measure is a running mean over the first [`WARM_TURNS`] turns and an exponential moving
//! average after that (recent turns weigh more, a mood change is followed). Turns with too little
//! speech to measure are skipped.
//!
//! The rate is kept per syllable slot ([`TurnFeatures::slot_rate`]: syllables plus one for the
//! end of the turn, per second), which a steady speaker keeps whether they say two words or
//! twenty, so short turns can teach the baseline and be judged against it. The plain rates
//! (syllables per second) are kept too, for a caller that set only those.

use super::prosody::TurnFeatures;

/// Turns averaged evenly before the moving average takes over.
pub const WARM_TURNS: u32 = 5;
/// Weight of a new turn once warm.
const RECENT_WEIGHT: f32 = 1.0 / WARM_TURNS as f32;
/// A turn needs this much articulation time to update the plain rates and loudness.
const MIN_ARTICULATION_S: f32 = 0.8;
/// A turn needs this much articulation time to update the per-slot rates (the slot rate does not
/// drift with the turn's length, so short turns count; shorter than this, the speech edges are
/// most of it).
const MIN_SLOT_ARTICULATION_S: f32 = 0.5;

/// One running average.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Running {
    /// The current value (meaningless while `turns` is 0).
    pub value: f32,
    /// Turns that contributed.
    pub turns: u32,
}

impl Running {
    /// Adds one turn's value.
    pub fn update(&mut self, x: f32) {
        self.turns += 1;
        let weight = if self.turns <= WARM_TURNS {
            1.0 / self.turns as f32
        } else {
            RECENT_WEIGHT
        };
        self.value += weight * (x - self.value);
    }

    /// The value, once at least one turn contributed.
    pub fn get(&self) -> Option<f32> {
        (self.turns > 0).then_some(self.value)
    }
}

/// What is normal for the current speaker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeakerBaseline {
    /// Syllables per second of articulation counted from transcripts.
    pub transcript_rate: Running,
    /// Syllable nuclei per second of articulation counted in the audio.
    pub nuclei_rate: Running,
    /// Transcript syllable slots per second ([`TurnFeatures::slot_rate`]).
    pub transcript_slot_rate: Running,
    /// Audio nuclei slots per second ([`TurnFeatures::slot_rate`] of the nuclei).
    pub nuclei_slot_rate: Running,
    /// Median pitch, semitones above 100 Hz.
    pub pitch_median_st: Running,
    /// Pitch spread (90th minus 10th percentile), semitones.
    pub pitch_range_st: Running,
    /// Median loudness of speech, dB.
    pub loudness_db: Running,
}

impl SpeakerBaseline {
    /// A speaker not heard yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns from one finished turn (its transcript's syllable count, if there was one).
    pub fn observe(&mut self, features: &TurnFeatures, transcript_syllables: Option<usize>) {
        self.observe_slots(features, transcript_syllables);
        if features.articulation_s >= MIN_ARTICULATION_S {
            if let Some(rate) = features.nuclei_rate() {
                self.nuclei_rate.update(rate);
            }
            if let Some(syllables) = transcript_syllables.filter(|&n| n > 0) {
                self.transcript_rate
                    .update(syllables as f32 / features.articulation_s);
            }
            self.loudness_db.update(features.loudness_db);
        }
        if features.has_contour() {
            self.pitch_median_st.update(features.pitch_median_st);
            self.pitch_range_st.update(features.pitch_range_st);
        }
    }

    /// Learns the per-slot rates of one turn.
    fn observe_slots(&mut self, features: &TurnFeatures, transcript_syllables: Option<usize>) {
        if features.articulation_s < MIN_SLOT_ARTICULATION_S {
            return;
        }
        if let Some(rate) = features.slot_rate(features.nuclei) {
            self.nuclei_slot_rate.update(rate);
        }
        if let Some(rate) = transcript_syllables.and_then(|n| features.slot_rate(n)) {
            self.transcript_slot_rate.update(rate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_mean_then_moving_average() {
        let mut r = Running::default();
        assert_eq!(r.get(), None);
        for x in [4.0, 6.0] {
            r.update(x);
        }
        assert!((r.value - 5.0).abs() < 1e-6);
        for _ in 0..50 {
            r.update(8.0);
        }
        assert!((r.value - 8.0).abs() < 0.01, "follows a lasting change");
    }

    #[test]
    fn short_turns_do_not_move_the_rate() {
        let mut b = SpeakerBaseline::new();
        let short = TurnFeatures {
            articulation_s: 0.4,
            nuclei: 3,
            ..TurnFeatures::default()
        };
        b.observe(&short, Some(2));
        assert_eq!(b.nuclei_rate.get(), None);
        assert_eq!(b.transcript_rate.get(), None);
        let long = TurnFeatures {
            articulation_s: 2.0,
            nuclei: 9,
            ..TurnFeatures::default()
        };
        b.observe(&long, Some(10));
        assert_eq!(b.nuclei_rate.get(), Some(4.5));
        assert_eq!(b.transcript_rate.get(), Some(5.0));
    }

    #[test]
    fn slot_rates_learn_from_short_turns_too() {
        let mut b = SpeakerBaseline::new();
        let short = TurnFeatures {
            articulation_s: 0.6,
            nuclei: 2,
            ..TurnFeatures::default()
        };
        b.observe(&short, Some(2));
        assert_eq!(b.transcript_rate.get(), None);
        assert_eq!(b.transcript_slot_rate.get(), Some(5.0));
        assert_eq!(b.nuclei_slot_rate.get(), Some(5.0));
        let tiny = TurnFeatures {
            articulation_s: 0.4,
            ..short
        };
        b.observe(&tiny, Some(2));
        assert_eq!(b.transcript_slot_rate.turns, 1);
    }
}
