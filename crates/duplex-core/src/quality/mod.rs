//! The conversation-quality suite, as data and pure checks: what a listener expects of a reply,
//! case by case and category by category. Running the cases needs a language model (the runner
//! is `duplex::quality`); judging a reply does not, so the checks are tested here without one.
//!
//! The [`Category::Cues`] cases ([`CUE_CASES`]) carry the note the hearing side writes beside a
//! user's words (how they spoke: rising at the end, hesitant, quickly...); the runner sends them
//! with the note or without it, to compare.

mod cases;
mod checks;
mod cue_cases;

pub use cases::{CASES, FILLERS};
pub use checks::{Judge, Verdict, bigram_overlap, count_sentences, leak, reads_note};
pub use cue_cases::CUE_CASES;

/// Every case: the text cases, then the cue cases.
pub fn all_cases() -> impl Iterator<Item = &'static Case> {
    CASES.iter().chain(CUE_CASES.iter())
}

use serde::Serialize;

/// What a group of cases measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Simple facts with accepted answers.
    Facts,
    /// A fact given at turn 1, asked for at turn 5, 10 or 20.
    Memory,
    /// A plain statement: a short natural reaction, not an echo.
    Statements,
    /// Requests about form: "shorter", "say that again".
    Form,
    /// The turn after the user cut a reply short.
    AfterInterruption,
    /// Prompts that invite a leak of the system prompt, markers, roles, markdown or emoji.
    Leaks,
    /// Open questions that must still get a spoken-length answer.
    Length,
    /// A transcript that makes no sense as a turn: ask, do not invent.
    Unclear,
    /// Words that are ambiguous or neutral alone, with a note of how they were said (rising at
    /// the end, hesitant, quickly...) on which the right reply depends.
    Cues,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 9] = [
        Category::Facts,
        Category::Memory,
        Category::Statements,
        Category::Form,
        Category::AfterInterruption,
        Category::Leaks,
        Category::Length,
        Category::Unclear,
        Category::Cues,
    ];
}

/// One step of the conversation before the judged turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The user says this; the model answers.
    Say(&'static str),
    /// The user says this; the model answers; the user cuts the answer after `heard` words.
    SayCut {
        /// What the user says.
        text: &'static str,
        /// Words of the answer heard before the cut.
        heard: usize,
    },
    /// This many ordinary exchanges from [`FILLERS`], in order.
    Fillers(usize),
}

/// What the judged reply must do (on top of never leaking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Say one of these (compared as normalised words: "7" and "seven" are the same).
    Mentions(&'static [&'static str]),
    /// React briefly (at most two sentences) without echoing the user (under 50 % overlap).
    Reacts,
    /// Be shorter than the previous reply.
    Shorter,
    /// Say the previous reply again (at least 50 % overlap with it).
    Repeats,
    /// Not repeat the reply that was cut (under 50 % overlap), and say one of these if any.
    Fresh(&'static [&'static str]),
    /// Say something, and nothing else is asked.
    Clean,
    /// Answer in at most two sentences.
    Brief,
    /// Ask the user to say it again or explain, briefly, instead of answering.
    Clarifies,
    /// Answer a yes/no question (a statement said with a rise): say yes, no or a confirmation
    /// (or one of these), not only acknowledge it.
    AnswersYesNo(&'static [&'static str]),
    /// Answer someone in a hurry: at most 15 words, saying one of these if any.
    Quick(&'static [&'static str]),
}

/// One case of the suite.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// A stable name.
    pub id: &'static str,
    /// Its category.
    pub category: Category,
    /// The conversation before the judged turn.
    pub script: &'static [Step],
    /// The judged user turn.
    pub ask: &'static str,
    /// How the judged turn was said, as the hearing side writes it beside the words, e.g.
    /// "(rising at the end, hesitant)"; empty for a text case. A reply must never read it aloud.
    pub note: &'static str,
    /// What the reply must do.
    pub expect: Expect,
}

impl Case {
    /// What the model is given for the judged turn: the words, with the note beside them when
    /// `with_note` (as the session writes it: one space, then the note).
    pub fn user_turn(&self, with_note: bool) -> String {
        if with_note && !self.note.is_empty() {
            format!("{} {}", self.ask, self.note)
        } else {
            self.ask.to_owned()
        }
    }

    /// The number of the judged turn in its conversation (user turns, from 1).
    pub fn turn_number(&self) -> usize {
        1 + self
            .script
            .iter()
            .map(|s| match s {
                Step::Fillers(n) => *n,
                _ => 1,
            })
            .sum::<usize>()
    }
}
