//! The voice's own silence at the edges of what it says: Piper starts each utterance with
//! 30-70 ms of near silence and ends it with 130-280 ms. At the start of a reply that silence
//! is added latency, and at a join between chunks cut mid-sentence it is an audible stutter
//! (the two add up to 160-350 ms), so each utterance is trimmed to a short lead and tail before
//! the pause its punctuation calls for is added back.
//!
//! Inside an utterance the voice sometimes breathes where the text has no mark (220 ms before
//! "but also" in a 30-word sentence): such pauses are shortened to [`UNMARKED_PAUSE_MS`], while
//! as many of the longest pauses as the text has inner marks are kept as they are.

/// A sample this loud (-48 dBFS) or louder is sound, not the model's silence.
const SOUND_LEVEL: f32 = 0.004;
/// Near silence kept before the first sound, so that a soft onset is not clipped.
const LEAD_KEEP_MS: u32 = 10;
/// Near silence kept after the last sound: the decay of the last phoneme.
const TAIL_KEEP_MS: u32 = 40;

/// A stretch quieter than this (-40 dBFS) for longer than [`UNMARKED_PAUSE_MS`] is a pause.
const PAUSE_LEVEL: f32 = 0.01;
/// The longest pause kept where the text has no mark.
pub const UNMARKED_PAUSE_MS: u32 = 100;

/// Marks inside `text` that call for a pause (not counting the final one).
pub fn inner_marks(text: &str) -> usize {
    let body = text
        .trim_end()
        .trim_end_matches(['.', ',', ';', ':', '!', '?', '"', ')']);
    body.matches([',', ';', ':', '.', '!', '?', '—']).count()
}

/// The stretches of 10 ms frames quieter than -40 dBFS inside `samples` (at `rate` Hz), as
/// (first sample, length): sound comes before and after each.
pub fn quiet_stretches(samples: &[f32], rate: u32) -> Vec<(usize, usize)> {
    let step = (rate / 100) as usize; // 10 ms
    let mut stretches = Vec::new();
    let mut run_start = None;
    for (i, frame) in samples.chunks(step).enumerate() {
        let quiet = frame.iter().all(|s| s.abs() < PAUSE_LEVEL);
        match (quiet, run_start) {
            (true, None) => run_start = Some(i * step),
            (false, Some(start)) => {
                if start > 0 {
                    stretches.push((start, i * step - start));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    stretches
}

/// Shortens the pauses inside `samples` (at `rate` Hz) that `text`'s marks do not account
/// for: the longest pauses, one per inner mark, are kept; the others lose their middle down to
/// [`UNMARKED_PAUSE_MS`].
pub fn shorten_unmarked_pauses(samples: &mut Vec<f32>, rate: u32, text: &str) {
    let longest = UNMARKED_PAUSE_MS as usize * rate as usize / 1000;
    let mut pauses: Vec<(usize, usize)> = quiet_stretches(samples, rate)
        .into_iter()
        .filter(|&(_, len)| len > longest)
        .collect();
    pauses.sort_by_key(|&(_, len)| std::cmp::Reverse(len));
    let mut cut: Vec<(usize, usize)> = pauses.into_iter().skip(inner_marks(text)).collect();
    cut.sort_unstable();
    for &(start, len) in cut.iter().rev() {
        let keep_each_side = longest / 2;
        samples.drain(start + keep_each_side..start + len - keep_each_side);
    }
}

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
    fn pauses_beyond_the_text_s_marks_are_shortened() {
        let rate = 16_000;
        let sound = vec![0.5; 3_200];
        let pause = |ms: usize| vec![0.0; ms * 16];
        let audio = [
            sound.clone(),
            pause(300),
            sound.clone(),
            pause(200),
            sound.clone(),
        ]
        .concat();
        // No inner mark: both pauses come down to 100 ms.
        let mut plain = audio.clone();
        shorten_unmarked_pauses(&mut plain, rate, "one two three four five.");
        assert_eq!(plain.len(), 3 * 3_200 + 2 * 100 * 16);
        // One comma: the longest pause is the comma's and stays.
        let mut marked = audio.clone();
        shorten_unmarked_pauses(&mut marked, rate, "one two, three four five.");
        assert_eq!(marked.len(), 3 * 3_200 + (300 + 100) * 16);
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
