//! Per-turn prosodic features from the frames of [`super::pitch`]: which frames are speech, the
//! pitch contour in semitones (octave errors folded back or removed), the shape of its end,
//! loudness, syllable nuclei and the inner pauses.
//!
//! Speech frames are those within [`SPEECH_RANGE_DB`] of the turn's loud frames and above its
//! quiet floor. Syllable nuclei are loudness peaks in voiced speech that stand at least
//! [`NUCLEUS_DIP_DB`] above the dips on both sides (the idea of de Jong & Wempe's Praat script,
//! here over 10 ms frames). The final pitch movement compares the last voiced stretch with the
//! lowest pitch just before it and with the turn's median, in semitones, so it does not depend on
//! whether the voice is high or low.

use super::pitch::{FRAMES_PER_SECOND, Frame};

/// Frames more than this far under the turn's loud level (95th percentile) are not speech.
pub const SPEECH_RANGE_DB: f32 = 30.0;
/// Frames must also be this far above the turn's quiet floor (10th percentile).
pub const FLOOR_MARGIN_DB: f32 = 9.0;
/// Frames under this level (dB re full scale) are never speech, however quiet the turn is.
pub const ABSOLUTE_FLOOR_DB: f32 = -60.0;
/// A syllable nucleus stands this far above the dips around it.
pub const NUCLEUS_DIP_DB: f32 = 2.0;
/// Silence inside the turn at least this long counts as a pause (and is left out of the
/// articulation time).
pub const PAUSE_S: f32 = 0.25;
/// The end of the contour: the last this-many seconds of voiced frames.
const END_S: f32 = 0.05;
/// Where the end is compared with: the voiced frames this long before the end stretch.
const BEFORE_END_S: f32 = 0.45;
/// A voiced frame this far (semitones) from the median of its neighbours is a tracking error.
const JUMP_ST: f32 = 4.0;
/// A voiced frame within this many semitones of an octave (12) from the median of its neighbours
/// is an octave error (YIN picked half or twice the period): it is moved back by an octave
/// rather than dropped, so that an error on the last syllable does not erase the end of the
/// contour.
const OCTAVE_TOLERANCE_ST: f32 = 3.0;
/// The neighbours a voiced frame is compared with: this many frames (10 ms) either side. Wide
/// enough that a run of octave errors (often a whole short syllable) is still the minority.
const CONTEXT_FRAMES: usize = 15;
/// A turn's duration beyond its syllables, counted in syllables: the lengthened last syllable and
/// the edges of the speech (an onset burst, a trailing fricative) take about one syllable's time
/// however many syllables came before, so a rate per syllable without it calls every short turn
/// slow. See [`TurnFeatures::slot_rate`].
pub const TURN_END_SYLLABLES: f32 = 1.0;

/// What one turn's audio measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnFeatures {
    /// Frames analysed.
    pub frames: usize,
    /// Seconds judged speech.
    pub speech_s: f32,
    /// Seconds from the first to the last speech frame, without pauses of [`PAUSE_S`] or more.
    pub articulation_s: f32,
    /// Voiced speech frames kept after removing octave errors.
    pub voiced_frames: usize,
    /// Median pitch, semitones above 100 Hz.
    pub pitch_median_st: f32,
    /// Spread of the pitch: 90th minus 10th percentile, semitones.
    pub pitch_range_st: f32,
    /// The end of the contour minus the turn's median, semitones.
    pub end_vs_median_st: f32,
    /// The end of the contour minus the lowest point of the stretch before it, semitones.
    pub end_rise_st: f32,
    /// Median loudness of speech frames, dB.
    pub loudness_db: f32,
    /// 90th percentile loudness of speech frames, dB.
    pub loudness_peak_db: f32,
    /// Syllable nuclei found in the audio.
    pub nuclei: usize,
    /// Pauses of at least [`PAUSE_S`] between speech (not before or after it).
    pub pauses: usize,
    /// Their total length, seconds.
    pub pause_s: f32,
    /// The longest voiced stretch whose pitch stays within 1.5 semitones, seconds (a held
    /// "uh" or "um" is long and flat; vowels in running speech are short).
    pub longest_flat_voicing_s: f32,
}

impl TurnFeatures {
    /// Syllable nuclei per second of articulation, if there was speech.
    pub fn nuclei_rate(&self) -> Option<f32> {
        (self.articulation_s > 0.3).then(|| self.nuclei as f32 / self.articulation_s)
    }

    /// Syllable slots per second of articulation: `(syllables + TURN_END_SYLLABLES) /
    /// articulation_s`, for `syllables` counted in the transcript or the audio. Unlike syllables
    /// per second it does not depend on the turn's length for a speaker at a steady pace (a turn
    /// takes about `(syllables + 1) x` their syllable time), so it is what the speaker's baseline
    /// compares.
    pub fn slot_rate(&self, syllables: usize) -> Option<f32> {
        (self.articulation_s > 0.3 && syllables > 0)
            .then(|| (syllables as f32 + TURN_END_SYLLABLES) / self.articulation_s)
    }

    /// Whether enough voiced speech was heard to judge the pitch contour.
    pub fn has_contour(&self) -> bool {
        self.voiced_frames >= 15
    }
}

/// Semitones above 100 Hz.
pub fn semitones(hz: f32) -> f32 {
    12.0 * (hz / 100.0).log2()
}

/// The `q` quantile (0..=1) of `values` (sorted in place); 0 for none.
pub fn quantile(values: &mut [f32], q: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f32::total_cmp);
    values[((values.len() - 1) as f32 * q).round() as usize]
}

/// Measures a turn from its frames.
pub fn measure(frames: &[Frame]) -> TurnFeatures {
    let mut features = TurnFeatures {
        frames: frames.len(),
        ..TurnFeatures::default()
    };
    if frames.is_empty() {
        return features;
    }
    let mut energies: Vec<f32> = frames.iter().map(|f| f.energy_db).collect();
    let loud = quantile(&mut energies, 0.95);
    let floor = quantile(&mut energies, 0.10);
    let threshold = (loud - SPEECH_RANGE_DB)
        .max(floor + FLOOR_MARGIN_DB)
        .min(loud - 6.0)
        .max(ABSOLUTE_FLOOR_DB);
    let speech: Vec<bool> = frames.iter().map(|f| f.energy_db > threshold).collect();
    let (Some(first), Some(last)) = (
        speech.iter().position(|&s| s),
        speech.iter().rposition(|&s| s),
    ) else {
        return features;
    };
    let frame_s = 1.0 / FRAMES_PER_SECOND;
    let speech_frames = speech.iter().filter(|&&s| s).count();
    features.speech_s = speech_frames as f32 * frame_s;

    // Inner pauses.
    let mut run = 0usize;
    for &is_speech in &speech[first..=last] {
        if is_speech {
            if run as f32 * frame_s >= PAUSE_S {
                features.pauses += 1;
                features.pause_s += run as f32 * frame_s;
            }
            run = 0;
        } else {
            run += 1;
        }
    }
    features.articulation_s = (last + 1 - first) as f32 * frame_s - features.pause_s;

    let mut loudness: Vec<f32> = frames
        .iter()
        .zip(&speech)
        .filter(|(_, s)| **s)
        .map(|(f, _)| f.energy_db)
        .collect();
    features.loudness_peak_db = quantile(&mut loudness, 0.9);
    features.loudness_db = quantile(&mut loudness, 0.5);

    let contour = clean_contour(frames, &speech);
    features.voiced_frames = contour.iter().filter(|p| p.is_some()).count();
    features.nuclei = count_nuclei(frames, &speech, &contour);
    features.longest_flat_voicing_s = longest_flat(&contour) as f32 * frame_s;
    let mut pitches: Vec<f32> = contour.iter().flatten().copied().collect();
    if pitches.len() >= 2 {
        features.pitch_median_st = quantile(&mut pitches, 0.5);
        features.pitch_range_st = quantile(&mut pitches, 0.9) - quantile(&mut pitches, 0.1);
        let (end, before) = end_shape(&contour);
        features.end_vs_median_st = end - features.pitch_median_st;
        features.end_rise_st = end - before;
    }
    features
}

/// Pitch in semitones for voiced speech frames, `None` elsewhere. Each voiced frame is compared
/// with the median of the voiced frames within [`CONTEXT_FRAMES`]: an octave off is folded back
/// ([`OCTAVE_TOLERANCE_ST`]), farther than [`JUMP_ST`] otherwise is dropped (creak, a stray
/// period), and so are frames with fewer than three voiced neighbours.
fn clean_contour(frames: &[Frame], speech: &[bool]) -> Vec<Option<f32>> {
    let raw: Vec<Option<f32>> = frames
        .iter()
        .zip(speech)
        .map(|(f, &s)| f.f0_hz.filter(|_| s).map(semitones))
        .collect();
    let mut neighbours = Vec::with_capacity(2 * CONTEXT_FRAMES + 1);
    raw.iter()
        .enumerate()
        .map(|(i, value)| {
            let st = (*value)?;
            let lo = i.saturating_sub(CONTEXT_FRAMES);
            let hi = (i + CONTEXT_FRAMES + 1).min(raw.len());
            neighbours.clear();
            neighbours.extend(raw[lo..hi].iter().flatten());
            if neighbours.len() < 3 {
                // An isolated voiced frame or two: too short to trust.
                return None;
            }
            correct_octave(st, quantile(&mut neighbours, 0.5))
        })
        .collect()
}

/// A pitch `st` judged against the local median: kept, moved by an octave towards the median, or
/// dropped.
fn correct_octave(st: f32, median: f32) -> Option<f32> {
    let off = st - median;
    if (off.abs() - 12.0).abs() < OCTAVE_TOLERANCE_ST {
        Some(st - 12.0 * off.signum())
    } else {
        (off.abs() <= JUMP_ST).then_some(st)
    }
}

/// Syllable nuclei: loudness peaks (smoothed over 3 frames) in voiced speech, each at least
/// [`NUCLEUS_DIP_DB`] above the lowest point since the previous nucleus and followed by a fall of
/// the same size (or the end of speech).
fn count_nuclei(frames: &[Frame], speech: &[bool], contour: &[Option<f32>]) -> usize {
    let n = frames.len();
    let smooth: Vec<f32> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(1);
            let hi = (i + 2).min(n);
            frames[lo..hi].iter().map(|f| f.energy_db).sum::<f32>() / (hi - lo) as f32
        })
        .collect();
    let voiced_near = |i: usize| {
        let lo = i.saturating_sub(2);
        let hi = (i + 3).min(n);
        (lo..hi).any(|j| contour[j].is_some())
    };
    let mut count = 0;
    let mut valley = f32::INFINITY;
    // The candidate peak since the last valley: (level, frame).
    let mut peak: Option<(f32, usize)> = None;
    for i in 0..n {
        let e = if speech[i] {
            smooth[i]
        } else {
            f32::NEG_INFINITY
        };
        match peak {
            Some((level, at)) if e <= level - NUCLEUS_DIP_DB => {
                if voiced_near(at) {
                    count += 1;
                }
                peak = None;
                valley = e;
            }
            Some((level, _)) if e > level => peak = Some((e, i)),
            Some(_) => {}
            None => {
                valley = valley.min(e);
                if e >= valley + NUCLEUS_DIP_DB && e.is_finite() {
                    peak = Some((e, i));
                }
            }
        }
    }
    if let Some((_, at)) = peak
        && voiced_near(at)
    {
        count += 1;
    }
    count
}

/// The longest run of consecutive voiced frames whose pitch stays within 1.5 semitones.
fn longest_flat(contour: &[Option<f32>]) -> usize {
    let mut best = 0;
    let mut start = 0;
    while start < contour.len() {
        let Some(first) = contour[start] else {
            start += 1;
            continue;
        };
        let (mut lo, mut hi) = (first, first);
        let mut end = start + 1;
        while let Some(Some(st)) = contour.get(end) {
            let (l, h) = (lo.min(*st), hi.max(*st));
            if h - l > 1.5 {
                break;
            }
            (lo, hi) = (l, h);
            end += 1;
        }
        best = best.max(end - start);
        start += 1;
    }
    best
}

/// The level at the end of the contour (median of its last [`END_S`] of voiced frames) and the
/// lowest level (3-frame medians) of the [`BEFORE_END_S`] of voiced frames before that: a rise
/// inside the last syllable counts, as a fall-rise ends a question.
fn end_shape(contour: &[Option<f32>]) -> (f32, f32) {
    let voiced: Vec<f32> = contour.iter().flatten().copied().collect();
    let end_frames = ((END_S * FRAMES_PER_SECOND) as usize).clamp(1, voiced.len());
    let before_frames = (BEFORE_END_S * FRAMES_PER_SECOND) as usize;
    let split = voiced.len() - end_frames;
    let mut end: Vec<f32> = voiced[split..].to_vec();
    let end_level = quantile(&mut end, 0.5);
    let before = &voiced[split.saturating_sub(before_frames)..split];
    let low = before
        .windows(3)
        .map(|w| {
            let mut w = [w[0], w[1], w[2]];
            quantile(&mut w, 0.5)
        })
        .fold(f32::INFINITY, f32::min);
    (end_level, if low.is_finite() { low } else { end_level })
}

#[cfg(test)]
mod tests {
    use super::super::pitch::tests::glide;
    use super::super::pitch::track;
    use super::*;

    /// `count` tone bursts of `on` seconds separated by `off` seconds of silence.
    fn pulses(count: usize, on: f32, off: f32) -> Vec<f32> {
        let mut out = vec![0.0; 4000];
        for _ in 0..count {
            out.extend(glide(140.0, 150.0, on));
            out.extend(std::iter::repeat_n(0.0, (off * 16_000.0) as usize));
        }
        out.extend(vec![0.0; 4000]);
        out
    }

    #[test]
    fn rising_and_falling_glides_are_told_apart() {
        let mut rising = glide(180.0, 170.0, 1.0);
        rising.extend(glide(170.0, 260.0, 0.4));
        let mut falling = glide(180.0, 190.0, 1.0);
        falling.extend(glide(190.0, 120.0, 0.4));
        let up = measure(&track(&rising));
        let down = measure(&track(&falling));
        assert!(up.end_rise_st > 4.0 && up.end_vs_median_st > 3.0, "{up:?}");
        assert!(
            down.end_rise_st < 1.0 && down.end_vs_median_st < -3.0,
            "{down:?}"
        );
    }

    #[test]
    fn pulse_trains_give_their_rate() {
        let fast = measure(&track(&pulses(12, 0.09, 0.06)));
        let slow = measure(&track(&pulses(6, 0.2, 0.12)));
        assert_eq!(fast.nuclei, 12, "{fast:?}");
        assert_eq!(slow.nuclei, 6, "{slow:?}");
        let (f, s) = (fast.nuclei_rate().unwrap(), slow.nuclei_rate().unwrap());
        assert!(f > 5.5 && s < 3.5, "fast {f}/s, slow {s}/s");
    }

    #[test]
    fn inner_pauses_are_counted_but_not_the_edges() {
        let mut audio = vec![0.0; 16_000];
        audio.extend(glide(150.0, 150.0, 0.5));
        audio.extend(vec![0.0; 8_000]);
        audio.extend(glide(150.0, 150.0, 0.5));
        audio.extend(vec![0.0; 16_000]);
        let f = measure(&track(&audio));
        assert_eq!(f.pauses, 1, "{f:?}");
        assert!((f.pause_s - 0.5).abs() < 0.05, "{f:?}");
        assert!((f.articulation_s - 1.0).abs() < 0.06, "{f:?}");
        assert!(f.longest_flat_voicing_s > 0.4, "{f:?}");
    }

    #[test]
    fn octave_errors_are_folded_back_and_strays_dropped() {
        assert_eq!(correct_octave(13.0, 1.0), Some(1.0));
        assert_eq!(correct_octave(-10.0, 1.5), Some(2.0));
        assert_eq!(correct_octave(3.0, 1.0), Some(3.0));
        assert_eq!(correct_octave(8.0, 1.0), None);
    }

    #[test]
    fn a_rise_tracked_an_octave_up_at_the_end_is_still_a_rise() {
        // A level contour that rises by 2 semitones, its last 70 ms tracked an octave up.
        let mut frames: Vec<Frame> = (0..60)
            .map(|i| Frame {
                energy_db: -20.0,
                f0_hz: Some(150.0 * if i >= 50 { 1.12 } else { 1.0 }),
                aperiodicity: 0.05,
            })
            .collect();
        for f in &mut frames[53..] {
            f.f0_hz = f.f0_hz.map(|hz| hz * 2.0);
        }
        let f = measure(&frames);
        assert!(f.end_rise_st > 1.5 && f.end_rise_st < 2.5, "{f:?}");
        assert_eq!(f.voiced_frames, 60, "{f:?}");
    }

    #[test]
    fn slot_rate_counts_the_end_of_the_turn_once() {
        // The same pace: 0.2 s a syllable plus one syllable's time for the end.
        let short = TurnFeatures {
            articulation_s: 0.6,
            ..TurnFeatures::default()
        };
        let long = TurnFeatures {
            articulation_s: 2.2,
            ..TurnFeatures::default()
        };
        let (s, l) = (short.slot_rate(2).unwrap(), long.slot_rate(10).unwrap());
        assert!((s - l).abs() < 1e-4, "short {s}, long {l}");
        assert_eq!(short.slot_rate(0), None);
    }

    #[test]
    fn silence_measures_nothing() {
        let f = measure(&track(&[0.0; 16_000]));
        assert_eq!(f.nuclei, 0);
        assert!(!f.has_contour());
    }
}
