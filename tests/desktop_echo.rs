//! Open speakers, with the real models: the agent's own voice comes back into the microphone at
//! -6 dB after 30 ms (plus a low-pass and a reflection), through the desktop transport's own
//! loop, rings, rate conversion and echo canceller (a simulated room instead of cpal), on a
//! device that runs at 44.1 kHz stereo only (converted to and from the pipeline's 16 kHz mono).
//! Over a whole reply the agent must not hear itself (no pause, no barge-in, no new user turn);
//! then a real user speaking over the echo of the next reply must cut it.

mod desktop_room;

use std::time::Duration;

use desktop_room::{RoomSession, rms_db};
use duplex::agent::AgentEvent;
use duplex::transport::desktop::loopback::RoomConfig;

const FIRST_QUESTION: &str = "goforward.wav";
const SECOND_QUESTION: &str = "sense_and_sensibility_01_austen_64kb-0880.wav";
const BARGE_IN: &str = "sense_and_sensibility_01_austen_64kb-0930.wav";

/// Longest wait for one step of the conversation (model loading and replies in real time on a
/// busy 2-core machine).
const STEP: Duration = Duration::from_secs(90);

#[test]
fn the_agent_does_not_hear_itself_but_hears_the_user_over_its_voice() {
    let device = RoomConfig {
        rate: 44_100,
        channels: 2,
        period_frames: 882,
        ..RoomConfig::default()
    };
    let mut s = RoomSession::start(device, true);
    s.listen(Duration::from_secs(1));
    s.say(FIRST_QUESTION);
    let first = s
        .wait_for(STEP, |e| matches!(e, AgentEvent::AssistantText { .. }))
        .expect("a first reply");
    let AgentEvent::AssistantText {
        text, interrupted, ..
    } = &first
    else {
        unreachable!()
    };
    assert!(!interrupted, "the agent interrupted itself: {first:?}");
    assert!(!text.is_empty(), "the first reply was heard: {first:?}");
    // A moment after the reply: its echo tail must not start a user turn either.
    s.listen(Duration::from_millis(1500));
    let speech_starts = s
        .seen
        .iter()
        .filter(|e| matches!(e, AgentEvent::UserSpeechStart { .. }))
        .count();
    assert_eq!(
        speech_starts, 1,
        "only the question was speech: {:?}",
        s.seen
    );
    // Playback pauses at the first voiced moment over the reply: its own echo never did.
    let paused = s
        .seen
        .iter()
        .filter(|e| matches!(e, AgentEvent::PlaybackPaused { .. }))
        .count();
    assert_eq!(paused, 0, "the agent paused for its own echo: {:?}", s.seen);

    s.say(SECOND_QUESTION);
    s.wait_for(STEP, |e| matches!(e, AgentEvent::FirstAudio { .. }))
        .expect("a second reply starts");
    let barge_at = s.say(BARGE_IN);
    let second = s
        .wait_for(STEP, |e| matches!(e, AgentEvent::AssistantText { .. }))
        .expect("the second reply ends");
    s.listen(Duration::from_secs(1));
    let outcome = s.finish();

    assert!(
        matches!(
            second,
            AgentEvent::AssistantText {
                interrupted: true,
                ..
            }
        ),
        "the user's speech over the reply cut it: {second:?}"
    );
    println!(
        "barge-in at {barge_at}, flushes at {:?}, transport flushes {}",
        outcome.recording.discards_at, outcome.report.flushes
    );
    let flush = outcome
        .recording
        .discards_at
        .iter()
        .find(|&&at| at > barge_at)
        .copied()
        .expect("the speaker was flushed after the user spoke");
    // The echo really was there while the agent spoke: loud at the microphone.
    let echo_db = rms_db(&outcome.recording.echo[..flush as usize]);
    assert!(echo_db > -45.0, "echo level {echo_db:.1} dBFS");
    // And the speaker was silent from the flush on (until any later reply).
    let after = &outcome.recording.speaker[flush as usize..];
    let quiet = after.iter().take(4800).all(|s| *s == 0.0);
    assert!(quiet, "speech continued after the flush");
    println!(
        "report: frames {} (dropped {}), underruns {}, flushes {}, reference dropped {}",
        outcome.report.frames_sent,
        outcome.report.frames_dropped,
        outcome.report.underruns,
        outcome.report.flushes,
        outcome.report.reference_dropped
    );
}
