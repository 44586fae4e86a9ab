//! The word-level pieces shared by the normaliser and the amount reader: splitting a word from
//! its surrounding punctuation, the punctuation kept, sentence starts, and plain (non-number)
//! words. A leaf module, so `normalize` and `amounts` both depend on it and not on each other.

use super::numbers::digits;

/// Characters that may open a word and are not spoken (quotes, brackets).
pub(super) const LEAD: &[char] = &['"', '\'', '(', '[', '{', '<', '¿', '¡'];
/// Characters that may close a word: brackets and quotes (dropped) and punctuation (kept).
const TRAIL: &[char] = &['"', '\'', ')', ']', '}', '>', ',', ';', ':', '!', '?', '.'];
/// Closing punctuation kept in the output, for the clause splitter and the voice's prosody.
pub(super) const KEPT_PUNCTUATION: &[char] = &[',', ';', ':', '!', '?', '.'];

/// Splits a word into its opening characters, its core and its closing characters.
pub(super) fn split_word(word: &str) -> (&str, &str, &str) {
    let core_start = word.len() - word.trim_start_matches(LEAD).len();
    let rest = &word[core_start..];
    let core = rest.trim_end_matches(TRAIL);
    (&word[..core_start], core, &rest[core.len()..])
}

/// The kept punctuation of a word's closing characters (quotes and brackets dropped).
pub(super) fn kept(trail: &str) -> String {
    trail
        .chars()
        .filter(|c| KEPT_PUNCTUATION.contains(c))
        .collect()
}

/// Whether the word starts a new sentence (its first letter is upper case).
pub(super) fn capitalised(word: Option<&&str>) -> bool {
    word.and_then(|w| w.trim_start_matches(LEAD).chars().next())
        .is_some_and(char::is_uppercase)
}

/// Cleans a word that is not a number: symbols inside it become words or spaces, and digit
/// runs glued to letters are left for espeak ("mp3").
pub(super) fn plain_word(core: &str) -> String {
    let mut out = String::with_capacity(core.len());
    for c in core.chars() {
        match c {
            '&' => out.push_str(" and "),
            '+' => out.push_str(" plus "),
            '=' => out.push_str(" equals "),
            '@' => out.push_str(" at "),
            '%' => out.push_str(" percent"),
            '/' | '_' | '|' | '\\' | '*' | '#' | '^' | '<' | '>' | '{' | '}' | '[' | ']' | '~'
            | '"' | '(' | ')' | '`' => out.push(' '),
            c => out.push(c),
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.bytes().all(|b| b.is_ascii_digit()) && !joined.is_empty() {
        digits(&joined)
    } else {
        joined
    }
}
