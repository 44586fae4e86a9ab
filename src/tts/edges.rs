//! The voice's own silence at the edges of what it says: Piper starts each utterance with
//! 30-70 ms of near silence and ends it with 130-280 ms. At the start of a reply that silence
//! is added latency, and at a join between chunks cut mid-sentence it is an audible stutter
//! (the two add up to 160-350 ms), so each utterance is trimmed to a short lead and tail before
//! the pause its punctuation calls for is added back.

/// A sample this loud (-48 dBFS) or louder is sound, not the model's silence.
const SOUND_LEVEL: f32 = 0.004;
/// Near silence kept before the first sound, so that a soft onset is not clipped.
const LEAD_KEEP_MS: u32 = 10;
/// Near silence kept after the last sound: the decay of the last phoneme.
const TAIL_KEEP_MS: u32 = 40;

/// Trims `samples` (at `rate` Hz) to [`LEAD_KEEP_MS`] before the first sound and
/// [`TAIL_KEEP_MS`] after the last. Audio with no sound at all is left as it is.
pub fn trim_silent_edges(samples: &mut Vec<f32>, rate: u32) {
    let Some(first) = samples.iter().position(|s| s.abs() >= SOUND_LEVEL) else {
        return;
    };
    let last = samples
        .iter()
        .rposition(|s| s.abs() >= SOUND_LEVEL)
        .unwrap_or(first);
    let per_ms = rate as usize / 1000;
    let end = (last + 1 + TAIL_KEEP_MS as usize * per_ms).min(samples.len());
    let start = first.saturating_sub(LEAD_KEEP_MS as usize * per_ms);
    samples.truncate(end);
    samples.drain(..start);
}

/// Whether `text` ends with a mark that calls for a pause inside a sentence (`,` `;` `:`).
pub fn ends_clause(text: &str) -> bool {
    text.trim_end().ends_with([',', ';', ':'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_short_lead_and_tail_around_the_sound() {
        let rate = 22_050;
        let mut samples = vec![0.001; 2_000];
        samples.extend(vec![0.5; 1_000]);
        samples.extend(vec![0.0; 5_000]);
        trim_silent_edges(&mut samples, rate);
        let per_ms = 22;
        assert_eq!(samples.len(), 1_000 + (10 + 40) * per_ms);
        assert_eq!(samples[10 * per_ms], 0.5);
    }

    #[test]
    fn silence_alone_is_left_alone() {
        let mut samples = vec![0.0; 100];
        trim_silent_edges(&mut samples, 16_000);
        assert_eq!(samples.len(), 100);
    }

    #[test]
    fn clause_marks_call_for_a_pause_and_words_do_not() {
        assert!(ends_clause("Well, "));
        assert!(ends_clause("first:"));
        assert!(!ends_clause("I think that"));
        assert!(!ends_clause("Done."));
    }
}
