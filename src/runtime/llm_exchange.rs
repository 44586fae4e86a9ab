//! The session's exchange with the language model: the LLM's worker streams each reply back as
//! tokens, and keeps the model's memory in step with what the user really heard. A reply that
//! was heard (whole, cut by an interruption, or acknowledged over) is recorded as heard; a reply
//! dropped unheard because the user went on is retracted, but only while its exchange is still
//! the last one in the memory (a later turn's exchange is never undone).

use std::time::Instant;

use duplex_core::cancel::CancelToken;
use tokio::sync::mpsc;

use super::engine_result::{EngineResult, millis};
use super::engines::Respond;
use super::workers::Worker;
use crate::agent::{AgentEvent, Input, TurnId};

/// A job for the LLM's worker.
pub(super) enum LlmJob {
    /// Stream a reply to the user's words.
    Generate {
        turn: TurnId,
        text: String,
        cancel: CancelToken,
    },
    /// Record what the user heard of the last reply.
    Heard {
        text: String,
        interrupted: bool,
        acknowledged: Vec<String>,
    },
    /// The turn's reply was dropped unheard.
    Retract { turn: TurnId },
}

impl LlmJob {
    /// What an agent event asks of the model's memory: the heard text of a finished reply, or
    /// the retraction of one dropped unheard.
    pub(super) fn for_event(event: &AgentEvent) -> Option<Self> {
        match event {
            AgentEvent::ReplyAbandoned { turn, .. } => Some(Self::Retract { turn: *turn }),
            AgentEvent::AssistantText {
                text,
                interrupted,
                acknowledged,
                ..
            } => Some(Self::Heard {
                text: text.clone(),
                interrupted: *interrupted,
                acknowledged: acknowledged.clone(),
            }),
            _ => None,
        }
    }
}

/// Starts the LLM's worker; its tokens and results go to `results`.
pub(super) fn spawn_llm_worker(
    mut llm: Box<dyn Respond>,
    results: mpsc::Sender<EngineResult>,
) -> Worker<LlmJob> {
    // The turn whose exchange ends the LLM's history, if any (only that one may be retracted).
    let mut last_exchange: Option<TurnId> = None;
    Worker::spawn("llm", move |job: LlmJob| match job {
        LlmJob::Heard {
            text,
            interrupted,
            acknowledged,
        } => llm.heard(&text, interrupted, &acknowledged),
        LlmJob::Retract { turn } => {
            if last_exchange.take() == Some(turn) {
                llm.retract();
            }
        }
        LlmJob::Generate { turn, text, cancel } => {
            let answered = generate(llm.as_mut(), turn, &text, &cancel, &results);
            last_exchange = answered.then_some(turn);
        }
    })
}

/// Streams one reply, token by token, then its end; true when it was answered without failing.
fn generate(
    llm: &mut dyn Respond,
    turn: TurnId,
    text: &str,
    cancel: &CancelToken,
    results: &mpsc::Sender<EngineResult>,
) -> bool {
    let t = Instant::now();
    let mut first = true;
    let result = llm.respond(text, cancel, &mut |token| {
        let cost = first.then(|| ("llm_first_token", Some(turn), millis(t)));
        first = false;
        let input = Input::LlmToken {
            turn,
            text: token.to_owned(),
        };
        if results
            .blocking_send(EngineResult::partial(input, cost))
            .is_err()
        {
            cancel.cancel(); // the session is gone: stop generating
        }
    });
    for notice in llm.notices() {
        let _ = results.blocking_send(EngineResult::notice(notice));
    }
    let answered = result.is_ok();
    let input = Input::LlmDone {
        turn,
        failed: !answered,
    };
    let done = EngineResult::done("llm_total", Some(turn), t, input, result.err());
    let _ = results.blocking_send(done);
    answered
}
