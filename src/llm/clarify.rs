//! Turns that make no sense as something to answer: a transcript with no words (only digits or
//! punctuation, "5, 5"), only hesitation ("um, uh"), one word over and over ("the the the"), or
//! Whisper's tag for non-speech ("[BLANK_AUDIO]", "(music)"). The agent asks the user to say it
//! again instead of letting the model invent an answer to it.

/// What the agent says to such a turn.
pub const CLARIFYING_QUESTION: &str = "Sorry, I didn't catch that. Could you say it again?";

/// Sounds of hesitation, not words.
const HESITATIONS: [&str; 12] = [
    "um", "uh", "umm", "uhm", "hmm", "hm", "mm", "er", "erm", "ah", "eh", "mhm",
];

/// Whether `text` makes no sense as a turn. `after_question`: the agent's last reply asked
/// something, so a bare number ("five", "5") can be an answer.
pub fn is_unclear(text: &str, after_question: bool) -> bool {
    let spoken = strip_tags(text);
    let words: Vec<String> = spoken
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return true;
    }
    let has_letters = words.iter().any(|w| w.chars().any(char::is_alphabetic));
    if !has_letters {
        return !after_question;
    }
    if words.iter().all(|w| HESITATIONS.contains(&w.as_str())) {
        return true;
    }
    words.len() >= 3 && words.iter().all(|w| *w == words[0])
}

/// `text` without bracketed tags: `[BLANK_AUDIO]`, `(music)`, `*coughs*`.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        match closing {
            Some(end) if c == end => closing = None,
            Some(_) => {}
            None => match c {
                '[' => closing = Some(']'),
                '(' => closing = Some(')'),
                '*' => closing = Some('*'),
                _ => out.push(c),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonsense_is_unclear_and_short_real_turns_are_not() {
        for text in [
            "5, 5",
            "...",
            "Um.",
            "Hmm, uh.",
            "the the the the",
            "[BLANK_AUDIO]",
            "(music)",
            "",
        ] {
            assert!(is_unclear(text, false), "{text:?}");
        }
        for text in [
            "Yes.",
            "No thanks.",
            "Hi!",
            "Thank you.",
            "Tell me a joke.",
            "Paris",
        ] {
            assert!(!is_unclear(text, false), "{text:?}");
        }
        assert!(!is_unclear("5", true), "a number answers a question");
        assert!(is_unclear("5", false));
    }
}
