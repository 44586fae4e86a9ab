//! Whole conversations over WAV files with the real models (Silero, smart-turn, Whisper,
//! SmolLM2 in its worker process, Piper), fed at "fast" pace so that the timeline does not
//! depend on this machine's speed: two questions get two replies, each after its question; a
//! question asked over a reply cuts it and is answered; a question that starts in a reply's
//! last moments, or just after it, is answered. The words a cut reply is recorded with agree,
//! to within one word, with what Whisper hears in the audio that was played of it.

use duplex::agent::{AgentEvent, TurnId};
use duplex::asr::WhisperModel;
use duplex::audio::resample::resample;
use duplex::audio::{PIPELINE_RATE, load_pipeline_audio};
use duplex::config::Config;
use duplex::conversation_report::{TurnSummary, summarize};
use duplex::fixtures::fixture_path;
use duplex::runtime::{SessionEventKind, load_local_engines};
use duplex::transport::file::{Conversation, Pace, converse};
use duplex::wer::word_errors;

#[path = "support/levels.rs"]
mod levels;
use levels::sounded_and_overlap_ms;

const SECOND_QUESTION: &str = "sense_and_sensibility_01_austen_64kb-0930.wav";
const SECOND_REFERENCE: &str = "he might even have been made amiable himself";

fn audio(file: &str) -> Vec<f32> {
    load_pipeline_audio(&fixture_path(file)).expect("fixture")
}

fn silence(seconds: f32) -> Vec<f32> {
    vec![0.0; (seconds * PIPELINE_RATE as f32) as usize]
}

fn run(input: &[f32]) -> (Conversation, Vec<TurnSummary>) {
    let config = Config::default();
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("whisper");
    let engines = load_local_engines(&config, &whisper).expect("engines load");
    let conversation = converse(config.agent_config(), engines, input, Pace::Fast);
    let turns = summarize(&conversation.events);
    for t in &turns {
        println!("{}", serde_json::to_string(t).unwrap());
    }
    (conversation, turns)
}

/// First output sample at or after `from` louder than -40 dBFS.
fn first_sound(output: &[f32], from: usize) -> Option<usize> {
    output
        .iter()
        .skip(from)
        .position(|s| s.abs() > 0.01)
        .map(|i| i + from)
}

#[test]
fn two_questions_get_two_replies_each_after_its_question() {
    let mut input = audio("goforward.wav");
    input.extend(silence(2.0));
    let second_start = input.len();
    input.extend(audio(SECOND_QUESTION));
    let (conversation, turns) = run(&input);

    assert!(turns.len() >= 2, "two replies expected: {turns:?}");
    let first = turns.first().unwrap();
    let second = turns
        .iter()
        .find(|t| t.user_speech_end_s.unwrap_or(0.0) * 16_000.0 > second_start as f64)
        .expect("a reply to the second question");
    let (e1, n1) = word_errors(
        "go forward ten meters",
        first.transcript.as_deref().unwrap(),
    );
    let (e2, n2) = word_errors(SECOND_REFERENCE, second.transcript.as_deref().unwrap());
    assert!(e1 <= 1 && e1 < n1, "{first:?}");
    assert!(e2 <= 2 && e2 < n2, "{second:?}");
    for t in [first, second] {
        let end = (t.user_speech_end_s.unwrap() * f64::from(conversation.output_rate)) as usize;
        let sound = first_sound(&conversation.output, end).expect("a spoken reply");
        assert!(sound > end, "reply after the question");
        assert!(!t.played_text.as_deref().unwrap_or("").is_empty());
    }
    // Nothing is spoken while the user asks the first question.
    let first_end =
        (first.user_speech_end_s.unwrap() * f64::from(conversation.output_rate)) as usize;
    assert_eq!(
        first_sound(&conversation.output, 0).map(|s| s > first_end),
        Some(true)
    );
}

/// The words of the reply's text that `audio` (16 kHz, what was played of it) holds, as Whisper
/// hears them: the length of the prefix of `reply` (spoken-form words) that Whisper's
/// transcript matches with the fewest word errors.
fn words_whisper_heard(reply: &str, audio: &[f32]) -> (usize, String) {
    let config = Config::default();
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("whisper");
    let mut asr = whisper.session().expect("whisper session");
    let transcript = asr.transcribe(audio, None).expect("transcribes").text;
    let spoken = duplex::text::normalize(&transcript);
    let words: Vec<String> = duplex::wer::normalize(&duplex::text::normalize(reply));
    let best = (0..=words.len())
        .min_by_key(|&k| word_errors(&words[..k].join(" "), &spoken).0)
        .expect("a prefix");
    (best, transcript)
}

/// What of turn `turn` the output holds: from its first chunk's start to the next reply's first
/// chunk (or the end), trailing silence cut, at 16 kHz.
fn played_audio(conversation: &Conversation, turn: TurnId) -> Vec<f32> {
    let starts = &conversation.chunk_starts;
    let from = starts
        .iter()
        .find(|(id, _)| id.turn == turn)
        .expect("the reply was played")
        .1;
    let to = starts
        .iter()
        .find(|(id, at)| id.turn != turn && *at > from)
        .map_or(conversation.output.len(), |(_, at)| *at);
    let played = &conversation.output[from..to];
    let end = played
        .iter()
        .rposition(|s| s.abs() > 0.01)
        .map_or(0, |i| i + 1);
    resample(&played[..end], conversation.output_rate, PIPELINE_RATE).expect("resamples")
}

/// The whole text of turn `turn`'s reply, as generated (every chunk sent to playback).
fn reply_text(conversation: &Conversation, turn: TurnId) -> String {
    let chunks: Vec<String> = conversation
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Agent(AgentEvent::ReplyChunk { turn: t, text, .. }) if *t == turn => {
                Some(text.clone())
            }
            _ => None,
        })
        .collect();
    chunks.join(" ")
}

#[test]
fn a_question_over_the_reply_cuts_it_and_is_answered() {
    let mut input = audio("goforward.wav");
    input.extend(silence(1.0));
    input.extend(audio(SECOND_QUESTION));
    let (conversation, turns) = run(&input);

    let first = turns.first().expect("a first reply");
    assert!(first.interrupted, "the first reply was cut: {first:?}");
    // The words the session says were heard agree, to within one word, with what Whisper hears
    // in the audio that was played of the reply before the cut (the oracle is the sound, not the
    // session's own arithmetic; one word either way for a word cut in the middle).
    let turn = TurnId(first.turn);
    let whole = reply_text(&conversation, turn);
    let said = first.played_text.as_deref().unwrap_or("");
    let said_words = duplex::wer::normalize(&duplex::text::normalize(said)).len();
    let (heard_words, transcript) = words_whisper_heard(&whole, &played_audio(&conversation, turn));
    println!(
        "reply {whole:?}\nsession: heard {said_words} words {said:?}\nwhisper: {heard_words} \
         words {transcript:?}"
    );
    assert!(
        said_words < duplex::wer::normalize(&duplex::text::normalize(&whole)).len(),
        "the reply was cut short: {whole:?} / {said:?}"
    );
    assert!(
        said_words.abs_diff(heard_words) <= 1,
        "the session says {said_words} words were heard ({said:?}); Whisper hears {heard_words} \
         in the played audio ({transcript:?}) of {whole:?}"
    );
    let last = turns.last().unwrap();
    assert!(!last.interrupted);
    let (errors, words) = word_errors(SECOND_REFERENCE, last.transcript.as_deref().unwrap());
    assert!(errors <= 2 && errors < words, "{last:?}");
    assert!(!last.played_text.as_deref().unwrap_or("").is_empty());
}

#[test]
fn a_question_that_starts_near_the_end_of_a_reply_is_answered() {
    // Where the first reply ends on this (fast-paced, so repeatable) timeline.
    let mut alone = audio("goforward.wav");
    alone.extend(silence(10.0));
    let (first_run, _) = run(&alone);
    let rate = f64::from(first_run.output_rate);
    let last_sound = first_run
        .output
        .iter()
        .rposition(|s| s.abs() > 0.01)
        .expect("a spoken reply");
    let reply_end = (last_sound as f64 / rate * f64::from(PIPELINE_RATE)) as usize;
    // The second question starts 400 ms and 150 ms before that end, and 100 ms after it: each
    // time it must be heard and answered (over the reply's last words it pauses the reply and
    // takes the floor; after it, it is a turn like any other).
    for offset_ms in [-400i64, -150, 100] {
        let start = (reply_end as i64 + offset_ms * i64::from(PIPELINE_RATE) / 1000) as usize;
        let mut input = audio("goforward.wav");
        input.resize(start, 0.0);
        input.extend(audio(SECOND_QUESTION));
        input.extend(silence(3.0));
        let (_, turns) = run(&input);
        let last = turns.last().expect("replies");
        let transcript = last.transcript.as_deref().unwrap_or("");
        let (errors, words) = word_errors(SECOND_REFERENCE, transcript);
        assert!(
            errors <= 2 && errors < words,
            "offset {offset_ms} ms: the second question was not answered: {turns:?}"
        );
        assert!(
            !last.played_text.as_deref().unwrap_or("").is_empty(),
            "offset {offset_ms} ms: {turns:?}"
        );
        assert!(turns.len() >= 2, "offset {offset_ms} ms: {turns:?}");
    }
}

/// A question asked with a rising voice: the session hears the rise while the user speaks, tells
/// it in its events, writes it beside the words for the model (with `[llm] cue_notes`), and the
/// spoken reply never reads the note aloud.
#[test]
fn a_rising_question_is_heard_as_rising_and_the_note_is_not_spoken() {
    let mut config = Config::default();
    config.llm.cue_notes = true;
    // Cue notes are off by default; the `fast` brain is the one they were tuned on. The default
    // `balanced` brain reads them aloud ("hesitant", the README's cue table: 2/12 with notes).
    config.llm.brain = Some("fast".into());
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("whisper");
    let engines = load_local_engines(&config, &whisper).expect("engines load");
    let question = load_pipeline_audio(
        &duplex::fixtures::fixtures_dir().join("cues/synth/piper_joe_2_question.wav"),
    )
    .expect("cue fixture");
    let mut input = silence(0.5);
    input.extend(question);
    input.extend(silence(4.0));
    let conversation = converse(config.agent_config(), engines, &input, Pace::Fast);
    let notes: Vec<&str> = conversation
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Cues(report) => Some(report.note.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 1, "one turn, one cue report: {notes:?}");
    assert!(notes[0].contains("rising at the end"), "{notes:?}");
    let turns = summarize(&conversation.events);
    let reply = turns
        .iter()
        .find_map(|t| t.played_text.clone())
        .expect("a reply");
    println!("reply: {reply}");
    assert!(!reply.trim().is_empty());
    for phrase in ["rising at the end", "(said", "said quickly", "hesitant"] {
        assert!(
            !reply.to_lowercase().contains(phrase),
            "the note was spoken: {reply}"
        );
    }
}

/// A long turn with inner pauses (jfk.wav, 11 s) with backchannels on: the agent says one at
/// an inner pause; it overlaps the speaker's voice by at most 100 ms (it is cut when they go
/// on), and it does not end the turn.
#[test]
fn a_backchannel_in_a_long_turn_stays_out_of_the_speakers_way() {
    let mut config = Config::default();
    config.agent.backchannel.enabled = true;
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("whisper");
    let engines = load_local_engines(&config, &whisper).expect("engines load");
    let mut input = audio("jfk.wav");
    input.extend(silence(6.0));
    let conversation = converse(config.agent_config(), engines, &input, Pace::Fast);
    let backchannels: Vec<u64> = conversation
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Agent(duplex::agent::AgentEvent::Backchannel { at, .. }) => Some(*at),
            _ => None,
        })
        .collect();
    println!("backchannels at {backchannels:?} (input samples)");
    assert!(!backchannels.is_empty(), "a backchannel in an 11 s turn");
    let at = backchannels[0];
    // It did not end the turn: no end of turn between it and the speaker going on.
    let resumed = conversation
        .events
        .iter()
        .find_map(|e| match &e.kind {
            SessionEventKind::Agent(duplex::agent::AgentEvent::UserSpeechStart { at: s })
                if *s > at =>
            {
                Some(e.at)
            }
            _ => None,
        })
        .expect("the speaker went on");
    let ended_turn = conversation.events.iter().any(|e| {
        matches!(
            &e.kind,
            SessionEventKind::Agent(duplex::agent::AgentEvent::EndOfTurn { .. })
        ) && e.at >= at
            && e.at <= resumed
    });
    assert!(!ended_turn, "the backchannel ended the turn");
    // In the 1.5 s from it, the output holds only the backchannel (no reply chunk starts
    // there): where it sounds, the speaker must be silent (10 ms frames; the speaker's voice
    // above -34 dBFS).
    let out_rate = conversation.output_rate as u64;
    let from = (at * out_rate / u64::from(PIPELINE_RATE)) as usize;
    let to = from + (out_rate * 3 / 2) as usize;
    assert!(
        !conversation
            .chunk_starts
            .iter()
            .any(|(_, s)| (from..to).contains(s)),
        "a reply plays beside the backchannel"
    );
    let (sounded_ms, overlap_ms) = sounded_and_overlap_ms(
        &conversation.output[from..to],
        conversation.output_rate,
        &input[at as usize..],
        PIPELINE_RATE,
    );
    println!("backchannel sounded {sounded_ms} ms, over the speaker {overlap_ms} ms");
    assert!(
        sounded_ms >= 100,
        "the backchannel was heard ({sounded_ms} ms)"
    );
    assert!(overlap_ms <= 100, "over the speaker for {overlap_ms} ms");
}
