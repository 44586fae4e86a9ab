//! The cue decisions: from a turn's features (and the speaker's baseline) to a few cues, each
//! with a confidence in `[0, 1]`. Only cues at or above [`MIN_CONFIDENCE`] are meant to be used.
//!
//! Confidences are logistic in the distance of the measure from its threshold, in units of the
//! measure's own spread, so a value just past a threshold gives about 0.5 and a clear one near 1.
//! Thresholds were set on part of `audio-fixtures/cues/` and checked on the rest (see
//! `benches/cues.rs`). Laughter is not decided: nothing in the reachable data labels it, and a
//! breathy burst pattern alone is confused with fast plosive speech.

use super::baseline::SpeakerBaseline;
use super::prosody::TurnFeatures;

/// Cues below this confidence are not used.
pub const MIN_CONFIDENCE: f32 = 0.6;

/// Final rise: the end must be this many semitones above the low point before it ...
pub const RISE_ST: f32 = 2.0;
/// ... and no more than this far from the turn's median pitch (a negative number: the end must
/// not sink under the middle of the voice).
pub const END_ABOVE_MEDIAN_ST: f32 = -1.0;
/// Spread of the rise measure, semitones.
const RISE_SCALE_ST: f32 = 1.0;

/// Rate relative to the speaker's baseline above which speech is fast (per syllable slot, see
/// [`TurnFeatures::slot_rate`]).
pub const FAST_RATIO: f32 = 1.17;
/// Rate relative to the speaker's baseline under which speech is slow.
pub const SLOW_RATIO: f32 = 0.85;
/// Spread of the log rate ratio.
const RATIO_SCALE: f32 = 0.04;
/// Without a baseline: transcript syllables per second above which speech is fast ...
pub const FAST_SYLLABLES_PER_S: f32 = 5.6;
/// ... and under which it is slow.
pub const SLOW_SYLLABLES_PER_S: f32 = 3.3;
/// Without a baseline or transcript: audio nuclei per second above which speech is fast ...
pub const FAST_NUCLEI_PER_S: f32 = 4.6;
/// ... and under which it is slow.
pub const SLOW_NUCLEI_PER_S: f32 = 2.7;
/// Spread of an absolute rate, per second.
const RATE_SCALE: f32 = 0.3;
/// Absolute rates are less sure than rates against the speaker's own: their confidence is capped.
const ABSOLUTE_RATE_CAP: f32 = 0.75;

/// Loudness above the speaker's baseline that marks emphasis, dB.
pub const EMPHASIS_DB: f32 = 6.0;
/// Pitch spread, as a multiple of the speaker's usual spread, that marks emphasis.
pub const EMPHASIS_RANGE: f32 = 1.6;
/// Inner pauses (per second of articulation) that mark hesitation without fillers.
const HESITANT_PAUSES_PER_S: f32 = 0.35;
/// A held, flat voiced sound this long is probably a filled pause ("uhhh"), seconds.
const HELD_FILLER_S: f32 = 0.45;

/// A non-verbal cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum CueKind {
    /// Spoken faster than usual.
    Fast,
    /// Spoken slower than usual.
    Slow,
    /// The pitch rises at the end (a question, whatever the words).
    QuestionRise,
    /// Filled pauses, long inner pauses or held sounds.
    Hesitant,
    /// Louder or more animated than usual.
    Emphatic,
}

/// One cue with how sure it is.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Cue {
    /// What.
    pub kind: CueKind,
    /// How sure, 0 to 1.
    pub confidence: f32,
}

/// How a rate was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RateBasis {
    /// Against this speaker's usual rate.
    Speaker,
    /// On an absolute scale (no baseline yet).
    Absolute,
}

/// `1 / (1 + e^-x)`.
fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Confidence that the turn ends in a rise.
pub fn question_rise(f: &TurnFeatures) -> f32 {
    if !f.has_contour() {
        return 0.0;
    }
    let margin = (f.end_rise_st - RISE_ST).min(f.end_vs_median_st - END_ABOVE_MEDIAN_ST);
    logistic(margin / RISE_SCALE_ST * 2.0)
}

/// The turn's plain rate and the measure it is in: transcript syllables per second where a
/// transcript gave a count, else audio nuclei per second. Also the count, for the slot rate.
fn turn_rate(f: &TurnFeatures, syllables: Option<usize>) -> Option<(f32, bool, usize)> {
    if f.articulation_s < 0.5 {
        return None;
    }
    match syllables.filter(|&n| n > 0) {
        Some(n) => Some((n as f32 / f.articulation_s, true, n)),
        None => f.nuclei_rate().map(|r| (r, false, f.nuclei)),
    }
}

/// The turn's rate over the speaker's usual, in the same measure: per syllable slot where the
/// baseline has slot rates ([`TurnFeatures::slot_rate`]), else plain rates (a baseline kept from
/// before the slot rates).
fn speaker_ratio(
    f: &TurnFeatures,
    (rate, from_transcript, count): (f32, bool, usize),
    baseline: &SpeakerBaseline,
) -> Option<f32> {
    let (slot, plain) = if from_transcript {
        (&baseline.transcript_slot_rate, &baseline.transcript_rate)
    } else {
        (&baseline.nuclei_slot_rate, &baseline.nuclei_rate)
    };
    if let Some(usual) = slot.get().filter(|&u| u > 0.0) {
        return f.slot_rate(count).map(|r| r / usual);
    }
    plain.get().filter(|&u| u > 0.0).map(|usual| rate / usual)
}

/// Confidences that the turn is fast and that it is slow, and how that was judged.
pub fn rate(
    f: &TurnFeatures,
    syllables: Option<usize>,
    baseline: &SpeakerBaseline,
) -> Option<(f32, f32, RateBasis)> {
    let measured = turn_rate(f, syllables)?;
    if let Some(ratio) = speaker_ratio(f, measured, baseline) {
        let ratio = ratio.ln();
        let fast = logistic((ratio - FAST_RATIO.ln()) / RATIO_SCALE);
        let slow = logistic((SLOW_RATIO.ln() - ratio) / RATIO_SCALE);
        return Some((fast, slow, RateBasis::Speaker));
    }
    let (rate, from_transcript, _) = measured;
    let (fast_at, slow_at) = if from_transcript {
        (FAST_SYLLABLES_PER_S, SLOW_SYLLABLES_PER_S)
    } else {
        (FAST_NUCLEI_PER_S, SLOW_NUCLEI_PER_S)
    };
    let fast = logistic((rate - fast_at) / RATE_SCALE).min(ABSOLUTE_RATE_CAP);
    let slow = logistic((slow_at - rate) / RATE_SCALE).min(ABSOLUTE_RATE_CAP);
    Some((fast, slow, RateBasis::Absolute))
}

/// Confidence that the turn is hesitant: fillers in the transcript are near certain; long inner
/// pauses or a held flat sound are weaker signs.
pub fn hesitation(f: &TurnFeatures, fillers: usize) -> f32 {
    let from_fillers: f32 = match fillers {
        0 => 0.0,
        1 => 0.8,
        _ => 0.95,
    };
    let pauses_per_s = if f.articulation_s > 0.5 {
        f.pauses as f32 / f.articulation_s
    } else {
        0.0
    };
    let long_pauses = f.pauses >= 2 && f.pause_s >= 1.0;
    let from_pauses = if long_pauses {
        logistic((pauses_per_s - HESITANT_PAUSES_PER_S) / 0.1) * 0.8
    } else {
        0.0
    };
    let from_held = if f.longest_flat_voicing_s >= HELD_FILLER_S {
        0.65
    } else {
        0.0
    };
    from_fillers.max(from_pauses).max(from_held)
}

/// Confidence that the turn is emphatic: louder than the speaker's usual, or a much wider pitch
/// range. Needs a baseline (loudness alone depends on the microphone).
pub fn emphasis(f: &TurnFeatures, baseline: &SpeakerBaseline) -> f32 {
    let mut confidence: f32 = 0.0;
    if let Some(usual) = baseline.loudness_db.get()
        && f.articulation_s > 0.5
    {
        confidence = confidence.max(logistic((f.loudness_db - usual - EMPHASIS_DB) / 1.5));
    }
    if let Some(usual) = baseline.pitch_range_st.get().filter(|&u| u > 0.5)
        && f.has_contour()
    {
        let ratio = f.pitch_range_st / usual;
        confidence = confidence.max(logistic((ratio - EMPHASIS_RANGE) / 0.15) * 0.8);
    }
    confidence
}

/// All cues of a turn, every kind with its confidence, most confident first.
pub fn decide(
    f: &TurnFeatures,
    syllables: Option<usize>,
    fillers: usize,
    baseline: &SpeakerBaseline,
) -> (Vec<Cue>, Option<RateBasis>) {
    let mut cues = vec![
        Cue {
            kind: CueKind::QuestionRise,
            confidence: question_rise(f),
        },
        Cue {
            kind: CueKind::Hesitant,
            confidence: hesitation(f, fillers),
        },
        Cue {
            kind: CueKind::Emphatic,
            confidence: emphasis(f, baseline),
        },
    ];
    let basis = rate(f, syllables, baseline).map(|(fast, slow, basis)| {
        cues.push(Cue {
            kind: CueKind::Fast,
            confidence: fast,
        });
        cues.push(Cue {
            kind: CueKind::Slow,
            confidence: slow,
        });
        basis
    });
    cues.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    (cues, basis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contour(end_rise_st: f32, end_vs_median_st: f32) -> TurnFeatures {
        TurnFeatures {
            voiced_frames: 100,
            end_rise_st,
            end_vs_median_st,
            articulation_s: 2.0,
            ..TurnFeatures::default()
        }
    }

    #[test]
    fn a_clear_rise_is_confident_and_a_fall_is_not() {
        assert!(question_rise(&contour(6.0, 4.0)) > 0.95);
        assert!(question_rise(&contour(0.5, -3.0)) < 0.05);
        // A rise from a deep dip that still ends low is not a question rise.
        assert!(question_rise(&contour(5.0, -3.0)) < 0.05);
    }

    #[test]
    fn rate_is_judged_against_the_speaker_once_known() {
        let f = TurnFeatures {
            articulation_s: 2.0,
            nuclei: 8,
            ..TurnFeatures::default()
        };
        let mut baseline = SpeakerBaseline::new();
        // 12 syllables in 2 s = 6/s: fast on the absolute scale, but capped.
        let (fast, slow, basis) = rate(&f, Some(12), &baseline).unwrap();
        assert_eq!(basis, RateBasis::Absolute);
        assert!(fast > MIN_CONFIDENCE && fast <= ABSOLUTE_RATE_CAP && slow < 0.01);
        // For someone who usually says 6.2 syllables a second it is normal.
        baseline.transcript_rate.update(6.2);
        let (fast, slow, basis) = rate(&f, Some(12), &baseline).unwrap();
        assert_eq!(basis, RateBasis::Speaker);
        assert!(fast < 0.1 && slow < 0.1, "fast {fast} slow {slow}");
        // And 4 syllables a second is slow for them.
        let (_, slow, _) = rate(&f, Some(8), &baseline).unwrap();
        assert!(slow > 0.95);
    }

    #[test]
    fn a_short_turn_at_the_usual_pace_is_normal_per_slot() {
        // The speaker's usual: 0.2 s a syllable, learnt from a long turn (11 slots in 2.2 s).
        let mut baseline = SpeakerBaseline::new();
        let long = TurnFeatures {
            articulation_s: 2.2,
            ..TurnFeatures::default()
        };
        baseline.observe(&long, Some(10));
        // Three syllables at the same pace: 4 slots in 0.8 s. Per plain syllable it would look
        // slow (3.75/s against 4.5/s).
        let short = TurnFeatures {
            articulation_s: 0.8,
            ..TurnFeatures::default()
        };
        let (fast, slow, basis) = rate(&short, Some(3), &baseline).unwrap();
        assert_eq!(basis, RateBasis::Speaker);
        assert!(fast < 0.1 && slow < 0.1, "fast {fast} slow {slow}");
        let quick = TurnFeatures {
            articulation_s: 0.55,
            ..short
        };
        assert!(rate(&quick, Some(3), &baseline).unwrap().0 > 0.95);
    }

    #[test]
    fn fillers_make_a_turn_hesitant() {
        let f = TurnFeatures {
            articulation_s: 2.0,
            ..TurnFeatures::default()
        };
        assert!(hesitation(&f, 0) < MIN_CONFIDENCE);
        assert!(hesitation(&f, 2) > 0.9);
        let paused = TurnFeatures {
            pauses: 3,
            pause_s: 2.0,
            ..f.clone()
        };
        assert!(hesitation(&paused, 0) > MIN_CONFIDENCE);
    }

    #[test]
    fn emphasis_needs_a_baseline() {
        let loud = TurnFeatures {
            articulation_s: 2.0,
            loudness_db: -10.0,
            ..TurnFeatures::default()
        };
        let mut baseline = SpeakerBaseline::new();
        assert_eq!(emphasis(&loud, &baseline), 0.0);
        baseline.loudness_db.update(-20.0);
        assert!(emphasis(&loud, &baseline) > 0.9);
        baseline.loudness_db = Default::default();
        baseline.loudness_db.update(-11.0);
        assert!(emphasis(&loud, &baseline) < 0.1);
    }
}
