//! Scoring end-of-turn decisions against the labels of the turn-taking benchmark: which pause
//! (truth "not finished") was cut into, how long each true end ("finished") waited, and the
//! figures over a whole run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A true end answered later than this counts as late.
pub const LATE_MS: f64 = 1000.0;

/// The labels written by `scripts/turn_fixtures.py compose`.
#[derive(Debug, Deserialize)]
pub struct Labels {
    /// One per recording.
    pub items: Vec<LabelledItem>,
}

/// One recording and its labelled points.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelledItem {
    /// Its id in the manifest.
    pub id: String,
    /// The WAV, relative to the labels' folder.
    pub file: String,
    /// "real", "piper" or "espeak".
    pub voice: String,
    /// The words, '|' at the inserted pause.
    pub text: String,
    /// The inserted pause (if any), then the end, in time order.
    pub points: Vec<Point>,
}

/// Where the speech stops, and whether the speaker has finished there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// End of the last voiced 10 ms before the silence, in seconds of the recording.
    pub speech_end_s: f64,
    /// Where the speech resumes (a pause), or `None` (the end).
    pub resume_s: Option<f64>,
    /// The truth: `false` for a pause inside the turn, `true` for its end.
    pub finished: bool,
    /// What comes before it: "article", "list", "thinking", ..., or the end's "statement",
    /// "question", "one_word".
    pub kind: String,
}

/// What a system did at one labelled point.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The point's truth.
    pub finished: bool,
    /// Its kind.
    pub kind: String,
    /// The pause's length (pauses only).
    pub pause_s: Option<f64>,
    /// When the system decided "end of turn" inside the pause, or after the end.
    pub decided_at_s: Option<f64>,
    /// From the end of speech to that decision.
    pub wait_ms: Option<f64>,
}

/// The outcomes of one recording.
#[derive(Debug, Clone, Serialize)]
pub struct ItemScore {
    /// One per labelled point.
    pub outcomes: Vec<Outcome>,
    /// Decisions taken while the user was speaking (at an unlabelled gap between words).
    pub cut_offs_in_speech: usize,
}

/// Assigns each decision (seconds of the recording) to the labelled point it answers: the first
/// inside a pause is a cut-off, the first after the end is the answer; any other decision came
/// while the user spoke.
pub fn score_item(points: &[Point], decisions_s: &[f64]) -> ItemScore {
    let mut taken = vec![false; decisions_s.len()];
    let outcomes = points
        .iter()
        .map(|point| {
            let until = point.resume_s.unwrap_or(f64::INFINITY);
            let found = decisions_s
                .iter()
                .position(|&d| d >= point.speech_end_s && d < until);
            let decided_at_s = found.map(|i| {
                taken[i] = true;
                decisions_s[i]
            });
            // Later decisions in the same pause are not new cut-offs.
            for (i, &d) in decisions_s.iter().enumerate() {
                if d >= point.speech_end_s && d < until {
                    taken[i] = true;
                }
            }
            Outcome {
                finished: point.finished,
                kind: point.kind.clone(),
                pause_s: point.resume_s.map(|r| r - point.speech_end_s),
                decided_at_s,
                wait_ms: decided_at_s.map(|d| (d - point.speech_end_s) * 1000.0),
            }
        })
        .collect();
    ItemScore {
        outcomes,
        cut_offs_in_speech: taken.iter().filter(|t| !**t).count(),
    }
}

/// Cut-offs (or waits) of one kind of point.
#[derive(Debug, Default, Serialize)]
pub struct KindFigures {
    /// Points of this kind.
    pub points: usize,
    /// Pauses cut into (pauses) or ends never answered (ends).
    pub failures: usize,
    /// Median wait (ends).
    pub wait_p50_ms: Option<f64>,
}

/// A run's figures.
#[derive(Debug, Serialize)]
pub struct Metrics {
    /// Labelled pauses inside turns.
    pub unfinished_pauses: usize,
    /// Of those, the ones cut into.
    pub false_cut_offs: usize,
    /// Their share.
    pub false_cut_off_rate: f64,
    /// Decisions while the user spoke.
    pub cut_offs_in_speech: usize,
    /// Labelled true ends.
    pub true_ends: usize,
    /// True ends never answered.
    pub missed_ends: usize,
    /// True ends answered after more than [`LATE_MS`].
    pub late_ends: usize,
    /// Median wait at the true ends answered.
    pub wait_p50_ms: Option<f64>,
    /// 95th percentile of the same.
    pub wait_p95_ms: Option<f64>,
    /// Per kind of pause (cut-offs) and of end (missed, median wait).
    pub by_kind: BTreeMap<String, KindFigures>,
    /// Cut-offs per pause length: "0.3-0.6 s", "0.6-1.2 s", "1.2-2.5 s".
    pub by_pause_length: BTreeMap<String, KindFigures>,
}

/// The value at quantile `q` of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * q).round() as usize])
}

fn length_bucket(pause_s: f64) -> &'static str {
    match pause_s {
        p if p < 0.6 => "0.3-0.6 s",
        p if p < 1.2 => "0.6-1.2 s",
        _ => "1.2-2.5 s",
    }
}

/// The figures over every recording's outcomes.
pub fn metrics<'a>(scores: impl IntoIterator<Item = &'a ItemScore>) -> Metrics {
    let mut m = Metrics {
        unfinished_pauses: 0,
        false_cut_offs: 0,
        false_cut_off_rate: 0.0,
        cut_offs_in_speech: 0,
        true_ends: 0,
        missed_ends: 0,
        late_ends: 0,
        wait_p50_ms: None,
        wait_p95_ms: None,
        by_kind: BTreeMap::new(),
        by_pause_length: BTreeMap::new(),
    };
    let mut waits = Vec::new();
    let mut waits_by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for score in scores {
        m.cut_offs_in_speech += score.cut_offs_in_speech;
        for o in &score.outcomes {
            let kind = m.by_kind.entry(o.kind.clone()).or_default();
            kind.points += 1;
            if o.finished {
                m.true_ends += 1;
                match o.wait_ms {
                    Some(w) => {
                        waits.push(w);
                        waits_by_kind.entry(o.kind.clone()).or_default().push(w);
                        m.late_ends += usize::from(w > LATE_MS);
                    }
                    None => {
                        m.missed_ends += 1;
                        kind.failures += 1;
                    }
                }
            } else {
                m.unfinished_pauses += 1;
                let cut = o.decided_at_s.is_some();
                m.false_cut_offs += usize::from(cut);
                kind.failures += usize::from(cut);
                let bucket = length_bucket(o.pause_s.unwrap_or(0.0));
                let by_length = m.by_pause_length.entry(bucket.to_owned()).or_default();
                by_length.points += 1;
                by_length.failures += usize::from(cut);
            }
        }
    }
    for (kind, mut w) in waits_by_kind {
        w.sort_by(f64::total_cmp);
        if let Some(k) = m.by_kind.get_mut(&kind) {
            k.wait_p50_ms = percentile(&w, 0.5);
        }
    }
    waits.sort_by(f64::total_cmp);
    m.wait_p50_ms = percentile(&waits, 0.5);
    m.wait_p95_ms = percentile(&waits, 0.95);
    m.false_cut_off_rate = m.false_cut_offs as f64 / m.unfinished_pauses.max(1) as f64;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(end: f64, resume: f64) -> Point {
        Point {
            speech_end_s: end,
            resume_s: Some(resume),
            finished: false,
            kind: "article".into(),
        }
    }

    fn end(at: f64) -> Point {
        Point {
            speech_end_s: at,
            resume_s: None,
            finished: true,
            kind: "statement".into(),
        }
    }

    #[test]
    fn a_decision_inside_a_pause_is_a_cut_off_and_the_first_after_the_end_is_the_wait() {
        let points = [pause(1.0, 2.0), end(3.0)];
        let score = score_item(&points, &[1.5, 1.9, 2.5, 3.4, 4.0]);
        assert_eq!(score.outcomes[0].decided_at_s, Some(1.5));
        assert_eq!(score.outcomes[1].wait_ms.map(f64::round), Some(400.0));
        // 2.5 s came while the user spoke; 1.9 s and 4.0 s repeat an answered point.
        assert_eq!(score.cut_offs_in_speech, 1);
        let m = metrics([&score]);
        assert_eq!((m.false_cut_offs, m.unfinished_pauses), (1, 1));
        assert_eq!((m.missed_ends, m.late_ends), (0, 0));
    }

    #[test]
    fn no_decision_is_a_held_pause_and_a_missed_end() {
        let points = [pause(1.0, 2.0), end(3.0)];
        let m = metrics([&score_item(&points, &[])]);
        assert_eq!((m.false_cut_offs, m.missed_ends), (0, 1));
        assert_eq!(m.wait_p50_ms, None);
        assert_eq!(m.by_pause_length["0.6-1.2 s"].points, 1);
    }
}
