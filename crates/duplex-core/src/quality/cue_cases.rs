//! The cue cases of the quality suite (written for duplex): user turns whose words alone are
//! ambiguous or neutral, each with the note the hearing side (`duplex::cues::annotation`) would
//! write beside them, and what a listener who heard how it was said expects of the reply.
//!
//! The notes are literals here (this crate cannot see the hearing side); a test in the main
//! crate checks that each one is exactly a note `annotation` produces.

use super::Category::Cues;
use super::Expect::{AnswersYesNo, Mentions, Quick};
use super::{Case, Expect};

/// Words of patience for someone who hesitates or does not know what to say.
const PATIENT: &[&str] = &[
    "take your time",
    "no rush",
    "no hurry",
    "no pressure",
    "that's okay",
    "it's okay",
    "that's ok",
    "it's ok",
    "that's fine",
    "it's fine",
    "that's alright",
    "it's alright",
    "that's all right",
    "it's all right",
    "don't worry",
    "no worries",
    "no problem",
    "whatever you like",
    "whatever you want",
    "anything you like",
    "anything you want",
    "i'm here",
    "i am here",
    "here for you",
    "here to listen",
    "happy to listen",
];

/// Encouragement for a plan said without confidence.
const ENCOURAGING: &[&str] = &[
    "great idea",
    "good idea",
    "wonderful idea",
    "lovely idea",
    "great choice",
    "good choice",
    "go for it",
    "give it a try",
    "give it a go",
    "worth trying",
    "worth a try",
    "you can do",
    "you've got this",
    "you'll do",
    "you will do",
    "why not",
    "great",
    "wonderful",
    "lovely",
    "fantastic",
    "exciting",
    "fun",
    "enjoy",
    "rewarding",
    "relaxing",
    "take your time",
    "no rush",
    "don't worry",
];

/// Reassurance before something the user is unsure about.
const REASSURING: &[&str] = &[
    "good luck",
    "best of luck",
    "you'll do",
    "you will do",
    "you've got this",
    "you can do",
    "don't worry",
    "no need to worry",
    "nervous",
    "normal",
    "natural",
    "confident",
    "prepared",
    "prepare",
    "believe in yourself",
    "take a deep breath",
    "deep breath",
    "you'll be fine",
    "you will be fine",
    "it's okay",
    "that's okay",
    "great",
];

/// A gentle check on a "fine" that did not sound fine.
const CHECKING_IN: &[&str] = &[
    "are you sure",
    "really fine",
    "really okay",
    "are you okay",
    "are you ok",
    "are you alright",
    "are you all right",
    "everything okay",
    "everything ok",
    "everything alright",
    "everything all right",
    "is everything",
    "is something",
    "what's wrong",
    "something wrong",
    "anything wrong",
    "on your mind",
    "bothering you",
    "want to talk",
    "like to talk",
    "here for you",
    "here to listen",
    "what happened",
    "going on",
];

/// Sharing the joy of someone who says it loudly.
const CELEBRATING: &[&str] = &[
    "congratulations",
    "congrats",
    "well done",
    "good job",
    "great job",
    "nice work",
    "great work",
    "amazing",
    "fantastic",
    "awesome",
    "wonderful",
    "brilliant",
    "excellent",
    "incredible",
    "proud",
    "great",
    "hooray",
    "yay",
    "wow",
];

const fn cue(id: &'static str, ask: &'static str, note: &'static str, expect: Expect) -> Case {
    Case {
        id,
        category: Cues,
        script: &[],
        ask,
        note,
        expect,
    }
}

/// Every cue case (ids start with "cue-", so `--cases cue` selects them).
pub const CUE_CASES: [Case; 12] = [
    // A statement said with a rise is a question: answer it, do not acknowledge it.
    cue(
        "cue-rise-coming",
        "You're coming tomorrow",
        "(rising at the end)",
        AnswersYesNo(&[
            "i'll be there",
            "i will be there",
            "i'll come",
            "i will come",
            "i'm coming",
            "i am coming",
        ]),
    ),
    cue(
        "cue-rise-shops",
        "The shops are open on Sunday",
        "(rising at the end)",
        AnswersYesNo(&[]),
    ),
    cue(
        "cue-rise-spiders",
        "Spiders are insects",
        "(rising at the end)",
        AnswersYesNo(&["arachnid", "arachnids"]),
    ),
    cue(
        "cue-rise-great-wall",
        "You can see the Great Wall from space",
        "(rising at the end)",
        AnswersYesNo(&["myth"]),
    ),
    // Hesitation asks for patience and encouragement.
    cue(
        "cue-hesitant-painting",
        "I think I want to try, um, painting",
        "(hesitant)",
        Mentions(ENCOURAGING),
    ),
    cue(
        "cue-hesitant-fine",
        "I'm fine",
        "(hesitant)",
        Mentions(CHECKING_IN),
    ),
    cue(
        "cue-hesitant-interview",
        "I have a job interview tomorrow",
        "(hesitant)",
        Mentions(REASSURING),
    ),
    cue(
        "cue-slow-hesitant-say",
        "I'm not sure what to say",
        "(said slowly, hesitant)",
        Mentions(PATIENT),
    ),
    // Someone in a hurry wants it short.
    cue(
        "cue-quick-weather",
        "Tell me about the weather",
        "(said quickly)",
        Quick(&[]),
    ),
    cue(
        "cue-quick-pasta",
        "How do I cook pasta",
        "(said quickly)",
        Quick(&["boil", "boiling", "water"]),
    ),
    cue(
        "cue-quick-rise-japan",
        "Capital of Japan",
        "(said quickly, rising at the end)",
        Quick(&["tokyo"]),
    ),
    // Said loudly, a short claim is news to celebrate.
    cue(
        "cue-emphatic-did-it",
        "I did it",
        "(emphatic)",
        Mentions(CELEBRATING),
    ),
];
