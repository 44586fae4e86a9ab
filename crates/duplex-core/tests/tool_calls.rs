//! Model-free tests of tool calls inside replies and what interruptions do to them (issue 28's
//! interruption rules): scripted VAD, the instant fake engines of `common`, a fake model that
//! asks for a call, and tool outcomes fed by each test at the virtual time it chooses.

mod common;

use common::{CALL_PREAMBLE, Harness, REPLY};
use duplex_core::agent::{
    ACKNOWLEDGEMENT, AgentEvent, Input, MAX_ROUNDS, Output, OverlapDecision, SLOW_CALL_MS,
    TIMEOUT_APOLOGY, ToolCall, ToolCallId, ToolOutcome, TurnId, ms,
};

fn call(name: &str, side_effects: bool) -> ToolCall {
    ToolCall {
        id: ToolCallId(name.into()),
        name: name.into(),
        arguments: r#"{"city":"Paris"}"#.into(),
        side_effects,
    }
}

/// The user asks (1 s) and pauses; the reply starts and asks for `call`. Returns its turn and
/// the id the call runs under.
fn ask_with_call(h: &mut Harness, call: ToolCall) -> (TurnId, ToolCallId) {
    h.call = Some(call);
    h.frames(50, true);
    h.frames(10, false);
    let turn = h.agent.current_turn().expect("a reply started");
    let (_, run_turn, running) = h.tool_runs.last().expect("the call runs").clone();
    assert_eq!(run_turn, turn);
    h.call = None;
    (turn, running.id)
}

fn done(h: &mut Harness, id: &ToolCallId, outcome: ToolOutcome) {
    h.feed(Input::ToolDone {
        id: id.clone(),
        outcome,
    });
}

/// Positions in the output log of the outputs that match.
fn positions(h: &Harness, f: impl Fn(&Output) -> bool) -> Vec<usize> {
    (h.log.iter().enumerate())
        .filter(|(_, (_, o))| f(o))
        .map(|(i, _)| i)
        .collect()
}

/// The result events: (call's turn, outcome, the reply that tells it), in order.
fn results(h: &Harness) -> Vec<(TurnId, ToolOutcome, Option<TurnId>)> {
    h.events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolResult {
                turn,
                outcome,
                told_in,
                ..
            } => Some((*turn, outcome.clone(), *told_in)),
            _ => None,
        })
        .collect()
}

fn said(h: &Harness, words: &str) -> Vec<u64> {
    h.log
        .iter()
        .filter(|(_, o)| matches!(o, Output::Synthesize { text, .. } if text == words))
        .map(|(at, _)| *at)
        .collect()
}

fn generated_after_tools(h: &Harness, turn: TurnId) -> Vec<Vec<ToolOutcome>> {
    h.log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::GenerateAfterTools { turn: t, results } if *t == turn => {
                Some(results.iter().map(|r| r.outcome.clone()).collect())
            }
            _ => None,
        })
        .collect()
}

/// The user is quiet long enough for any reply to play out; nothing may be left pending.
fn settle(h: &mut Harness) {
    h.frames(400, false);
    assert!(!h.agent.is_busy(), "still busy: {:#?}", h.events);
}

#[test]
fn a_call_from_a_cancelled_generation_never_runs() {
    let mut h = Harness::new();
    h.hold_generation = true;
    h.frames(50, true);
    h.frames(10, false);
    let turn = h.agent.current_turn().expect("a reply started");
    // The model has begun; its call is not complete when the user goes on, unheard.
    h.feed(Input::LlmToken {
        turn,
        text: "Let me".into(),
    });
    h.frames(10, true);
    assert!(h.log.iter().any(|(_, o)| *o == Output::Cancel(turn)));
    // The cancelled generation's call completes anyway (the worker had not seen the cancel).
    h.feed(Input::ToolCall {
        turn,
        call: call("hang_up", true),
    });
    h.feed(Input::LlmDone {
        turn,
        failed: false,
    });
    assert!(h.tool_runs.is_empty(), "{:?}", h.tool_runs);
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolCall { .. }))
    );
    // A live reply's call does run.
    h.hold_generation = false;
    let (next, _) = ask_with_call(&mut h, call("weather", false));
    assert_ne!(next, turn);
    assert_eq!(h.tool_runs.len(), 1);
}

#[test]
fn barge_in_cancels_a_running_call_without_side_effects() {
    let mut h = Harness::new();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    // The user takes the floor (speech past the 2 s interruption limit) while the call runs.
    h.frames(110, true);
    let cancelled_at = h.tool_cancels.iter().find(|(_, c)| *c == id).map(|c| c.0);
    assert!(cancelled_at.is_some(), "no cancel: {:#?}", h.log);
    assert!(h.cut_text(turn).is_some(), "not cut: {:#?}", h.events);
    assert_eq!(results(&h), vec![(turn, ToolOutcome::Cancelled, None)]);
    // Its late answer is ignored: not told, not given to the model.
    done(&mut h, &id, ToolOutcome::Ok("sunny".into()));
    h.frames(30, false);
    assert_eq!(results(&h).len(), 1);
    assert!(generated_after_tools(&h, turn).is_empty());
    settle(&mut h);
}

#[test]
fn speech_while_the_reply_waits_silently_on_a_call_is_judged_as_a_barge_in() {
    let mut h = Harness::new();
    h.transcript = "never mind".into();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    // Everything said so far ("Let me check. One moment.") has played; the call still runs.
    h.frames(100, false);
    assert_eq!(
        h.agent.current_turn(),
        Some(turn),
        "the call holds the reply"
    );
    h.frames(20, true);
    h.frames(30, false);
    assert_eq!(h.tool_cancels.len(), 1);
    assert_eq!(h.tool_cancels[0].1, id);
    let heard = format!("{CALL_PREAMBLE} {ACKNOWLEDGEMENT}");
    assert_eq!(h.cut_text(turn), Some(heard));
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, AgentEvent::ReplyAbandoned { .. }))
    );
    settle(&mut h);
}

#[test]
fn barge_in_lets_a_call_with_side_effects_finish_and_the_next_reply_tells_it() {
    let mut h = Harness::new();
    let (turn, id) = ask_with_call(&mut h, call("set_alarm", true));
    h.frames(110, true);
    assert!(h.cut_text(turn).is_some(), "not cut: {:#?}", h.events);
    assert!(h.tool_cancels.is_empty(), "{:?}", h.tool_cancels);
    // It finishes while the user is still speaking.
    done(&mut h, &id, ToolOutcome::Ok("alarm set for 7".into()));
    h.frames(20, true);
    assert!(results(&h).is_empty(), "told before the next reply");
    h.frames(30, false);
    let next = h.agent.current_turn().expect("the next reply");
    assert_ne!(next, turn);
    assert_eq!(
        results(&h),
        vec![(turn, ToolOutcome::Ok("alarm set for 7".into()), Some(next))]
    );
    // Its event comes after what was heard of the cut reply, and before the next request.
    let cut = h
        .events
        .iter()
        .position(|e| matches!(e, AgentEvent::AssistantText { turn: t, .. } if *t == turn));
    let told = h
        .events
        .iter()
        .position(|e| matches!(e, AgentEvent::ToolResult { .. }));
    assert!(cut < told, "{:#?}", h.events);
    let result_at = positions(&h, |o| {
        matches!(o, Output::Event(AgentEvent::ToolResult { .. }))
    });
    let generate_at = positions(
        &h,
        |o| matches!(o, Output::Generate { turn: t, .. } if *t == next),
    );
    assert!(result_at[0] < generate_at[0]);
    settle(&mut h);
}

#[test]
fn a_result_that_arrives_while_the_user_speaks_is_kept_for_the_reply_after_their_turn() {
    let mut h = Harness::new();
    h.transcript = "and what about tomorrow".into();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    // The user starts to speak over the reply; the result arrives while they speak.
    h.frames(10, true);
    done(&mut h, &id, ToolOutcome::Ok("sunny".into()));
    assert!(generated_after_tools(&h, turn).is_empty());
    // Their words take the floor: the call had ended, so it is not cancelled but kept.
    h.frames(20, true);
    h.frames(30, false);
    assert!(h.tool_cancels.is_empty());
    let next = h
        .agent
        .current_turn()
        .expect("the reply to the user's turn");
    assert_ne!(next, turn);
    assert_eq!(
        results(&h),
        vec![(turn, ToolOutcome::Ok("sunny".into()), Some(next))]
    );
    settle(&mut h);
}

#[test]
fn a_result_that_arrives_during_an_acknowledgement_goes_to_the_model_after_it() {
    let mut h = Harness::new();
    h.transcript = "mm-hm".into();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    h.frames(10, true);
    done(&mut h, &id, ToolOutcome::Ok("sunny".into()));
    h.frames(10, true);
    assert!(generated_after_tools(&h, turn).is_empty());
    h.frames(30, false);
    let judged = positions(&h, |o| {
        matches!(
            o,
            Output::Event(AgentEvent::OverlapJudged {
                decision: OverlapDecision::Backchannel,
                ..
            })
        )
    });
    let again = positions(&h, |o| matches!(o, Output::GenerateAfterTools { .. }));
    assert_eq!(again.len(), 1);
    assert!(judged[0] < again[0]);
    settle(&mut h);
    let (text, interrupted, acknowledged) = h.assistant_text(turn).expect("the reply ended");
    assert!(!interrupted);
    assert_eq!(acknowledged, vec!["mm-hm".to_owned()]);
    assert!(text.ends_with("Twelve thirteen fourteen."), "{text}");
}

#[test]
fn a_slow_call_gets_one_acknowledgement() {
    let mut h = Harness::new();
    h.calls_per_reply = 2;
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    h.call = Some(call("weather", false));
    let started = h.tool_runs[0].0;
    h.frames(100, false);
    let acks = said(&h, ACKNOWLEDGEMENT);
    assert_eq!(acks.len(), 1, "{:#?}", h.log);
    assert!(acks[0] >= started + ms(SLOW_CALL_MS) && acks[0] < started + ms(SLOW_CALL_MS + 20));
    // The reply goes back to the model, which calls again, slowly: still one acknowledgement.
    done(&mut h, &id, ToolOutcome::Ok("sunny".into()));
    assert_eq!(h.tool_runs.len(), 2);
    let second = h.tool_runs[1].2.id.clone();
    h.frames(100, false);
    assert_eq!(said(&h, ACKNOWLEDGEMENT).len(), 1);
    done(
        &mut h,
        &second,
        ToolOutcome::Ok("sunny tomorrow too".into()),
    );
    settle(&mut h);
    let (text, _, _) = h.assistant_text(turn).expect("the reply ended");
    assert!(text.contains(ACKNOWLEDGEMENT), "{text}");
}

#[test]
fn a_fast_call_gets_no_acknowledgement() {
    let mut h = Harness::new();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    h.frames(30, false);
    done(&mut h, &id, ToolOutcome::Ok("sunny".into()));
    settle(&mut h);
    assert!(said(&h, ACKNOWLEDGEMENT).is_empty());
    let (text, _, _) = h.assistant_text(turn).expect("the reply ended");
    assert_eq!(text, format!("{CALL_PREAMBLE} {}", REPLY.concat().trim()));
}

#[test]
fn a_timeout_is_apologised_for_and_the_reply_goes_on() {
    let mut h = Harness::new();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    h.frames(10, false);
    done(&mut h, &id, ToolOutcome::TimedOut);
    assert_eq!(said(&h, TIMEOUT_APOLOGY).len(), 1);
    assert_eq!(
        generated_after_tools(&h, turn),
        vec![vec![ToolOutcome::TimedOut]]
    );
    settle(&mut h);
    let (text, interrupted, _) = h.assistant_text(turn).expect("the reply ended");
    assert!(!interrupted);
    assert!(
        text.contains(TIMEOUT_APOLOGY) && text.ends_with("fourteen."),
        "{text}"
    );
}

#[test]
fn a_failed_call_is_told_in_words_and_the_reply_goes_on() {
    let mut h = Harness::new();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    let why = ToolOutcome::Failed("no city called Atlantis".into());
    done(&mut h, &id, why.clone());
    assert_eq!(generated_after_tools(&h, turn), vec![vec![why]]);
    settle(&mut h);
    let broke_off = h.events.iter().any(
        |e| matches!(e, AgentEvent::AssistantText { turn: t, broke_off: true, .. } if *t == turn),
    );
    assert!(!broke_off);
    let (text, _, _) = h.assistant_text(turn).expect("the reply ended");
    assert!(text.ends_with("fourteen."), "{text}");
}

#[test]
fn the_model_is_asked_again_once_its_generation_is_done() {
    let mut h = Harness::new();
    h.hold_generation = true;
    h.frames(50, true);
    h.frames(10, false);
    let turn = h.agent.current_turn().expect("a reply started");
    let weather = call("weather", false);
    h.feed(Input::ToolCall {
        turn,
        call: weather.clone(),
    });
    // A quick tool answers before the model has finished streaming.
    done(&mut h, &weather.id, ToolOutcome::Ok("sunny".into()));
    assert!(generated_after_tools(&h, turn).is_empty());
    h.feed(Input::LlmDone {
        turn,
        failed: false,
    });
    assert_eq!(generated_after_tools(&h, turn).len(), 1);
    h.hold_generation = false;
    for token in REPLY {
        h.feed(Input::LlmToken {
            turn,
            text: token.into(),
        });
    }
    h.feed(Input::LlmDone {
        turn,
        failed: false,
    });
    settle(&mut h);
}

#[test]
fn calls_and_results_are_in_the_history_in_order() {
    let mut h = Harness::new();
    let (turn, id) = ask_with_call(&mut h, call("weather", false));
    h.frames(5, false);
    let took_ms = (h.now - h.tool_runs[0].0) / 16;
    done(&mut h, &id, ToolOutcome::Ok("sunny".into()));
    settle(&mut h);
    let kinds: Vec<&str> = h
        .events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolCall { turn: t, name, .. } if *t == turn => {
                assert_eq!(name, "weather");
                Some("call")
            }
            AgentEvent::ToolResult {
                turn: t,
                told_in,
                duration_ms,
                ..
            } if *t == turn => {
                assert_eq!(*told_in, Some(turn));
                assert_eq!(*duration_ms, took_ms);
                Some("result")
            }
            AgentEvent::AssistantText { turn: t, .. } if *t == turn => Some("reply"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["call", "result", "reply"]);
    // The model is asked again after the result is recorded.
    let recorded = positions(&h, |o| {
        matches!(o, Output::Event(AgentEvent::ToolResult { .. }))
    });
    let again = positions(&h, |o| matches!(o, Output::GenerateAfterTools { .. }));
    assert!(recorded[0] < again[0]);
}

#[test]
fn a_reply_that_keeps_calling_is_refused_after_the_last_round() {
    let mut h = Harness::new();
    h.calls_per_reply = u32::MAX;
    let (turn, mut id) = ask_with_call(&mut h, call("weather", false));
    h.call = Some(call("weather", false));
    for _ in 0..MAX_ROUNDS {
        done(&mut h, &id, ToolOutcome::Ok("sunny".into()));
        id = h.tool_runs.last().expect("a run").2.id.clone();
    }
    assert_eq!(h.tool_runs.len() as u32, MAX_ROUNDS);
    let refused = results(&h)
        .into_iter()
        .filter(|(_, o, told)| matches!(o, ToolOutcome::Failed(_)) && told.is_none())
        .count();
    assert_eq!(refused, 1);
    h.call = None;
    settle(&mut h);
    assert!(h.assistant_text(turn).is_some());
}

#[test]
fn a_call_whose_reply_is_dropped_unheard_is_cancelled() {
    let mut h = Harness::new();
    h.hold_generation = true;
    h.frames(50, true);
    h.frames(10, false);
    let turn = h.agent.current_turn().expect("a reply started");
    let weather = call("weather", false);
    h.feed(Input::ToolCall {
        turn,
        call: weather.clone(),
    });
    assert_eq!(h.tool_runs.len(), 1);
    // The user goes on before hearing anything: the reply is dropped, and its call with it.
    h.frames(10, true);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, AgentEvent::ReplyAbandoned { turn: t, .. } if *t == turn))
    );
    assert_eq!(h.tool_cancels.len(), 1);
    assert_eq!(h.tool_cancels[0].1, weather.id);
    assert_eq!(results(&h), vec![(turn, ToolOutcome::Cancelled, None)]);
    h.hold_generation = false;
    h.frames(20, true);
    h.frames(30, false);
    settle(&mut h);
}

#[test]
fn a_result_that_no_reply_could_tell_is_recorded_when_the_conversation_ends() {
    let mut h = Harness::new();
    let (turn, id) = ask_with_call(&mut h, call("set_alarm", true));
    h.frames(110, true);
    h.frames(30, false);
    // The reply to the interruption plays out; the call is still running.
    settle(&mut h);
    assert!(results(&h).is_empty());
    // It ends after that reply was asked for: no reply is left to tell it.
    done(&mut h, &id, ToolOutcome::Ok("alarm set for 7".into()));
    h.agent.end();
    h.feed(Input::Tick);
    assert_eq!(
        results(&h),
        vec![(turn, ToolOutcome::Ok("alarm set for 7".into()), None)]
    );
}
