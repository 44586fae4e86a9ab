//! Tool calls inside a reply, and what an interruption does to them.
//!
//! The runtime finds a complete call in the reply's token stream and says so with
//! [`Input::ToolCall`]; the core asks for it to run ([`Output::RunTool`]), and the outcome comes
//! back as [`Input::ToolDone`]. Once every call of the round is answered and the generation that
//! asked for them is done, the model is asked again with the results
//! ([`Output::GenerateAfterTools`]): the same turn goes on, its chunks numbered after the ones
//! before, and the reply is not over until the model answers without a call.
//!
//! The rules, each of them tested in `tests/tool_calls.rs`:
//!
//! - a call from a generation that was cancelled (its reply dropped or cut) never runs: only
//!   the current reply's calls are carried out;
//! - when the user takes the floor while a call runs, a call without side effects is cancelled
//!   ([`Output::CancelTool`]; its result is recorded as cancelled at once, and a late outcome is
//!   ignored), and one with side effects is left to finish: its outcome is kept and told in the
//!   next reply;
//! - an outcome that arrives while the user speaks over the reply waits for the sound to be
//!   judged: the reply goes on with it after an acknowledgement or a false alarm, and after an
//!   interruption it is kept and told in the next reply. Nothing is dropped and nothing stays
//!   "in progress";
//! - a call still running [`SLOW_CALL_MS`] after it started gets one short spoken
//!   acknowledgement ([`ACKNOWLEDGEMENT`]), once per reply; a call that timed out gets a spoken
//!   apology ([`TIMEOUT_APOLOGY`]); a failed call's error goes to the model in words, which
//!   goes on with it;
//! - calls and results are events ([`AgentEvent::ToolCall`], [`AgentEvent::ToolResult`]) that
//!   the runtime turns into history entries, as it does the replies' [`AgentEvent::AssistantText`].
//!   A result's event names the reply that tells it (`told_in`): the call's own reply, or the next
//!   one for an outcome that came after its reply was cut, or none (cancelled, refused, or never
//!   told because the conversation ended).
//!
//! A reply may go back to the model at most [`MAX_ROUNDS`] times: a call beyond that is refused
//! (recorded as failed, never run), so a model that keeps calling cannot hold the floor.

use serde::Serialize;

use super::core::Agent;
use super::io::{AgentEvent, Output, TurnId};
use super::ms;

/// A call running this long gets a short spoken acknowledgement (once per reply): 700 ms.
pub const SLOW_CALL_MS: u32 = 700;

/// What the agent says when a call is slow.
pub const ACKNOWLEDGEMENT: &str = "One moment.";

/// What the agent says when a call timed out (the model then goes on with the timeout).
pub const TIMEOUT_APOLOGY: &str = "Sorry, that is taking too long.";

/// Times one reply may go back to the model with results.
pub const MAX_ROUNDS: u32 = 3;

/// Id of one tool call, as the runtime names it (unique within the conversation; the OpenAI
/// protocols' `call_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ToolCallId(pub String);

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    /// Its id.
    pub id: ToolCallId,
    /// The tool's name.
    pub name: String,
    /// Its arguments, a JSON object as text.
    pub arguments: String,
    /// Whether running it changes something outside the conversation: such a call is never
    /// cancelled once started.
    pub side_effects: bool,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolOutcome {
    /// It answered this.
    Ok(String),
    /// It failed; why, in words.
    Failed(String),
    /// It ran past its time limit (the runtime stopped it).
    TimedOut,
    /// It was stopped because the user took the floor.
    Cancelled,
}

/// A call and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResult {
    /// The call.
    pub call: ToolCall,
    /// Its outcome.
    pub outcome: ToolOutcome,
}

/// A call asked for to run, not yet answered.
#[derive(Debug, Clone)]
struct Running {
    turn: TurnId,
    call: ToolCall,
    started_at: u64,
    /// Its reply is over (cut or dropped): the outcome goes to the next reply.
    orphaned: bool,
}

/// An outcome not yet given to the model, and how long its call took (ms of input time).
#[derive(Debug, Clone)]
struct Answered {
    turn: TurnId,
    result: ToolResult,
    duration_ms: u64,
}

/// The tool calls of the conversation (a part of [`Agent`]).
#[derive(Debug, Default)]
pub(super) struct ToolCalls {
    running: Vec<Running>,
    /// Outcomes for the current reply, given to the model once the round is complete.
    answered: Vec<Answered>,
    /// Outcomes whose reply was over: told in the next reply.
    late: Vec<Answered>,
    /// The reply whose slow call was acknowledged.
    acknowledged: Option<TurnId>,
    /// The current reply and how many times it went back to the model.
    rounds: Option<(TurnId, u32)>,
}

impl ToolCalls {
    /// Whether `turn`'s reply waits on its calls: one runs, or outcomes wait for the model.
    pub(super) fn holds(&self, turn: TurnId) -> bool {
        self.running.iter().any(|r| r.turn == turn && !r.orphaned)
            || self.answered.iter().any(|a| a.turn == turn)
    }

    /// When the oldest call of `turn` becomes slow, if it is not acknowledged yet.
    pub(super) fn slow_deadline(&self, turn: TurnId) -> Option<u64> {
        if self.acknowledged == Some(turn) {
            return None;
        }
        self.running
            .iter()
            .filter(|r| r.turn == turn && !r.orphaned)
            .map(|r| r.started_at + ms(SLOW_CALL_MS))
            .min()
    }

    fn rounds_of(&self, turn: TurnId) -> u32 {
        match self.rounds {
            Some((t, n)) if t == turn => n,
            _ => 0,
        }
    }
}

impl Agent {
    /// The current reply asked for `call`: run it, unless its generation was cancelled.
    pub(super) fn on_tool_call(&mut self, turn: TurnId, call: ToolCall) {
        if self.current_turn() != Some(turn) {
            return; // its generation was cancelled: the call never runs
        }
        self.event(AgentEvent::ToolCall {
            turn,
            at: self.now,
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            side_effects: call.side_effects,
        });
        if self.tools.rounds_of(turn) >= MAX_ROUNDS {
            let reason = format!("not run: more than {MAX_ROUNDS} rounds of calls in one reply");
            let answered = Answered {
                turn,
                result: ToolResult {
                    call,
                    outcome: ToolOutcome::Failed(reason),
                },
                duration_ms: 0,
            };
            self.record_result(&answered, None);
            return;
        }
        self.emit(Output::RunTool {
            turn,
            call: call.clone(),
        });
        self.tools.running.push(Running {
            turn,
            call,
            started_at: self.now,
            orphaned: false,
        });
    }

    /// A call's outcome. One for a call no longer running (cancelled) is ignored.
    pub(super) fn on_tool_done(&mut self, id: &ToolCallId, outcome: ToolOutcome) {
        let Some(i) = self.tools.running.iter().position(|r| r.call.id == *id) else {
            return;
        };
        let running = self.tools.running.remove(i);
        let answered = Answered {
            turn: running.turn,
            result: ToolResult {
                call: running.call,
                outcome,
            },
            duration_ms: self.now.saturating_sub(running.started_at) / 16,
        };
        if running.orphaned {
            self.tools.late.push(answered);
            return;
        }
        if answered.result.outcome == ToolOutcome::TimedOut {
            self.say(running.turn, TIMEOUT_APOLOGY);
        }
        self.tools.answered.push(answered);
        self.maybe_follow_up();
    }

    /// Once every call of the current reply's round is answered, the generation that asked for
    /// them is done and no sound over the reply is being judged, asks the model to go on.
    pub(super) fn maybe_follow_up(&mut self) {
        let Some(turn) = self.current_turn() else {
            return;
        };
        let round_done = !self.tools.answered.is_empty()
            && !self
                .tools
                .running
                .iter()
                .any(|r| r.turn == turn && !r.orphaned);
        if !round_done || self.barge.is_some() || !self.reply_generated() {
            return;
        }
        let answered = std::mem::take(&mut self.tools.answered);
        let mut results = Vec::with_capacity(answered.len());
        for a in answered {
            self.record_result(&a, Some(turn));
            results.push(a.result);
        }
        let rounds = self.tools.rounds_of(turn) + 1;
        self.tools.rounds = Some((turn, rounds));
        self.generate_again();
        self.emit(Output::GenerateAfterTools { turn, results });
    }

    /// The current reply's turn is over before its calls were told (the user took the floor,
    /// or went on before hearing it): calls without side effects are cancelled, the others
    /// finish for the next reply, and outcomes already in go to the next reply too.
    pub(super) fn tools_reply_cut(&mut self, turn: TurnId) {
        let (cancel, keep): (Vec<Running>, Vec<Running>) = std::mem::take(&mut self.tools.running)
            .into_iter()
            .partition(|r| r.turn == turn && !r.call.side_effects);
        self.tools.running = keep;
        for r in &mut self.tools.running {
            r.orphaned |= r.turn == turn;
        }
        for r in cancel {
            self.emit(Output::CancelTool {
                id: r.call.id.clone(),
            });
            let answered = Answered {
                turn,
                result: ToolResult {
                    call: r.call,
                    outcome: ToolOutcome::Cancelled,
                },
                duration_ms: self.now.saturating_sub(r.started_at) / 16,
            };
            self.record_result(&answered, None);
        }
        let answered = std::mem::take(&mut self.tools.answered);
        self.tools.late.extend(answered);
    }

    /// Before the request for `turn`'s reply: the outcomes the user was not told yet are
    /// recorded as told in it (the runtime gives them to the model with the user's words).
    pub(super) fn tell_late_results(&mut self, turn: TurnId) {
        for answered in std::mem::take(&mut self.tools.late) {
            self.record_result(&answered, Some(turn));
        }
    }

    /// The conversation is over: outcomes never told are recorded all the same.
    pub(super) fn tools_end(&mut self) {
        for answered in std::mem::take(&mut self.tools.late) {
            self.record_result(&answered, None);
        }
    }

    /// Says the acknowledgement once the current reply's call has run [`SLOW_CALL_MS`].
    pub(super) fn maybe_acknowledge_slow_call(&mut self) {
        let Some(turn) = self.current_turn() else {
            return;
        };
        if self
            .tools
            .slow_deadline(turn)
            .is_some_and(|at| self.now >= at)
        {
            self.tools.acknowledged = Some(turn);
            self.say(turn, ACKNOWLEDGEMENT);
        }
    }

    fn record_result(&mut self, answered: &Answered, told_in: Option<TurnId>) {
        let call = &answered.result.call;
        self.event(AgentEvent::ToolResult {
            turn: answered.turn,
            at: self.now,
            id: call.id.clone(),
            name: call.name.clone(),
            outcome: answered.result.outcome.clone(),
            duration_ms: answered.duration_ms,
            told_in,
        });
    }
}
