//! Model-free agent tests of what the core asks about the user's voice: a pause's rise is asked
//! for just before its turn-end score, and a turn's cues just before its reply, whose request
//! carries the cue note after the words only with `cue_notes` on (and then waits for it).

mod common;

use common::Harness;
use duplex_core::agent::{AgentConfig, AgentEvent, Output};

/// Indices into the harness log of the outputs that match.
fn positions(h: &Harness, matches: impl Fn(&Output) -> bool) -> Vec<usize> {
    h.log
        .iter()
        .enumerate()
        .filter(|(_, (_, o))| matches(o))
        .map(|(i, _)| i)
        .collect()
}

fn generated(h: &Harness) -> Vec<String> {
    h.log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Generate { user_text, .. } => Some(user_text.clone()),
            _ => None,
        })
        .collect()
}

fn with_notes(notes: bool, note: Option<&str>) -> Harness {
    let config = AgentConfig {
        cue_notes: notes,
        ..AgentConfig::default()
    };
    let mut h = Harness::with_config(config);
    h.cue_note = note.map(str::to_owned);
    h
}

#[test]
fn with_notes_the_request_carries_the_note_after_the_words() {
    let mut h = with_notes(true, Some("(said quickly)"));
    h.frames(50, true);
    h.frames(25, false);
    assert_eq!(generated(&h), ["tell me something (said quickly)"]);
    let describe = positions(&h, |o| matches!(o, Output::DescribeCues { .. }));
    let generate = positions(&h, |o| matches!(o, Output::Generate { .. }));
    assert!(describe.len() == 1 && describe[0] < generate[0]);
    // The history's record of the user's words has no note.
    let said: Vec<&str> = h
        .events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::UserText { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(said, ["tell me something"]);
}

#[test]
fn with_notes_the_request_waits_for_the_note() {
    let mut h = with_notes(true, None);
    h.frames(50, true);
    h.frames(25, false);
    assert_eq!(
        positions(&h, |o| matches!(o, Output::DescribeCues { .. })).len(),
        1
    );
    assert!(generated(&h).is_empty(), "no request before the note");
}

#[test]
fn without_notes_the_request_goes_at_once_with_the_words_alone() {
    let mut h = with_notes(false, None);
    h.frames(50, true);
    h.frames(25, false);
    assert_eq!(generated(&h), ["tell me something"]);
    let mut h = with_notes(false, Some("(said quickly)"));
    h.frames(50, true);
    h.frames(25, false);
    assert_eq!(
        generated(&h),
        ["tell me something"],
        "a note is not asked for"
    );
}

#[test]
fn each_score_request_follows_a_request_for_its_rise() {
    let mut h = Harness::new();
    h.frames(50, true);
    h.frames(25, false);
    let asked: Vec<_> = h
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::MeasureRise { request } => Some(("rise", *request)),
            Output::ScoreTurn { request, .. } => Some(("score", *request)),
            _ => None,
        })
        .collect();
    assert!(!asked.is_empty());
    for pair in asked.chunks(2) {
        assert_eq!(pair.len(), 2, "{asked:?}");
        assert_eq!((pair[0].0, pair[1].0), ("rise", "score"), "{asked:?}");
        assert_eq!(pair[0].1, pair[1].1, "{asked:?}");
    }
}
