//! What the user said over the agent's voice, from its transcript: a backchannel (the listener
//! saying "go on": "mm-hm", "yeah", "right", "I see", a laugh, which Whisper writes as a tag such
//! as "(laughs)"), no words at all (a cough, a click, Whisper's other sound tags), or words that
//! take the floor ("wait", "no, what about...").

/// The kinds of overlapping speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// An acknowledgement that lets the speaker go on.
    Backchannel,
    /// No words: a sound, or a transcript that is only a sound tag or punctuation.
    NotSpeech,
    /// Real words: the user takes the floor.
    Words,
}

/// Words a listener says to let the speaker go on. A transcript made of these only (at most
/// [`BACKCHANNEL_MAX_WORDS`]) is a backchannel. "No", "wait", "stop", "but" and questions are not.
const BACKCHANNEL_WORDS: &[&str] = &[
    "mm",
    "mmm",
    "mhm",
    "hm",
    "hmm",
    "mm-hm",
    "mm-hmm",
    "mmhm",
    "mmhmm",
    "uh-huh",
    "uh",
    "huh",
    "ah",
    "aha",
    "oh",
    "ooh",
    "yeah",
    "yea",
    "yes",
    "yep",
    "yup",
    "ya",
    "right",
    "okay",
    "ok",
    "alright",
    "sure",
    "cool",
    "nice",
    "great",
    "wow",
    "true",
    "exactly",
    "indeed",
    "totally",
    "absolutely",
    "i",
    "see",
    "got",
    "it",
    "gotcha",
    "ha",
    "haha",
    "hahaha",
    "heh",
    "hehe",
    "uh-uh",
    "mm-mm",
    "good",
    "fine",
];
/// A backchannel is short.
const BACKCHANNEL_MAX_WORDS: usize = 4;
/// Lone words that take the floor, or start a sentence that will: a lone word over the agent's
/// voice that is none of these (nor a question) is taken for a response that lets it go on,
/// since a short sound heard out of context is often misheard ("Got", "Duh" for "yeah", "huh").
const TAKES_THE_FLOOR: &[&str] = &[
    "no", "nope", "nah", "stop", "wait", "what", "sorry", "hey", "but", "excuse", "pardon", "hold",
    "hang", "listen", "actually", "why", "how", "who", "where", "when", "which", "please", "help",
    "quiet", "enough", "cancel", "again", "repeat", "i", "we", "you", "so", "and", "can", "could",
    "would", "will", "do", "does", "is", "are", "let", "tell", "the", "my", "it", "that", "this",
    "well", "louder", "slower", "faster", "shh", "shush",
];

/// Classifies a transcript of speech that overlapped the agent's voice.
pub fn classify_overlap(transcript: &str) -> Overlap {
    let spoken = strip_sound_tags(transcript)
        .to_lowercase()
        .replace("all right", "alright");
    let words: Vec<String> = spoken
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
                .trim_matches('-')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        let laughs = transcript.to_lowercase().contains("laugh");
        return if laughs {
            Overlap::Backchannel
        } else {
            Overlap::NotSpeech
        };
    }
    let asks = spoken.trim_end().ends_with('?');
    let acknowledges = words.len() <= BACKCHANNEL_MAX_WORDS
        && words.iter().all(|w| is_backchannel_word(w))
        // "I", "it", "got", "see" only in "I see", "got it": not alone.
        && (words.iter().any(|w| !matches!(w.as_str(), "i" | "it" | "got" | "see"))
            || [["i", "see"], ["got", "it"]]
                .iter()
                .any(|pair| words.windows(2).any(|w| w == pair)));
    let lone_response = words.len() == 1 && !TAKES_THE_FLOOR.contains(&words[0].as_str());
    if (acknowledges || lone_response) && !asks {
        Overlap::Backchannel
    } else {
        Overlap::Words
    }
}

fn is_backchannel_word(word: &str) -> bool {
    BACKCHANNEL_WORDS.contains(&word)
        // Drawn-out hums and laughs: "mmmm", "hmmm", "hahaha".
        || word.chars().all(|c| matches!(c, 'm' | 'h'))
        || word.trim_start_matches('h').chars().all(|c| matches!(c, 'a' | 'h'))
}

/// Removes Whisper's sound tags ("[coughs]", "(laughs)", "*sigh*", "♪") from a transcript.
fn strip_sound_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut in_stars = false;
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            '*' => in_stars = !in_stars,
            '♪' => {}
            _ if depth == 0 && !in_stars => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_are_backchannels() {
        for text in [
            "Mm-hmm.",
            "Uh-huh.",
            "Yeah.",
            "Yeah, yeah.",
            "Right.",
            "Okay.",
            "OK",
            "I see.",
            "Oh, I see.",
            "All right.",
            "(laughs)",
            "[laughter]",
            "Duh.",
            "Got.",
            "Hmm.",
            "Mmm",
            "Haha.",
            "Got it.",
            "Yes.",
            "Sure, sure.",
            " Mhm",
        ] {
            assert_eq!(classify_overlap(text), Overlap::Backchannel, "{text:?}");
        }
    }

    #[test]
    fn sounds_and_empty_transcripts_are_not_speech() {
        for text in [
            "",
            "  ",
            "[coughs]",
            "[SOUND]",
            "*sigh*",
            "[BLANK_AUDIO]",
            "...",
            "♪",
        ] {
            assert_eq!(classify_overlap(text), Overlap::NotSpeech, "{text:?}");
        }
    }

    #[test]
    fn words_that_take_the_floor_are_not_backchannels() {
        for text in [
            "Wait.",
            "No.",
            "Stop!",
            "Hold on.",
            "Yeah, but what about Paris?",
            "Okay?",
            "Sorry, what?",
            "I",
            "See you.",
            "Tell me about the weather instead.",
            "Yeah yeah yeah yeah yeah",
            "Right, and then?",
            "Paris?",
            "Louder!",
            "I love you.",
        ] {
            assert_eq!(classify_overlap(text), Overlap::Words, "{text:?}");
        }
    }
}
