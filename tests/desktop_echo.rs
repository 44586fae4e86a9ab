//! Open speakers, with the real models: the agent's own voice comes back into the microphone at
//! -6 dB after 30 ms (plus a low-pass and a reflection), through the desktop transport's own
//! loop, rings, rate conversion and echo canceller (a simulated room instead of cpal), on a
//! device that runs at 44.1 kHz stereo only (converted to and from the pipeline's 16 kHz mono).
//! Over a whole reply the agent must not hear itself (no pause, no barge-in, no new user turn);
//! then a real user speaking over the echo of the next reply must cut it. A backchannel during a
//! long user turn sounds in the room, between the user's words, without ending the turn.

mod desktop_room;
#[path = "support/levels.rs"]
mod levels;

use std::time::Duration;

use desktop_room::{RoomSession, rms_db};
use duplex::agent::AgentEvent;
use duplex::audio::{PIPELINE_RATE, load_pipeline_audio};
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::transport::desktop::loopback::RoomConfig;
use levels::sounded_and_overlap_ms;

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

#[test]
fn a_backchannel_sounds_in_the_room_between_the_users_words_and_ends_nothing() {
    let device = RoomConfig::default();
    let rate = device.rate;
    let mut settings = Config::default();
    settings.agent.backchannel.enabled = true;
    // The pause below outlasts the backchannel by half a second, so that its echo, if it were
    // taken for the user, would show as speech of its own; the turn-end wait after a pause
    // judged unfinished is made long enough that the pause does not end the turn.
    settings.agent.endpoint.incomplete_wait_ms = 2500;
    let mut s = RoomSession::start_with(device, true, settings);
    s.listen(Duration::from_secs(1));
    // One long turn: jfk.wav from "ask not what your country can do for you" (its opening "and
    // so my fellow Americans" sounds finished, gets a reply and turns the test into a barge-in),
    // with the pause after "for you" (7.55-8.15 s) made 1 s longer with its own room noise: a
    // listener's backchannel needs a pause that lasts past the moment it is judged (the agent
    // says none once the user has gone on).
    let jfk = load_pipeline_audio(&fixture_path("jfk.wav")).expect("jfk.wav");
    let at_s = |s: f64| (s * f64::from(PIPELINE_RATE)) as usize;
    let mut speech = jfk[at_s(3.0)..at_s(7.85)].to_vec();
    for _ in 0..2 {
        speech.extend_from_slice(&jfk[at_s(7.6)..at_s(8.1)]);
    }
    speech.extend_from_slice(&jfk[at_s(7.85)..]);
    s.say_samples(&speech);
    let heard = s.wait_for(STEP, |e| matches!(e, AgentEvent::Backchannel { .. }));
    let reply = s.wait_for(STEP, |e| {
        matches!(
            e,
            AgentEvent::AssistantText {
                interrupted: false,
                ..
            }
        )
    });
    s.listen(Duration::from_millis(500));
    let outcome = s.finish();
    assert!(heard.is_some(), "a backchannel in an 8 s turn");
    assert!(reply.is_some(), "the long turn was answered");
    let events = &outcome.events;
    let at = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::Backchannel { at, .. } => Some(*at),
            _ => None,
        })
        .expect("a backchannel in an 8 s turn");
    // It ended nothing: no end of turn between it and the user going on.
    let after: Vec<&AgentEvent> = events
        .iter()
        .skip_while(|e| !matches!(e, AgentEvent::Backchannel { .. }))
        .take_while(|e| !matches!(e, AgentEvent::UserSpeechStart { .. }))
        .collect();
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, AgentEvent::EndOfTurn { .. })),
        "the backchannel ended the turn: {after:?}"
    );
    // The speaker played it (the reply comes seconds later), not over the user's words, and
    // its echo was not taken for the user: the speech that follows it holds the user's voice.
    let rec = &outcome.recording;
    let from = (at * u64::from(rate) / u64::from(PIPELINE_RATE)) as usize;
    let to = (from + rate as usize * 3 / 2).min(rec.speaker.len());
    let (sounded_ms, overlap_ms) = sounded_and_overlap_ms(
        &rec.speaker[from..to],
        rate,
        &rec.user[from..to.min(rec.user.len())],
        rate,
    );
    println!(
        "backchannel at input sample {at}: sounded {sounded_ms} ms, over the user {overlap_ms} ms"
    );
    assert!(
        sounded_ms >= 100,
        "the backchannel was heard ({sounded_ms} ms)"
    );
    assert!(overlap_ms <= 100, "over the user for {overlap_ms} ms");
    let room = |at: u64| (at * u64::from(rate) / u64::from(PIPELINE_RATE)) as usize;
    let resumed = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::UserSpeechStart { at: s } if *s > at => Some(*s),
            _ => None,
        })
        .expect("the user went on");
    let ended = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::UserSpeechEnd { at: e } if *e > resumed => Some(*e),
            _ => None,
        })
        .expect("the user finished");
    let segment = room(resumed)..room(ended).min(rec.user.len());
    let user_voice = levels::frame_levels(&rec.user[segment], rate);
    assert!(
        user_voice.iter().filter(|l| **l > 0.02).count() >= 50,
        "the speech from {resumed} to {ended} was the backchannel's echo, not the user"
    );
}
