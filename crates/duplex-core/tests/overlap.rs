//! Model-free agent tests of sound over the agent's voice (two-stage barge-in): playback pauses
//! in the very frame of the first voiced VAD chunk; a burst too short for speech and a
//! backchannel resume the reply with nothing lost; short words that take the floor cut it; and
//! a question that starts anywhere from 500 ms before the end of a reply to 200 ms after it is
//! answered.

mod common;

use common::{Harness, REPLY};
use duplex_core::agent::{AgentEvent, Output, OverlapDecision, TurnId};

/// The whole reply, as the history records it when it was heard to the end.
fn full_reply() -> String {
    REPLY.concat().trim().to_owned()
}

/// The user asks, the reply starts, and `listen` frames of it play.
fn ask_and_listen(h: &mut Harness, listen: u64) -> TurnId {
    h.frames(50, true);
    h.frames(25, false);
    let turn = h.agent.current_turn().expect("a reply started");
    h.frames(listen, false);
    turn
}

fn decisions(h: &Harness) -> Vec<OverlapDecision> {
    h.events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::OverlapJudged { decision, .. } => Some(*decision),
            _ => None,
        })
        .collect()
}

/// What the user said in each turn the agent answered, in order.
fn generated(h: &Harness) -> Vec<String> {
    h.log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Generate { user_text, .. } => Some(user_text.clone()),
            _ => None,
        })
        .collect()
}

fn holds(h: &Harness) -> Vec<(u64, u64)> {
    h.log
        .iter()
        .filter_map(|(t, o)| match o {
            Output::Hold { epoch } => Some((*t, *epoch)),
            _ => None,
        })
        .collect()
}

#[test]
fn playback_pauses_in_the_frame_of_the_first_voiced_chunk() {
    let mut h = Harness::new();
    ask_and_listen(&mut h, 40);
    let onset = h.now;
    h.frames(3, true);
    let (at, epoch) = holds(&h)[0];
    assert_eq!(epoch, 1, "a pause");
    // The first VAD chunk that holds the onset ends at most 32 ms after it; the pause is asked
    // for as that chunk is handled, in the frame that completes it.
    assert!(at <= onset + 512 + 320, "paused at {at}, onset {onset}");
    assert!(h.speaker.is_paused());
}

#[test]
fn a_burst_too_short_for_speech_resumes_the_reply_with_nothing_lost() {
    let mut h = Harness::new();
    let turn = ask_and_listen(&mut h, 40);
    h.frames(8, true); // 160 ms
    h.frames(400, false);
    assert_eq!(decisions(&h), vec![OverlapDecision::FalseAlarm]);
    assert_eq!(holds(&h).len(), 2, "paused once, resumed once");
    assert_eq!(
        h.assistant_text(turn),
        Some((full_reply(), false, Vec::new()))
    );
    assert!(!h.agent.is_busy());
    assert_eq!(generated(&h).len(), 1, "the burst is not a turn");
}

#[test]
fn a_backchannel_resumes_the_reply_and_is_noted_with_it() {
    let mut h = Harness::new();
    let turn = ask_and_listen(&mut h, 40);
    h.transcript = "Mm-hmm.".into();
    h.frames(20, true); // 400 ms
    h.frames(400, false);
    assert_eq!(decisions(&h), vec![OverlapDecision::Backchannel]);
    assert_eq!(
        h.assistant_text(turn),
        Some((full_reply(), false, vec!["Mm-hmm.".to_owned()]))
    );
    assert!(!h.agent.is_busy());
}

#[test]
fn a_short_word_that_takes_the_floor_cuts_the_reply_where_it_paused() {
    let mut h = Harness::new();
    let turn = ask_and_listen(&mut h, 40);
    h.transcript = "Wait.".into();
    h.frames(20, true);
    h.frames(30, false);
    assert_eq!(decisions(&h), vec![OverlapDecision::Interruption]);
    let (text, interrupted, _) = h.assistant_text(turn).expect("the reply was closed");
    assert!(interrupted);
    assert_eq!(text, h.truly_heard(turn));
    assert_eq!(generated(&h), vec!["tell me something", "Wait."]);
}

#[test]
fn two_lone_words_in_a_row_are_judged_together() {
    let mut h = Harness::new();
    let turn = ask_and_listen(&mut h, 40);
    // "Front." alone lets the reply go on; "left" 300 ms later joins it: "front left" takes
    // the floor (the fake transcriber hears the joined audio as the phrase).
    h.transcript = "Front.".into();
    h.frames(20, true);
    h.frames(8, false);
    assert_eq!(decisions(&h), vec![OverlapDecision::Backchannel]);
    h.transcript = "Front left.".into();
    h.frames(20, true);
    h.frames(30, false);
    assert_eq!(
        decisions(&h),
        vec![OverlapDecision::Backchannel, OverlapDecision::Interruption]
    );
    let (_, interrupted, acknowledged) = h.assistant_text(turn).expect("closed");
    assert!(interrupted);
    assert!(
        acknowledged.is_empty(),
        "the joined word is no acknowledgement"
    );
    assert_eq!(generated(&h), vec!["tell me something", "Front left."]);
}

#[test]
fn a_question_from_500_ms_before_the_end_of_a_reply_to_200_ms_after_is_always_answered() {
    // Where the reply ends, from an uninterrupted run.
    let mut base = Harness::new();
    let turn = ask_and_listen(&mut base, 0);
    let started = base.now;
    while base.assistant_text(turn).is_none() {
        base.frames(1, false);
    }
    let reply_frames = (base.now - started) / 320;
    for offset_ms in (-500i64..=200).step_by(20) {
        let mut h = Harness::new();
        h.transcript = "what about tomorrow".into();
        let listen = (reply_frames as i64 + offset_ms / 20) as u64;
        let first = ask_and_listen(&mut h, listen);
        h.frames(40, true); // an 800 ms question
        h.frames(60, false);
        let asked = generated(&h);
        assert_eq!(asked.len(), 2, "offset {offset_ms} ms: {asked:?}");
        let answered = h.events.iter().any(|e| {
            matches!(e, AgentEvent::UserText { turn, text, .. }
                if *turn != first && text == "what about tomorrow")
        });
        assert!(answered, "offset {offset_ms} ms: {:#?}", h.events);
        let (text, interrupted, _) = h.assistant_text(first).expect("first reply closed");
        if interrupted {
            assert_eq!(text, h.truly_heard(first), "offset {offset_ms} ms");
        } else {
            assert_eq!(text, full_reply(), "offset {offset_ms} ms");
        }
        assert!(!h.speaker.is_paused(), "offset {offset_ms} ms: left paused");
    }
}
