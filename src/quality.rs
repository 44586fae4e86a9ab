//! Runs the conversation-quality suite (`duplex_core::quality`) on a real language model: each
//! case is a fresh conversation through the same turn manager the voice agent uses (memory,
//! interruptions, the clarifier), and its judged reply is checked as a listener would.
//!
//! A cue case is run with its note beside the words (the manager built with `[llm] cue_notes`,
//! so the system prompt explains the note) or with the words alone, and [`CueScores`] compares
//! the two.

use std::collections::BTreeMap;
use std::time::Duration;

use duplex_core::quality::{Case, Category, FILLERS, Judge, Step};
use serde::Serialize;

use crate::cancel::CancelToken;
use crate::llm::{LlmError, TurnManager};

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case.
    pub id: &'static str,
    /// Its category.
    pub category: Category,
    /// The judged turn's number in its conversation.
    pub turn: usize,
    /// What the user said at that turn.
    pub ask: &'static str,
    /// The cue note sent beside those words, if one was.
    pub note: Option<&'static str>,
    /// What the model answered.
    pub reply: String,
    /// Whether the reply passed.
    pub passed: bool,
    /// Why it failed.
    pub why: Option<String>,
    /// Time to the judged reply's first token, in milliseconds.
    pub first_token_ms: Option<f64>,
}

/// Pass counts of one category.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Score {
    /// Cases passed.
    pub passed: usize,
    /// Cases run.
    pub cases: usize,
    /// `passed / cases`.
    pub share: f64,
}

/// Every category's score and the overall one.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// All cases together.
    pub overall: Score,
    /// Per category.
    pub categories: BTreeMap<Category, Score>,
}

fn reply(manager: &mut TurnManager, text: &str) -> Result<(String, Option<Duration>), LlmError> {
    let reply = manager.respond(text, &CancelToken::new(), &mut |_| {})?;
    // As the voice agent does once a reply is heard.
    manager.compact()?;
    Ok((reply.text, reply.first_token))
}

/// Runs one case in a fresh conversation, the judged turn as its words alone.
pub fn run_case(manager: &mut TurnManager, case: &Case) -> Result<CaseResult, LlmError> {
    run_turns(manager, case, false)
}

/// Runs one case in a fresh conversation with its cue note beside the judged turn's words (the
/// manager should have been built with `[llm] cue_notes`, which explains the note).
pub fn run_case_with_note(manager: &mut TurnManager, case: &Case) -> Result<CaseResult, LlmError> {
    run_turns(manager, case, true)
}

fn run_turns(
    manager: &mut TurnManager,
    case: &Case,
    with_note: bool,
) -> Result<CaseResult, LlmError> {
    manager.forget_all();
    let mut previous: Option<String> = None;
    let mut fillers = FILLERS.iter();
    for step in case.script {
        match *step {
            Step::Say(text) => previous = Some(reply(manager, text)?.0),
            Step::SayCut { text, heard } => {
                let (whole, _) = reply(manager, text)?;
                let cut: Vec<&str> = whole.split_whitespace().take(heard).collect();
                manager.interrupt(&cut.join(" "));
                previous = Some(whole);
            }
            Step::Fillers(n) => {
                for text in fillers.by_ref().take(n) {
                    previous = Some(reply(manager, text)?.0);
                }
            }
        }
    }
    let (text, first_token) = reply(manager, &case.user_turn(with_note))?;
    let judge = Judge {
        system_prompt: manager.memory().system(),
    };
    let verdict = judge.judge(case, &text, previous.as_deref());
    Ok(CaseResult {
        id: case.id,
        category: case.category,
        turn: case.turn_number(),
        ask: case.ask,
        note: (with_note && !case.note.is_empty()).then_some(case.note),
        reply: text,
        passed: verdict.passed,
        why: verdict.why,
        first_token_ms: first_token.map(|d| d.as_secs_f64() * 1000.0),
    })
}

/// The cue cases' score with their notes and without (each absent when not run that way).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CueScores {
    /// The words alone, no hint in the system prompt.
    pub without_notes: Option<Score>,
    /// The words with their notes, the hint in the system prompt.
    pub with_notes: Option<Score>,
}

impl Score {
    /// The score of these results.
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let (passed, cases) = results
            .into_iter()
            .fold((0, 0), |(p, n), r| (p + usize::from(r.passed), n + 1));
        Score {
            passed,
            cases,
            share: if cases == 0 {
                0.0
            } else {
                passed as f64 / cases as f64
            },
        }
    }
}

/// The cue category's scores both ways.
pub fn score_cues(results: &[CaseResult]) -> CueScores {
    let cues = |with_note: bool| {
        let run: Vec<_> = results
            .iter()
            .filter(|r| r.category == Category::Cues && r.note.is_some() == with_note)
            .collect();
        (!run.is_empty()).then(|| Score::of(run))
    };
    CueScores {
        without_notes: cues(false),
        with_notes: cues(true),
    }
}

/// Scores per category and overall.
pub fn summarize(results: &[CaseResult]) -> Summary {
    let categories = Category::ALL
        .into_iter()
        .map(|c| (c, Score::of(results.iter().filter(|r| r.category == c))))
        .filter(|(_, s)| s.cases > 0)
        .collect();
    Summary {
        overall: Score::of(results),
        categories,
    }
}

#[cfg(test)]
mod tests {
    use duplex_core::quality::{CUE_CASES, all_cases};

    use super::*;
    use crate::cues::{Cue, CueKind, annotation};

    const KINDS: [CueKind; 5] = [
        CueKind::Fast,
        CueKind::Slow,
        CueKind::QuestionRise,
        CueKind::Hesitant,
        CueKind::Emphatic,
    ];

    /// Every note the hearing side can write: one per non-empty set of confident cues.
    fn every_note() -> Vec<String> {
        (1..1u32 << KINDS.len())
            .map(|set| {
                let cues: Vec<Cue> = KINDS
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| set & (1 << i) != 0)
                    .map(|(_, &kind)| Cue {
                        kind,
                        confidence: 1.0,
                    })
                    .collect();
                annotation(&cues)
            })
            .collect()
    }

    #[test]
    fn the_cue_cases_notes_are_what_the_hearing_side_writes() {
        let notes = every_note();
        for case in &CUE_CASES {
            assert!(
                notes.iter().any(|n| n == case.note),
                "{}: {:?} is not a note duplex::cues::annotation writes",
                case.id,
                case.note
            );
        }
        let rise = annotation(&[Cue {
            kind: CueKind::QuestionRise,
            confidence: 1.0,
        }]);
        assert!(CUE_CASES.iter().any(|c| c.note == rise));
        assert!(all_cases().filter(|c| c.note.is_empty()).count() >= 60);
    }

    fn result(category: Category, note: Option<&'static str>, passed: bool) -> CaseResult {
        CaseResult {
            id: "x",
            category,
            turn: 1,
            ask: "x",
            note,
            reply: String::new(),
            passed,
            why: None,
            first_token_ms: None,
        }
    }

    #[test]
    fn the_cue_scores_keep_the_two_runs_apart() {
        let results = [
            result(Category::Facts, None, true),
            result(Category::Cues, None, false),
            result(Category::Cues, None, true),
            result(Category::Cues, Some("(hesitant)"), true),
        ];
        let cues = score_cues(&results);
        let without = cues.without_notes.expect("run without notes");
        assert_eq!((without.passed, without.cases), (1, 2));
        let with = cues.with_notes.expect("run with notes");
        assert_eq!((with.passed, with.cases), (1, 1));
        assert!(score_cues(&results[..1]).with_notes.is_none());
        assert_eq!(summarize(&results).overall.cases, 4);
    }
}
