//! Stops a Whisper decoder loop as it starts.
//!
//! With an encoder context fitted to short speech, Whisper's decoder sometimes fails to end and
//! says the same phrase over and over ("10 of clubs 10 of clubs 10 of clubs ..."). Left alone it
//! runs to the token budget and the pass must be decoded again with a wider context, which costs
//! more than the first. The guard watches the tokens as they are chosen: when a phrase of two or
//! more tokens has just been said three times in a row, it makes the end of text the only
//! choice, and the two repeats are cut from the text. Nobody says the same multi-word phrase
//! three times running with the same punctuation; a word said twice ("no, no") is left alone.

use std::cell::RefCell;

/// Copies of a phrase in a row that make a loop.
const COPIES: usize = 3;
/// The shortest phrase, in tokens, that counts (a single repeated token may be speech).
const MIN_UNIT: usize = 2;

/// The length of the phrase that `tokens` (text tokens only) ends with [`COPIES`] times in a
/// row, if any; the shortest such phrase.
pub fn repeated_unit(tokens: &[i32]) -> Option<usize> {
    (MIN_UNIT..=tokens.len() / COPIES).find(|&k| {
        let tail = &tokens[tokens.len() - k * COPIES..];
        tail.chunks(k).all(|unit| unit == &tail[..k])
    })
}

/// What the guard found during one decoding pass.
#[derive(Debug, Default)]
pub struct LoopGuard {
    /// The repeated phrase's text, once the guard has ended a loop.
    pub(super) unit: RefCell<Option<String>>,
}

impl LoopGuard {
    /// `text` without the repeats of the phrase the guard stopped on, if it stopped one.
    pub fn cut(&self, text: &str) -> String {
        let Some(unit) = self.unit.borrow().clone() else {
            return text.to_owned();
        };
        let unit = unit.trim();
        let mut text = text.trim_end();
        for _ in 1..COPIES {
            match text.strip_suffix(unit) {
                Some(rest) if !rest.trim().is_empty() => text = rest.trim_end(),
                _ => break,
            }
        }
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_said_three_times_running_is_a_loop() {
        assert_eq!(repeated_unit(&[5, 7, 8, 7, 8, 7, 8]), Some(2));
        assert_eq!(repeated_unit(&[1, 2, 3, 1, 2, 3, 1, 2, 3]), Some(3));
        // Twice is speech; one token thrice may be too ("no no no").
        assert_eq!(repeated_unit(&[7, 8, 7, 8]), None);
        assert_eq!(repeated_unit(&[4, 4, 4, 4]), None);
        assert_eq!(repeated_unit(&[1, 2, 3, 4, 5, 6]), None);
        assert_eq!(repeated_unit(&[]), None);
    }

    #[test]
    fn the_repeats_are_cut_from_the_text() {
        let guard = LoopGuard::default();
        assert_eq!(
            guard.cut("10 of clubs 10 of clubs"),
            "10 of clubs 10 of clubs"
        );
        *guard.unit.borrow_mut() = Some(" 10 of clubs".into());
        assert_eq!(
            guard.cut(" 10 of clubs 10 of clubs 10 of clubs"),
            " 10 of clubs"
        );
        *guard.unit.borrow_mut() = Some(" left,".into());
        assert_eq!(guard.cut(" Front, left, left, left,"), " Front, left,");
    }
}
