//! What the transcript adds to the audio: how many syllables were said (for the speaking rate;
//! the count does not change when the same words are said faster) and the filled pauses
//! ("um", "uh") Whisper writes out.

/// Words that are filled pauses, not content.
const FILLERS: [&str; 9] = ["um", "umm", "uh", "uhh", "uhm", "er", "erm", "hmm", "mm"];

/// The words of a transcript: lower case, letters, digits and apostrophes only.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == '—')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
}

/// Syllables in one English word, estimated from its spelling: groups of vowels, less a silent
/// final "e" (but not "-le"), at least one. Digits count one syllable each (a rough stand-in for
/// the spoken number).
pub fn word_syllables(word: &str) -> usize {
    if word.chars().all(|c| c.is_ascii_digit()) {
        return word.len();
    }
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    let vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let mut groups = 0;
    let mut previous = false;
    for &c in &letters {
        let v = vowel(c);
        if v && !previous {
            groups += 1;
        }
        previous = v;
    }
    let n = letters.len();
    if n > 2 && letters[n - 1] == 'e' && !vowel(letters[n - 2]) && groups > 1 {
        let le = letters[n - 2] == 'l' && !vowel(letters[n - 3]);
        if !le {
            groups -= 1;
        }
    }
    groups.max(1)
}

/// Syllables in a transcript (filled pauses count too: they take time like any syllable).
pub fn syllables(text: &str) -> usize {
    words(text).map(|w| word_syllables(&w)).sum()
}

/// Filled pauses in a transcript.
pub fn fillers(text: &str) -> usize {
    words(text)
        .filter(|w| FILLERS.contains(&w.as_str()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_are_counted_from_spelling() {
        for (word, n) in [
            ("ask", 1),
            ("country", 2),
            ("americans", 4),
            ("make", 1),
            ("table", 2),
            ("superlative", 4),
            ("the", 1),
            ("forward", 2),
            ("10", 2),
        ] {
            assert_eq!(word_syllables(word), n, "{word}");
        }
        assert_eq!(
            syllables("And so, my fellow Americans: ask not what your country can do for you."),
            19
        );
    }

    #[test]
    fn fillers_are_found_whatever_the_punctuation() {
        assert_eq!(fillers("Um, I think... uh, maybe Tuesday? Hmm."), 3);
        assert_eq!(fillers("Summer is umbrella weather."), 0);
    }
}
