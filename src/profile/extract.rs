//! What is worth keeping of what the user said: their own statements about themselves and the
//! people and things in their life ("My name is Ada.", "We have a dog called Rex.", "Next week
//! I fly to Rome.", "Ana is my sister. She lives in Porto."), sentence by sentence.
//!
//! Rules, not a model, so that it runs in microseconds on any machine and says why:
//!
//! - A sentence is kept when it speaks of the user: a first-person subject or possessive within
//!   its first few words (after fillers such as "well, um, by the way" and a leading time phrase),
//!   or "X is my Y". A sentence right after a kept one that goes on about the same person or thing
//!   ("She lives in Porto.", "His name is Tom.") is kept with it.
//! - Never kept: questions; requests ("tell me...", "can you...", "I want you to..."); talk about
//!   the talk ("I said...", "I mean..."); filler and passing states ("I think so", "I see",
//!   "I'm fine", "I don't know"); anything under three words.
//!
//! The same selection feeds the in-call running memory (`llm::memory`) and the store of facts
//! between calls (`profile::store`), so that both keep the same things.

/// Words that make a sentence about the user (first person).
const FIRST_PERSON: [&str; 15] = [
    "i", "i'm", "i've", "i'd", "i'll", "my", "me", "mine", "myself", "we", "we're", "we've",
    "we'll", "our", "us",
];

/// Words dropped from the start of a sentence before it is judged.
const FILLERS: [&str; 24] = [
    "well", "um", "uh", "erm", "hmm", "so", "oh", "ok", "okay", "yeah", "yes", "no", "and", "but",
    "actually", "also", "hey", "hi", "hello", "anyway", "like", "right", "alright", "btw",
];

/// Two-word fillers dropped from the start of a sentence.
const FILLER_PAIRS: [(&str, &str); 3] = [("by", "the"), ("you", "know"), ("oh", "and")];

/// Words of a time phrase that may come before the subject ("Next week I ...").
const TIME_WORDS: [&str; 30] = [
    "today",
    "tomorrow",
    "tonight",
    "yesterday",
    "next",
    "last",
    "this",
    "every",
    "on",
    "in",
    "at",
    "week",
    "weekend",
    "month",
    "year",
    "morning",
    "evening",
    "afternoon",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "now",
    "recently",
    "usually",
    "soon",
    "then",
];

/// First words of a request or a question: the sentence asks, it does not tell.
const ASKING_STARTS: [&str; 40] = [
    "tell", "give", "say", "show", "play", "forget", "remember", "help", "find", "set", "remind",
    "read", "sing", "explain", "describe", "list", "make", "let", "let's", "please", "can",
    "could", "would", "will", "do", "does", "did", "is", "are", "what", "what's", "where", "when",
    "who", "why", "how", "which", "stop", "repeat", "write",
];

/// Sentences that say nothing lasting, compared without punctuation and in lower case.
const FILLER_SENTENCES: [&str; 40] = [
    "i think so",
    "i don't think so",
    "i guess",
    "i guess so",
    "i hope so",
    "i suppose",
    "i suppose so",
    "i see",
    "i know",
    "i don't know",
    "i'm not sure",
    "i am not sure",
    "i mean",
    "i agree",
    "me too",
    "me neither",
    "i understand",
    "i got it",
    "i get it",
    "i do",
    "i don't",
    "i did",
    "i didn't",
    "i am",
    "i'm not",
    "i will",
    "i won't",
    "i can",
    "i can't",
    "i was",
    "i wasn't",
    "i have",
    "i haven't",
    "i think",
    "my bad",
    "my pleasure",
    "we'll see",
    "i'm listening",
    "i'm still here",
    "i'm back",
];

/// Passing states after "I'm": true now, not worth a later call.
const PASSING_STATES: [&str; 12] = [
    "fine",
    "good",
    "ok",
    "okay",
    "great",
    "alright",
    "well",
    "here",
    "sorry",
    "ready",
    "done",
    "listening",
];

/// Verbs that make a sentence about the conversation itself ("I said...", "I meant...").
const TALK_VERBS: [&str; 10] = [
    "said",
    "say",
    "told",
    "asked",
    "ask",
    "meant",
    "mean",
    "wonder",
    "wondering",
    "repeat",
];

/// Pronouns that carry a kept sentence on to the next one.
const CARRY_ON: [&str; 11] = [
    "he", "she", "they", "it", "his", "her", "their", "its", "he's", "she's", "they're",
];

/// Sentences within `words` of the start may hold the first-person subject.
const SUBJECT_WITHIN: usize = 4;

/// One thing the user said about themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement as kept (fillers before it dropped), e.g. "My name is Ada."
    pub text: String,
    /// The sentence as the user said it, e.g. "Well, um, my name is Ada."
    pub said: String,
}

/// A word in lower case without the punctuation around it (apostrophes kept).
pub fn word(w: &str) -> String {
    w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
        .replace('’', "'")
        .to_lowercase()
}

/// The sentences of `text`: split after `.`, `!` or `?` followed by a space, each trimmed.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let ends = matches!(c, '.' | '!' | '?')
            && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
        if ends {
            out.push(text[start..=i].trim());
            start = i + 1;
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| s.chars().any(char::is_alphanumeric));
    out
}

/// Whether any word of `text` is first person ("I", "my", "we", ...).
pub fn speaks_of_self(text: &str) -> bool {
    text.split_whitespace()
        .any(|w| FIRST_PERSON.contains(&word(w).as_str()))
}

/// Whether `text` mentions any of `words` (lower case; a word they begin counts: "dog" in
/// "dogs").
pub fn mentions(text: &str, words: &[String]) -> bool {
    text.split_whitespace()
        .map(word)
        .any(|w| words.iter().any(|t| w.starts_with(t.as_str())))
}

/// The sentence without the fillers at its start ("Well, by the way, my ..." -> "my ...").
fn without_fillers(sentence: &str) -> &str {
    let mut rest = sentence.trim_start();
    loop {
        let mut parts = rest.splitn(3, char::is_whitespace);
        let first = parts.next().map(word).unwrap_or_default();
        let second = parts.next().map(word).unwrap_or_default();
        let skip = if FILLER_PAIRS.contains(&(first.as_str(), second.as_str())) {
            let after_two = rest.split_whitespace().nth(2).map(word);
            // "by the way", "oh and", "you know": drop the pair, and "way" after "by the".
            if first == "by" && after_two.as_deref() == Some("way") {
                3
            } else {
                2
            }
        } else if FILLERS.contains(&first.as_str()) && !second.is_empty() {
            1
        } else {
            return rest;
        };
        let mut next = rest;
        for _ in 0..skip {
            next = next.trim_start();
            next = next.find(char::is_whitespace).map_or("", |i| &next[i..]);
        }
        rest = next.trim_start_matches([',', ' ', '-', '—']);
    }
}

/// Whether `sentence` (fillers already dropped) tells something lasting about the user.
fn tells_about_self(sentence: &str) -> bool {
    if sentence.trim_end().ends_with('?') {
        return false;
    }
    let words: Vec<String> = sentence.split_whitespace().map(word).collect();
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < 3 {
        return false;
    }
    let joined = words.join(" ");
    if FILLER_SENTENCES.contains(&joined.as_str()) {
        return false;
    }
    if words[0] == "call" && words[1] == "me" {
        return true; // "Call me Captain." is a request about the user, kept.
    }
    if ASKING_STARTS.contains(&words[0]) {
        return false;
    }
    // The first-person word: the subject or possessive near the start (after a time phrase),
    // or "X is my Y" anywhere.
    let lead = words.iter().take_while(|w| TIME_WORDS.contains(w)).count();
    let subject = words
        .iter()
        .skip(lead)
        .take(SUBJECT_WITHIN)
        .position(|w| FIRST_PERSON.contains(w))
        .map(|i| i + lead);
    let is_my = words
        .windows(2)
        .any(|p| matches!(p[0], "is" | "are" | "was" | "were") && matches!(p[1], "my" | "our"));
    let Some(at) = subject.or_else(|| is_my.then_some(0)) else {
        return false;
    };
    let rest = &words[at..];
    if is_request(rest) || rest.iter().take(3).any(|w| TALK_VERBS.contains(w)) {
        return false;
    }
    // "I'm fine." "I am ready now."
    let state_at = match rest {
        ["i'm", ..] => Some(1),
        ["i", "am", ..] => Some(2),
        _ => None,
    };
    if let Some(s) = state_at
        && rest.get(s).is_some_and(|w| PASSING_STATES.contains(w))
        && rest.len() <= s + 2
    {
        return false;
    }
    true
}

/// "I want you to...", "I'd like to know...", "I need you...": the user asks for something now.
fn is_request(words: &[&str]) -> bool {
    let wants = |w: &str| matches!(w, "want" | "need" | "like" | "wish");
    words.windows(2).take(4).any(|p| {
        (wants(p[0]) && matches!(p[1], "you" | "u"))
            || (matches!(p[0], "to") && matches!(p[1], "know" | "hear" | "ask"))
    }) || words.starts_with(&["i", "wonder"])
}

/// The user's statements about themselves in `utterance`, in order.
pub fn statements(utterance: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut carried = false;
    for said in sentences(utterance) {
        let text = without_fillers(said);
        let first = text.split_whitespace().next().map(word).unwrap_or_default();
        let keep = tells_about_self(text)
            || (carried
                && CARRY_ON.contains(&first.as_str())
                && !text.ends_with('?')
                && text.split_whitespace().count() >= 3);
        carried = keep;
        if keep {
            out.push(Statement {
                text: capitalised(text),
                said: said.to_owned(),
            });
        }
    }
    out
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// Words that carry no topic, left out of searches.
const STOP_WORDS: [&str; 64] = [
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "about",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "am",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "what",
    "who",
    "where",
    "when",
    "why",
    "how",
    "which",
    "that",
    "this",
    "it",
    "its",
    "i",
    "i'm",
    "me",
    "my",
    "mine",
    "we",
    "our",
    "us",
    "you",
    "your",
    "you're",
    "yours",
    "tell",
    "told",
    "say",
    "said",
    "remember",
    "know",
    "again",
    "anything",
    "something",
    "all",
    "any",
    "there",
    "can",
    "could",
];

/// The words of `text` that name a topic, lower case, in order, without repeats (what a search
/// of the store looks for: "what did I tell you about my sister?" -> ["sister"]).
pub fn topic_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split_whitespace() {
        let w = word(w);
        let w = w.strip_suffix("'s").unwrap_or(&w).to_owned();
        if w.chars().count() > 1 && !STOP_WORDS.contains(&w.as_str()) && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str) -> Vec<String> {
        statements(text).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn statements_about_the_user_and_their_life_are_kept() {
        for (said, expected) in [
            ("My name is Ada.", "My name is Ada."),
            ("I live in Lisbon", "I live in Lisbon"),
            ("We have a dog called Rex.", "We have a dog called Rex."),
            (
                "Well, um, my sister works as a nurse.",
                "My sister works as a nurse.",
            ),
            (
                "Oh by the way, I'm allergic to peanuts.",
                "I'm allergic to peanuts.",
            ),
            (
                "Next week I fly to Rome for a wedding.",
                "Next week I fly to Rome for a wedding.",
            ),
            ("Ana is my sister.", "Ana is my sister."),
            (
                "I really love jazz and old films.",
                "I really love jazz and old films.",
            ),
            ("Call me Captain.", "Call me Captain."),
            (
                "I'm a teacher at a primary school.",
                "I'm a teacher at a primary school.",
            ),
            (
                "yeah my favourite colour is green",
                "My favourite colour is green",
            ),
            (
                "I want to learn Spanish this year.",
                "I want to learn Spanish this year.",
            ),
        ] {
            assert_eq!(kept(said), [expected], "{said}");
        }
    }

    #[test]
    fn a_sentence_going_on_about_the_same_person_is_kept_with_it() {
        assert_eq!(
            kept("My brother moved to Berlin. He works for a bank. What time is it?"),
            ["My brother moved to Berlin.", "He works for a bank."]
        );
        assert_eq!(kept("It is raining. He is late."), Vec::<String>::new());
    }

    #[test]
    fn questions_requests_filler_and_passing_states_are_not_kept() {
        for said in [
            "What is my name?",
            "Do you remember my dog's name?",
            "I think so.",
            "I guess.",
            "I don't know.",
            "Yeah, I see.",
            "Um, I'm fine.",
            "I'm okay thanks.",
            "Hmm.",
            "Okay.",
            "Tell me a joke about my cat.",
            "Can you help me with my homework",
            "Forget what I told you about my dog.",
            "Please remember my birthday.",
            "I want you to tell me a story.",
            "I'd like to know the time.",
            "I said Paris, not Rome.",
            "I mean the other one.",
            "Paris is the capital of France, I think.",
            "The weather is nice today.",
            "Let's talk about music.",
            "I wonder if it will rain",
        ] {
            assert!(kept(said).is_empty(), "{said} gave {:?}", kept(said));
        }
    }

    #[test]
    fn the_words_it_came_from_are_kept_beside_it() {
        let s = statements("Hi! Well, my dog is called Biscuit. How are you?");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].text, "My dog is called Biscuit.");
        assert_eq!(s[0].said, "Well, my dog is called Biscuit.");
    }

    #[test]
    fn topic_words_leave_out_the_question() {
        assert_eq!(
            topic_words("What did I tell you about my sister?"),
            ["sister"]
        );
        assert_eq!(
            topic_words("Do you remember my dog's name?"),
            ["dog", "name"]
        );
        assert_eq!(
            topic_words("what do you know about me"),
            Vec::<String>::new()
        );
    }
}
