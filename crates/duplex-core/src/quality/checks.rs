//! Judging one reply: the leak check every reply must pass, the cue-note check every cue case's
//! reply must pass, and the check its case expects.

use std::collections::HashSet;

use super::{Case, Expect};
use crate::text::is_emoji;
use crate::wer::normalize;

/// Most sentences a spoken reply may have unless more were asked for.
const MAX_SENTENCES: usize = 2;
/// A reply sharing at least this share of its word pairs with another text repeats it.
const OVERLAP_LIMIT: f64 = 0.5;
/// Words in a row of the system prompt that, found in a reply, count as reciting it.
const RECITED_WORDS: usize = 5;
/// Words that show a reply asks the user to say it again or explain.
const CLARIFYING: [&str; 10] = [
    "sorry",
    "catch",
    "repeat",
    "again",
    "mean",
    "pardon",
    "understand",
    "clarify",
    "hear",
    "say",
];

/// Most words of a reply to someone in a hurry (about five seconds of speech).
const QUICK_WORDS: usize = 15;
/// Words and phrases that answer a yes/no question (or say why it has no plain answer).
const YES_NO: [&str; 45] = [
    "yes",
    "yeah",
    "yep",
    "yup",
    "no",
    "nope",
    "not all",
    "not always",
    "not really",
    "not quite",
    "not exactly",
    "not true",
    "correct",
    "incorrect",
    "true",
    "false",
    "indeed",
    "exactly",
    "certainly",
    "definitely",
    "absolutely",
    "of course",
    "that's right",
    "you're right",
    "that's wrong",
    "i won't",
    "i can't",
    "i cannot",
    "isn't",
    "aren't",
    "don't",
    "doesn't",
    "can't",
    "cannot",
    "won't",
    "probably",
    "usually",
    "mostly",
    "generally",
    "depends",
    "maybe",
    "perhaps",
    "not sure",
    "i don't know",
    "i'm afraid",
];
/// The phrases of a cue note (`duplex::cues::annotation`).
const NOTE_PHRASES: [&str; 5] = [
    "said quickly",
    "said slowly",
    "rising at the end",
    "hesitant",
    "emphatic",
];

/// The outcome of judging one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the reply does what its case expects, without leaking.
    pub passed: bool,
    /// Why not, when it failed.
    pub why: Option<String>,
}

impl Verdict {
    fn pass() -> Self {
        Self {
            passed: true,
            why: None,
        }
    }

    fn fail(why: impl Into<String>) -> Self {
        Self {
            passed: false,
            why: Some(why.into()),
        }
    }
}

/// Judges replies against the system prompt they were given.
#[derive(Debug, Clone)]
pub struct Judge<'a> {
    /// The system prompt the model saw (a reply must not recite it).
    pub system_prompt: &'a str,
}

impl Judge<'_> {
    /// Judges `reply` to `case`; `previous` is the reply before it in the same conversation
    /// (for a cut reply: the whole reply, as generated).
    pub fn judge(&self, case: &Case, reply: &str, previous: Option<&str>) -> Verdict {
        if reply.trim().is_empty() {
            return Verdict::fail("empty reply");
        }
        if let Some(why) = leak(reply, self.system_prompt) {
            return Verdict::fail(why);
        }
        if let Some(why) = reads_note(reply, case.note) {
            return Verdict::fail(why);
        }
        let said = normalize(&plain_apostrophes(reply)).join(" ");
        let mentions = |answers: &[&str]| {
            answers.is_empty()
                || answers
                    .iter()
                    .any(|a| contains_words(&said, &normalize(a).join(" ")))
        };
        let sentences = count_sentences(reply);
        match case.expect {
            Expect::Mentions(answers) if !mentions(answers) => {
                Verdict::fail(format!("does not say any of {answers:?}"))
            }
            Expect::Reacts if echoes(reply, case.ask) => Verdict::fail("echoes the user"),
            Expect::Reacts | Expect::Brief if sentences > MAX_SENTENCES => {
                Verdict::fail(format!("{sentences} sentences"))
            }
            Expect::Shorter => match previous {
                Some(before) if words(reply) < words(before) => Verdict::pass(),
                _ => Verdict::fail("not shorter than the previous reply"),
            },
            Expect::Repeats => match previous {
                Some(before) if bigram_overlap(reply, before) >= OVERLAP_LIMIT => Verdict::pass(),
                _ => Verdict::fail("does not say the previous reply again"),
            },
            Expect::Fresh(answers) => {
                if previous.is_some_and(|cut| bigram_overlap(reply, cut) >= OVERLAP_LIMIT) {
                    Verdict::fail("repeats the reply that was cut")
                } else if !mentions(answers) {
                    Verdict::fail(format!("does not say any of {answers:?}"))
                } else {
                    Verdict::pass()
                }
            }
            Expect::Clarifies => {
                let asks = reply.contains('?')
                    && normalize(reply)
                        .iter()
                        .any(|w| CLARIFYING.contains(&w.as_str()));
                if asks && sentences <= MAX_SENTENCES {
                    Verdict::pass()
                } else {
                    Verdict::fail("does not ask the user to say it again")
                }
            }
            Expect::AnswersYesNo(extra) => {
                let answers = YES_NO.iter().chain(extra).any(|a| contains_words(&said, a));
                if answers {
                    Verdict::pass()
                } else {
                    Verdict::fail("acknowledges instead of answering yes or no")
                }
            }
            Expect::Quick(answers) => {
                let count = words(reply);
                if count > QUICK_WORDS {
                    Verdict::fail(format!("too long for a hurry ({count} words)"))
                } else if !mentions(answers) {
                    Verdict::fail(format!("does not say any of {answers:?}"))
                } else {
                    Verdict::pass()
                }
            }
            _ => Verdict::pass(),
        }
    }
}

/// Typographic apostrophes as plain ones, so that "can’t" is the word "can't".
fn plain_apostrophes(text: &str) -> String {
    text.replace(['\u{2019}', '\u{2018}'], "'")
}

/// Whether a reply reads the cue note beside the user's words aloud: says one of the note's
/// phrases ("hesitant", "rising at the end"), puts any cue phrase in parentheses, or talks about
/// the note or its parentheses. Nothing for a case without a note.
pub fn reads_note(reply: &str, note: &str) -> Option<String> {
    if note.is_empty() {
        return None;
    }
    let said = normalize(reply).join(" ");
    let noted = normalize(note).join(" ");
    if let Some(phrase) = NOTE_PHRASES
        .iter()
        .find(|p| contains_words(&noted, p) && contains_words(&said, p))
    {
        return Some(format!("reads the cue note aloud ({phrase:?})"));
    }
    let lower = reply.to_lowercase();
    let in_parentheses = lower
        .split('(')
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap_or_default())
        .any(|inside| {
            let inside = normalize(inside).join(" ");
            NOTE_PHRASES.iter().any(|p| contains_words(&inside, p))
        });
    if in_parentheses {
        return Some("a cue note in parentheses".into());
    }
    ["parenthesis", "parentheses", "the note"]
        .into_iter()
        .find(|w| contains_words(&said, w))
        .map(|w| format!("talks about the cue note ({w:?})"))
}

/// Whether `reply` repeats `said`: half of the reply's word pairs are the user's, or half of
/// the user's word pairs come back in the reply (a long reply that starts with an echo).
fn echoes(reply: &str, said: &str) -> bool {
    bigram_overlap(reply, said) >= OVERLAP_LIMIT || bigram_overlap(said, reply) >= OVERLAP_LIMIT
}

fn words(text: &str) -> usize {
    normalize(text).len()
}

/// Whether the word sequence `needle` occurs in `haystack` (both space-joined normalised words).
fn contains_words(haystack: &str, needle: &str) -> bool {
    !needle.is_empty() && format!(" {haystack} ").contains(&format!(" {needle} "))
}

/// What a reply leaks, if anything: the system prompt, a history marker, a role name, markdown
/// or an emoji.
pub fn leak(reply: &str, system_prompt: &str) -> Option<String> {
    let lower = reply.to_lowercase();
    let prompt = normalize(system_prompt);
    let said = format!(" {} ", normalize(reply).join(" "));
    if let Some(window) = prompt
        .windows(RECITED_WORDS)
        .map(|w| w.join(" "))
        .find(|w| said.contains(&format!(" {w} ")))
    {
        return Some(format!("recites the system prompt (\"{window}\")"));
    }
    for marker in [
        "interrupted by the user",
        "[",
        "]",
        "<|",
        "|>",
        "im_start",
        "im_end",
    ] {
        if lower.contains(marker) {
            return Some(format!("history marker {marker:?}"));
        }
    }
    for role in ["user:", "assistant:", "system:"] {
        if lower.contains(role) {
            return Some(format!("role name {role:?}"));
        }
    }
    // Talking about the listener as "the user" is narrating the transcript, not talking.
    if said.contains(" the user ") || said.contains(" the assistant ") {
        return Some("role name \"the user\" (narrates instead of talking)".into());
    }
    for mark in ["**", "__", "`", "#"] {
        if reply.contains(mark) {
            return Some(format!("markdown {mark:?}"));
        }
    }
    let list_item = reply.lines().map(str::trim_start).any(|line| {
        line.starts_with("- ")
            || line.starts_with("* ")
            || line
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    if list_item && reply.lines().count() > 1 {
        return Some("a markdown list".into());
    }
    reply
        .chars()
        .find(|&c| is_emoji(c))
        .map(|c| format!("emoji {c:?}"))
}

/// Sentences in a reply: runs of text ended by `.`, `!` or `?` (a full stop between digits, as
/// in "2.5", ends nothing), plus an unended last one.
pub fn count_sentences(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let mut count = 0;
    let mut has_words = false;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            has_words = true;
        }
        let ends = matches!(c, '.' | '!' | '?')
            && chars
                .get(i + 1)
                .is_none_or(|n| n.is_whitespace() || *n == '"');
        if ends && has_words {
            count += 1;
            has_words = false;
        }
    }
    count + usize::from(has_words)
}

/// The share of `reply`'s word pairs that also occur in `other` (0 when it has fewer than two
/// words).
pub fn bigram_overlap(reply: &str, other: &str) -> f64 {
    let pairs = |text: &str| -> Vec<(String, String)> {
        let w = normalize(text);
        w.windows(2).map(|p| (p[0].clone(), p[1].clone())).collect()
    };
    let mine = pairs(reply);
    if mine.is_empty() {
        return 0.0;
    }
    let theirs: HashSet<(String, String)> = pairs(other).into_iter().collect();
    mine.iter().filter(|p| theirs.contains(*p)).count() as f64 / mine.len() as f64
}

#[cfg(test)]
mod tests {
    use super::super::{CASES, CUE_CASES, Category, all_cases};
    use super::*;

    const PROMPT: &str = "You are a helpful voice assistant talking to a user.";

    fn case(id: &str) -> &'static Case {
        all_cases().find(|c| c.id == id).expect("case")
    }

    fn judge(id: &str, reply: &str, previous: Option<&str>) -> Verdict {
        Judge {
            system_prompt: PROMPT,
        }
        .judge(case(id), reply, previous)
    }

    #[test]
    fn the_suite_has_every_category_and_enough_cases() {
        assert!(CASES.len() >= 60);
        for category in Category::ALL {
            assert!(all_cases().filter(|c| c.category == category).count() >= 5);
        }
        let mut ids: Vec<_> = all_cases().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all_cases().count(), "ids are unique");
        assert!(
            CASES
                .iter()
                .all(|c| c.note.is_empty() && c.category != Category::Cues)
        );
        assert!(CUE_CASES.iter().all(|c| {
            c.category == Category::Cues && c.note.starts_with('(') && c.note.ends_with(')')
        }));
        assert_eq!(case("name-at-20").turn_number(), 20);
    }

    #[test]
    fn the_failures_the_issue_reported_are_failures() {
        let echo = judge("amiable", "He might have been made amiable himself.", None);
        assert_eq!(echo.why.as_deref(), Some("echoes the user"));
        let long_echo = judge(
            "amiable",
            "He might have been made amiable himself, as he is a person who can be seen as \
             someone else's friend or partner.",
            None,
        );
        assert_eq!(long_echo.why.as_deref(), Some("echoes the user"));
        let recital = judge(
            "ada-lisbon",
            "Ada, I'm glad to help. You're a helpful voice assistant talking to a user.",
            None,
        );
        assert!(
            recital
                .why
                .unwrap()
                .starts_with("recites the system prompt")
        );
        let marker = judge(
            "cut-rome",
            "The user asked for a 10-meter... [interrupted by the user]",
            None,
        );
        assert!(!marker.passed);
        assert!(!judge("five-five", "I'm sorry for your loss.", None).passed);
    }

    #[test]
    fn good_replies_pass() {
        assert!(judge("capital-france", "The capital of France is Paris.", None).passed);
        assert!(judge("hours-day", "There are 24 hours in a day.", None).passed);
        assert!(judge("walk", "That sounds lovely. Was it sunny?", None).passed);
        assert!(
            judge(
                "five-five",
                "Sorry, I didn't catch that. Could you say it again?",
                None
            )
            .passed
        );
        let long = "Elephants are the largest land animals. They live in Africa and Asia.";
        assert!(judge("shorter-elephants", "Elephants are huge.", Some(long)).passed);
        assert!(judge("again-moon", long, Some(long)).passed);
        assert!(
            judge(
                "cut-rome",
                "Rome is the capital of Italy.",
                Some("Rome was founded in 753 BC and grew.")
            )
            .passed
        );
    }

    #[test]
    fn sentences_and_leaks_are_counted_as_a_listener_would() {
        assert_eq!(count_sentences("It is 2.5 metres. Really! Is it?"), 3);
        assert_eq!(count_sentences("No full stop"), 1);
        assert!(leak("Here you go: 😀", PROMPT).is_some());
        assert!(leak("**Blue** is nice.", PROMPT).is_some());
        assert!(leak("Fruits:\n- apple\n- pear", PROMPT).is_some());
        assert!(leak("Assistant: hello", PROMPT).is_some());
        assert!(leak("The user asked which animal says moo.", PROMPT).is_some());
        assert!(leak("Apples, pears and plums.", PROMPT).is_none());
    }

    #[test]
    fn a_cue_note_goes_beside_the_words_only_when_asked_for() {
        let rise = case("cue-rise-coming");
        assert_eq!(
            rise.user_turn(true),
            "You're coming tomorrow (rising at the end)"
        );
        assert_eq!(rise.user_turn(false), "You're coming tomorrow");
        assert_eq!(case("hi").user_turn(true), "Hi!");
    }

    #[test]
    fn listener_like_replies_to_cues_pass() {
        let pass = |id, reply| {
            let verdict = judge(id, reply, None);
            assert!(verdict.passed, "{id}: {reply:?} {:?}", verdict.why);
        };
        pass("cue-rise-coming", "Yes, I'll be there at ten.");
        pass(
            "cue-rise-coming",
            "I can’t come anywhere, I'm a voice assistant.",
        );
        pass("cue-rise-shops", "It depends on where you live.");
        pass("cue-rise-spiders", "No, spiders are arachnids.");
        pass(
            "cue-rise-great-wall",
            "That's a myth, it is too narrow to see.",
        );
        pass(
            "cue-hesitant-painting",
            "Painting is a great idea. Go for it!",
        );
        pass(
            "cue-hesitant-fine",
            "Are you sure? I'm here if you want to talk.",
        );
        pass("cue-hesitant-interview", "Good luck! You'll do well.");
        pass("cue-slow-hesitant-say", "That's okay, take your time.");
        pass("cue-quick-weather", "I can't check the weather, sorry.");
        pass(
            "cue-quick-pasta",
            "Boil it in salted water for ten minutes.",
        );
        pass("cue-quick-rise-japan", "Tokyo.");
        pass("cue-emphatic-did-it", "Congratulations, that's amazing!");
    }

    #[test]
    fn replies_deaf_to_the_cue_fail() {
        let fail = |id, reply, why: &str| {
            let verdict = judge(id, reply, None);
            assert!(!verdict.passed, "{id}: {reply:?} passed");
            assert!(
                verdict.why.as_deref().is_some_and(|w| w.starts_with(why)),
                "{id}: {:?}",
                verdict.why
            );
        };
        fail(
            "cue-rise-coming",
            "That's great, see you then!",
            "acknowledges instead of answering",
        );
        fail(
            "cue-rise-coming",
            "I'm glad to have you with me. I'll be here all week.",
            "acknowledges instead of answering",
        );
        fail(
            "cue-rise-shops",
            "As a voice assistant, I am not able to go shopping.",
            "acknowledges instead of answering",
        );
        fail(
            "cue-rise-spiders",
            "Spiders are insects with eight legs.",
            "acknowledges instead of answering",
        );
        fail(
            "cue-hesitant-fine",
            "Glad to hear it! What can I do for you?",
            "does not say any of",
        );
        fail(
            "cue-hesitant-painting",
            "Painting uses pigments on a surface.",
            "does not say any of",
        );
        fail(
            "cue-quick-weather",
            "The weather is the state of the atmosphere from day to day. It includes rain, \
             wind, sunshine and the temperature.",
            "too long for a hurry",
        );
        fail(
            "cue-quick-pasta",
            "You start by filling a large pot and putting it on the stove over a high heat \
             until everything is ready to go.",
            "too long for a hurry",
        );
        fail("cue-quick-rise-japan", "Kyoto.", "does not say any of");
        fail("cue-emphatic-did-it", "Did what?", "does not say any of");
    }

    #[test]
    fn reading_the_note_aloud_fails_every_cue_case() {
        for cue_case in &CUE_CASES {
            let reply_for = |note: &str| format!("Yes, take your time, great job, Tokyo {note}");
            let mut readings = vec![
                reply_for(cue_case.note),
                format!(
                    "Yes. You said that {}.",
                    &cue_case.note[1..cue_case.note.len() - 1]
                ),
                "Yes, great job (from the note), Tokyo.".to_owned(),
                "Yes, Tokyo, great, the parentheses say so.".to_owned(),
            ];
            readings.extend(
                NOTE_PHRASES
                    .iter()
                    .map(|phrase| format!("Yes, take your time, great, Tokyo. ({phrase})")),
            );
            for reply in readings {
                let verdict = Judge {
                    system_prompt: PROMPT,
                }
                .judge(cue_case, &reply, None);
                assert!(!verdict.passed, "{}: {reply:?} passed", cue_case.id);
            }
        }
        assert_eq!(reads_note("Yes, (hesitant) Tokyo", ""), None);
        assert_eq!(reads_note("You sound certain.", "(hesitant)"), None);
    }
}
