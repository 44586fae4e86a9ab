//! Runs the conversation-quality suite (`duplex_core::quality`) on a real language model: each
//! case is a fresh conversation through the same turn manager the voice agent uses (memory,
//! interruptions, the clarifier), and its judged reply is checked as a listener would.

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
    Ok((reply.text, reply.first_token))
}

/// Runs one case in a fresh conversation.
pub fn run_case(manager: &mut TurnManager, case: &Case) -> Result<CaseResult, LlmError> {
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
    let (text, first_token) = reply(manager, case.ask)?;
    let judge = Judge {
        system_prompt: manager.memory().system(),
    };
    let verdict = judge.judge(case, &text, previous.as_deref());
    Ok(CaseResult {
        id: case.id,
        category: case.category,
        turn: case.turn_number(),
        ask: case.ask,
        reply: text,
        passed: verdict.passed,
        why: verdict.why,
        first_token_ms: first_token.map(|d| d.as_secs_f64() * 1000.0),
    })
}

/// Scores per category and overall.
pub fn summarize(results: &[CaseResult]) -> Summary {
    let score = |rs: Vec<&CaseResult>| {
        let passed = rs.iter().filter(|r| r.passed).count();
        Score {
            passed,
            cases: rs.len(),
            share: if rs.is_empty() {
                0.0
            } else {
                passed as f64 / rs.len() as f64
            },
        }
    };
    let categories = Category::ALL
        .into_iter()
        .map(|c| {
            (
                c,
                score(results.iter().filter(|r| r.category == c).collect()),
            )
        })
        .filter(|(_, s)| s.cases > 0)
        .collect();
    Summary {
        overall: score(results.iter().collect()),
        categories,
    }
}
