//! Model-free agent test: 200 conversations, each interrupted at a different point of the reply,
//! driven by scripted VAD probabilities and instant fake engines, with the transports' own
//! playback queue as the speaker (it carries out a flush at its next period, like a transport).
//! At every interruption the heard text the agent records must be exactly the words of the audio
//! the speaker really played, and the reply must never stay "playing".

mod common;

use common::{Harness, Lcg, REPLY, WORD_SAMPLES};
use duplex_core::FRAME_SAMPLES;
use duplex_core::agent::{AgentEvent, Input};
use duplex_core::vad::VAD_CHUNK;

#[test]
fn two_hundred_interruptions_cut_the_history_exactly_where_playback_stopped() {
    let mut h = Harness::new();
    let mut rng = Lcg(7);
    let reply_frames = REPLY
        .iter()
        .map(|c| c.split_whitespace().count() * WORD_SAMPLES / FRAME_SAMPLES)
        .sum::<usize>() as u64;
    for round in 0..200 {
        // The user asks (1 s), then listens for a random share of the reply, then cuts in with
        // words that take the floor, then pauses.
        h.frames(50, true);
        h.frames(25, false);
        let turn = h.agent.current_turn().expect("a reply started");
        // Anywhere in the reply, up to its last 60 ms (the reply started 19 frames before the
        // user stopped talking): playback pauses at the first voiced chunk, so the reply cannot
        // end under the user's speech.
        h.frames(rng.below(reply_frames - 19 - 3) + 1, false);
        // Speech that ends and is judged by its words (800 ms), or that goes on past the
        // interruption limit (2.2 s).
        h.frames(if round % 2 == 0 { 40 } else { 110 }, true);
        h.frames(30, false);
        let cut = h
            .cut_text(turn)
            .unwrap_or_else(|| panic!("round {round}: turn {turn:?} was not cut: {:#?}", h.events));
        assert_eq!(cut, h.truly_heard(turn), "round {round}");
        // The answer to the interruption plays to its end; nothing is left playing.
        h.frames(reply_frames + 30, false);
        assert!(!h.agent.is_busy(), "round {round}: still busy");
        h.events.clear();
    }
}

#[test]
fn a_cut_whose_flush_is_never_confirmed_is_still_recorded_at_the_end() {
    let mut h = Harness::new();
    h.frames(50, true);
    h.frames(25, false);
    let turn = h.agent.current_turn().expect("a reply started");
    h.frames(40, false);
    // The user cuts in, and the transport goes away: nothing plays or reports any more.
    for _ in 0..110 {
        h.now += FRAME_SAMPLES as u64;
        h.feed(Input::Audio(vec![0.3; FRAME_SAMPLES]));
        while h.vad_pos + VAD_CHUNK as u64 <= h.now {
            let start = h.vad_pos;
            h.feed(Input::Vad {
                start,
                probability: 0.95,
            });
            h.vad_pos += VAD_CHUNK as u64;
        }
    }
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, AgentEvent::AssistantText { turn: t, .. } if *t == turn))
    );
    h.agent.end();
    h.feed(Input::Tick);
    assert_eq!(h.cut_text(turn), Some(h.truly_heard(turn)));
}
