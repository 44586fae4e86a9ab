//! The compact note written beside the transcript for the language model, e.g.
//! `(said quickly, rising at the end, hesitant)`.
//!
//! Plain, short, lower-case words in a fixed order, in parentheses, so that even a small model
//! reads it as a stage direction; [`SYSTEM_HINT`] tells the model what the parentheses mean and
//! that they are never to be spoken.

use super::decide::{Cue, CueKind, MIN_CONFIDENCE};

/// A line for the system prompt explaining the annotation.
pub const SYSTEM_HINT: &str = "A note in parentheses after the user's words, like (said quickly, \
rising at the end), describes how they spoke, not what they said. Let it shape your answer: a \
rise at the end usually means a question, hesitant means be patient and encouraging, quick means \
keep it short. Never repeat or mention the note.";

/// The phrase for one cue.
fn phrase(kind: CueKind) -> &'static str {
    match kind {
        CueKind::Fast => "said quickly",
        CueKind::Slow => "said slowly",
        CueKind::QuestionRise => "rising at the end",
        CueKind::Hesitant => "hesitant",
        CueKind::Emphatic => "emphatic",
    }
}

/// The note for the confident cues, or an empty string when none is confident.
pub fn annotation(cues: &[Cue]) -> String {
    let mut kinds: Vec<CueKind> = cues
        .iter()
        .filter(|c| c.confidence >= MIN_CONFIDENCE)
        .map(|c| c.kind)
        .collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        return String::new();
    }
    let phrases: Vec<&str> = kinds.into_iter().map(phrase).collect();
    format!("({})", phrases.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(kind: CueKind, confidence: f32) -> Cue {
        Cue { kind, confidence }
    }

    #[test]
    fn confident_cues_in_a_fixed_order() {
        let cues = [
            cue(CueKind::Hesitant, 0.9),
            cue(CueKind::QuestionRise, 0.7),
            cue(CueKind::Fast, 0.95),
            cue(CueKind::Emphatic, 0.3),
        ];
        assert_eq!(
            annotation(&cues),
            "(said quickly, rising at the end, hesitant)"
        );
    }

    #[test]
    fn nothing_confident_says_nothing() {
        assert_eq!(annotation(&[cue(CueKind::Slow, 0.59)]), "");
        assert_eq!(annotation(&[]), "");
    }
}
