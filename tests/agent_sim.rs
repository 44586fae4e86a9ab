//! Deterministic simulation of the conversation core: real fixture audio through the real
//! Silero VAD, fake engines with declared costs in virtual time. Asserts exact reply timing,
//! playback paused within one frame of a barge-in, a short sound resumed, history cut to the
//! words played, and stale results of a cancelled turn dropped.

mod support;

use duplex::agent::{AgentConfig, AgentEvent, Output, OverlapDecision, TurnId, ms};
use duplex::audio::{FRAME_SAMPLES, load_pipeline_audio};
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::vad::SileroVad;
use support::sim::{FakeEngines, Sim};

/// A question without long inner pauses, used to interrupt the first reply.
const INTERRUPTION: &str = "sense_and_sensibility_01_austen_64kb-0880.wav";

fn engines() -> FakeEngines {
    FakeEngines {
        score_ms: 50,
        score: 0.9,
        pause_rise: 0.0,
        transcribe_ms: 120,
        transcripts: vec![
            "go forward ten meters".into(),
            "he was not an ill disposed young man".into(),
        ],
        first_token_ms: 80,
        token_ms: 20,
        tokens: [
            "Sure", ", I", " will.", " Moving", " ten", " meters", " ahead", " now.",
        ]
        .map(String::from)
        .to_vec(),
        phrases_by_time: Vec::new(),
        tts_ms: 40,
        audio_ms_per_char: 60,
    }
}

/// The words of `turn` the virtual speaker played whole, by the fake voice's schedule: each
/// chunk lasts `audio_ms_per_char` per character of its text, the chunks play in order, and a
/// word was heard once the samples up to its last character had been played.
fn words_played_by_schedule(sim: &Sim, turn: TurnId) -> Vec<String> {
    let per_char = ms(sim.engines.audio_ms_per_char) as usize;
    let mut chunks: Vec<(u32, String)> = sim
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Synthesize {
                turn: t,
                chunk,
                text,
            } if *t == turn => Some((*chunk, text.clone())),
            _ => None,
        })
        .collect();
    chunks.sort();
    let played = sim.heard.iter().filter(|(_, t)| *t == turn).count();
    let mut words = Vec::new();
    let mut start = 0;
    for (_, text) in &chunks {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_whitespace() {
                i += 1;
                continue;
            }
            let begin = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            if start + i * per_char > played {
                return words;
            }
            words.push(chars[begin..i].iter().collect());
        }
        start += chars.len() * per_char;
    }
    words
}

fn vad() -> SileroVad {
    SileroVad::load(&Config::default().models).expect("VAD loads")
}

fn audio(file: &str) -> Vec<f32> {
    load_pipeline_audio(&fixture_path(file)).expect("fixture")
}

fn silence(ms_: u32) -> Vec<f32> {
    vec![0.0; ms(ms_) as usize]
}

fn events(sim: &Sim) -> Vec<(u64, AgentEvent)> {
    sim.log
        .iter()
        .filter_map(|(t, o)| match o {
            Output::Event(e) => Some((*t, e.clone())),
            _ => None,
        })
        .collect()
}

/// Where the VAD saw the first utterance end.
fn first_speech_end(sim: &Sim) -> u64 {
    events(sim)
        .into_iter()
        .find_map(|(_, e)| match e {
            AgentEvent::UserSpeechEnd { at } => Some(at),
            _ => None,
        })
        .expect("speech ended")
}

/// When the first user turn ended.
fn first_end_of_turn(sim: &Sim) -> u64 {
    events(sim)
        .into_iter()
        .find_map(|(t, e)| matches!(e, AgentEvent::EndOfTurn { .. }).then_some(t))
        .expect("turn ended")
}

/// jfk.wav through the simulation with every pause scored "incomplete"; each phrase with the
/// time it has been said by (the pauses after them are near 2.3, 4.4, 7.7 and 10.6 s).
fn jfk_scored_incomplete(config: AgentConfig) -> Sim {
    let mut sim = Sim::new(
        config,
        FakeEngines {
            score: 0.1,
            phrases_by_time: vec![
                (2.2, "and so my fellow americans".into()),
                (4.35, "ask not".into()),
                (7.6, "what your country can do for you".into()),
                (10.55, "ask what you can do for your country".into()),
            ],
            ..engines()
        },
    );
    sim.run(&mut vad(), &audio("jfk.wav"), 6000);
    sim
}

fn assistant_texts(sim: &Sim) -> Vec<(String, bool)> {
    events(sim)
        .into_iter()
        .filter_map(|(_, e)| match e {
            AgentEvent::AssistantText {
                text, interrupted, ..
            } => Some((text, interrupted)),
            _ => None,
        })
        .collect()
}

#[test]
fn reply_starts_exactly_at_endpoint_delay_plus_declared_costs_without_waiting_for_the_score() {
    let mut sim = Sim::new(AgentConfig::default(), engines());
    sim.run(&mut vad(), &audio("goforward.wav"), 6000);

    // The pause is confirmed when its speech end is reported.
    let detected = sim.times_of(|o| matches!(o, Output::Event(AgentEvent::UserSpeechEnd { .. })));
    assert_eq!(detected.len(), 1, "one pause");
    let d = detected[0];
    // Transcription started at the first silent VAD chunk, before the pause was confirmed; the
    // requests abandoned earlier (silences inside the utterance) got no transcript.
    let transcribed = sim.times_of(|o| matches!(o, Output::Transcribe { .. }));
    let t = *transcribed.last().unwrap();
    assert!(t < d, "transcription starts before the pause is confirmed");
    assert_eq!(sim.abandoned.len(), transcribed.len() - 1);
    // The reply does not wait for the score: it is generated as soon as the pause is confirmed
    // and transcribed, and held until the turn ends.
    let generate = sim.times_of(|o| matches!(o, Output::Generate { .. }));
    assert_eq!(generate, vec![d.max(t + ms(120))]);
    // The turn-end score is asked for at the reply's first token (80 ms), beside token-by-token
    // generation rather than beside Whisper; a complete score (50 ms) ends the turn at once.
    let first_token = generate[0] + ms(80);
    let scored = sim.times_of(|o| matches!(o, Output::ScoreTurn { .. }));
    assert_eq!(scored, vec![first_token]);
    let end_of_turn = first_end_of_turn(&sim);
    assert_eq!(end_of_turn, first_token + ms(50));
    // First chunk "Sure, I will." is complete at the third token; then 40 ms of synthesis. It
    // plays when it is ready or when the turn ends, whichever is later.
    let ready = generate[0] + ms(80) + 2 * ms(20) + ms(40);
    let first_play = sim.times_of(|o| matches!(o, Output::Play { .. }))[0];
    assert_eq!(first_play, ready.max(end_of_turn));
    // The endpoint delay itself: from the end of speech to the pause being detected.
    let speech_end = first_speech_end(&sim);
    let min_silence = ms(AgentConfig::default().vad.min_silence_ms);
    assert!(d >= speech_end + min_silence && d <= speech_end + min_silence + ms(32 + 20));
    assert_eq!(
        assistant_texts(&sim),
        vec![("Sure, I will. Moving ten meters ahead now.".into(), false)]
    );
}

#[test]
fn the_score_is_asked_for_200_ms_after_the_pause_when_no_token_comes() {
    // The LLM's first token takes 600 ms: the score does not wait for it beyond 200 ms.
    let slow_llm = FakeEngines {
        first_token_ms: 600,
        ..engines()
    };
    let mut sim = Sim::new(AgentConfig::default(), slow_llm);
    sim.run(&mut vad(), &audio("goforward.wav"), 6000);
    let d = sim.times_of(|o| matches!(o, Output::Event(AgentEvent::UserSpeechEnd { .. })))[0];
    let scored = sim.times_of(|o| matches!(o, Output::ScoreTurn { .. }));
    assert_eq!(scored.len(), 1, "one score request");
    assert!(
        scored[0] >= d + ms(200) && scored[0] <= d + ms(200 + 20),
        "asked for at {} ms, pause confirmed at {} ms",
        scored[0] / 16,
        d / 16
    );
    assert_eq!(
        assistant_texts(&sim),
        vec![("Sure, I will. Moving ten meters ahead now.".into(), false)]
    );
}

#[test]
fn barge_in_pauses_within_one_frame_then_cuts_to_the_words_played() {
    let mut input = audio("goforward.wav");
    input.extend(silence(1500));
    let interruption_at = input.len() as u64;
    input.extend(audio(INTERRUPTION));
    let mut sim = Sim::new(AgentConfig::default(), engines());
    sim.run(&mut vad(), &input, 6000);

    let first_play = sim.times_of(|o| {
        matches!(
            o,
            Output::Play {
                turn: TurnId(1),
                ..
            }
        )
    })[0];
    assert!(
        first_play < interruption_at,
        "the reply plays before the user cuts in"
    );
    let flushes = sim.times_of(|o| matches!(o, Output::Flush { .. }));
    assert_eq!(flushes.len(), 1);
    let flush = flushes[0];
    // The speech start the VAD saw for the interruption.
    let barge_start = events(&sim)
        .into_iter()
        .filter_map(|(_, e)| match e {
            AgentEvent::UserSpeechStart { at } if at >= interruption_at => Some(at),
            _ => None,
        })
        .next()
        .expect("interruption heard");
    let config = AgentConfig::default();
    let user_chunks: Vec<(u64, f32)> = sim
        .vad_log
        .iter()
        .filter(|(_, start, _)| *start + 512 > barge_start)
        .map(|&(fed, _, p)| (fed, p))
        .collect();
    // Stage one: playback pauses as the first voiced chunk is handled, in the frame that
    // delivered it; the speaker is silent from the next frame on.
    let first_voiced = user_chunks
        .iter()
        .find(|(_, p)| *p >= config.vad.threshold)
        .unwrap()
        .0;
    let holds = sim.times_of(|o| matches!(o, Output::Hold { .. }));
    assert_eq!(holds[0], first_voiced);
    let last_heard = sim
        .heard
        .iter()
        .filter(|(_, turn)| *turn == TurnId(1))
        .map(|(t, _)| *t)
        .max()
        .unwrap();
    assert!(last_heard < first_voiced + FRAME_SAMPLES as u64);
    // Stage two: the speech goes on; the chunk that brings its voiced time to the interruption
    // limit flushes the reply, cancels it and resumes playback for the next one.
    let mut voiced = 0;
    let confirmed_at = user_chunks
        .iter()
        .find_map(|&(fed, p)| {
            voiced += if p >= config.vad.threshold { 512 } else { 0 };
            (voiced >= ms(config.turns.interrupt_after_ms)).then_some(fed)
        })
        .unwrap();
    assert_eq!(flush, confirmed_at);
    assert_eq!(
        holds,
        vec![first_voiced, flush],
        "paused, then resumed after the flush"
    );
    let cancel = sim.times_of(|o| matches!(o, Output::Cancel(TurnId(1))));
    assert_eq!(cancel, vec![flush]);
    // Late tokens and audio of the cancelled turn were dropped.
    let late = sim
        .log
        .iter()
        .filter(|(t, o)| {
            *t > flush
                && matches!(
                    o,
                    Output::Play {
                        turn: TurnId(1),
                        ..
                    } | Output::Synthesize {
                        turn: TurnId(1),
                        ..
                    }
                )
        })
        .count();
    assert_eq!(late, 0);
    // History: the first reply cut to what was played, marked interrupted; then the second
    // question gets its own reply.
    let texts = assistant_texts(&sim);
    let (cut, interrupted) = &texts[0];
    assert!(*interrupted);
    let full = "Sure, I will. Moving ten meters ahead now.";
    assert!(
        full.starts_with(cut.as_str()) && cut.len() < full.len(),
        "{cut:?}"
    );
    assert!(
        cut.starts_with("Sure, I will."),
        "the first chunk was played whole: {cut:?}"
    );
    // The words the speaker really played, by the fake voice's own schedule: the cut agrees
    // with them to within one word (the ledger shares a partly played chunk's samples among its
    // words evenly; the fake voice gives each character the same time).
    let scheduled = words_played_by_schedule(&sim, TurnId(1));
    println!("cut {cut:?}; played by the schedule {scheduled:?}");
    assert!(
        cut.split_whitespace().count().abs_diff(scheduled.len()) <= 1,
        "cut to {cut:?}, but the speaker played {scheduled:?}"
    );
    let generated: Vec<String> = sim
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Generate { user_text, .. } => Some(user_text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        generated,
        vec![
            "go forward ten meters",
            "he was not an ill disposed young man"
        ]
    );
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[1], (full.to_owned(), false));
}

#[test]
fn a_short_mm_during_the_reply_does_not_interrupt() {
    let jfk = audio("jfk.wav");
    // 150 ms from the middle of a voiced word in jfk.wav.
    let mm = &jfk[ms(1900) as usize..ms(2050) as usize];
    let mut input = audio("goforward.wav");
    input.extend(silence(1500));
    let mm_at = input.len() as u64;
    input.extend_from_slice(mm);
    let mut sim = Sim::new(AgentConfig::default(), engines());
    sim.run(&mut vad(), &input, 8000);

    let first_play = sim.times_of(|o| matches!(o, Output::Play { .. }))[0];
    assert!(first_play < mm_at, "the reply plays before the mm");
    let heard_mm = events(&sim)
        .iter()
        .any(|(_, e)| matches!(e, AgentEvent::UserSpeechStart { at } if *at + ms(200) >= mm_at));
    assert!(heard_mm, "the VAD noticed the mm");
    // Paused at once, judged too short for speech, resumed; never flushed.
    assert_eq!(sim.times_of(|o| matches!(o, Output::Hold { .. })).len(), 2);
    assert!(
        sim.times_of(|o| matches!(o, Output::Flush { .. }))
            .is_empty()
    );
    let judged: Vec<OverlapDecision> = events(&sim)
        .into_iter()
        .filter_map(|(_, e)| match e {
            AgentEvent::OverlapJudged { decision, .. } => Some(decision),
            _ => None,
        })
        .collect();
    assert_eq!(judged, vec![OverlapDecision::FalseAlarm]);
    assert_eq!(
        assistant_texts(&sim),
        vec![("Sure, I will. Moving ten meters ahead now.".into(), false)]
    );
}

#[test]
fn an_incomplete_turn_prepares_the_reply_and_plays_it_at_the_deadline() {
    let config = AgentConfig::default();
    let wait = ms(config.turns.endpoint.incomplete_wait_ms);
    let mut sim = Sim::new(
        config,
        FakeEngines {
            score: 0.1,
            ..engines()
        },
    );
    sim.run(&mut vad(), &audio("goforward.wav"), 6000);

    let speech_end = first_speech_end(&sim);
    let generate = sim.times_of(|o| matches!(o, Output::Generate { .. }));
    assert_eq!(generate.len(), 1);
    assert!(
        generate[0] < speech_end + wait,
        "the reply is prepared during the wait"
    );
    let end_of_turn = first_end_of_turn(&sim);
    assert_eq!(end_of_turn, speech_end + wait);
    // Everything was ready before the deadline: the first audio plays exactly at it.
    let first_play = sim.times_of(|o| matches!(o, Output::Play { .. }))[0];
    assert_eq!(first_play, speech_end + wait);
}

#[test]
fn a_question_said_rising_ends_its_turn_sooner_than_other_incomplete_pauses() {
    let endpoint = AgentConfig::default().turns.endpoint;
    // The turn-end model scores the pause incomplete each time; the session measured a
    // confident final rise. Only when the words are a question does the rise shorten the wait.
    let end_after = |transcript: &str, pause_rise: f32| {
        let mut sim = Sim::new(
            AgentConfig::default(),
            FakeEngines {
                score: 0.1,
                pause_rise,
                transcripts: vec![transcript.into()],
                ..engines()
            },
        );
        sim.run(&mut vad(), &audio("goforward.wav"), 6000);
        first_end_of_turn(&sim) - first_speech_end(&sim)
    };
    let question = ms(endpoint.question_wait_ms);
    let full = ms(endpoint.incomplete_wait_ms);
    assert_eq!(end_after("Go forward ten meters?", 0.9), question);
    assert_eq!(end_after("Go forward ten meters,", 0.9), full);
    assert_eq!(end_after("Go forward ten meters?", 0.3), full);
}

#[test]
fn held_replies_are_dropped_while_the_user_goes_on() {
    // jfk.wav pauses inside its sentences ("And so my fellow Americans, ..."): with an
    // "incomplete" score at every pause, each reply is held, then dropped when the speech resumes;
    // only the reply after the last pause is heard, to the whole sentence.
    let sim = jfk_scored_incomplete(AgentConfig::default());

    let abandoned: Vec<TurnId> = events(&sim)
        .into_iter()
        .filter_map(|(_, e)| match e {
            AgentEvent::ReplyAbandoned { turn, .. } => Some(turn),
            _ => None,
        })
        .collect();
    let generated: Vec<(TurnId, String)> = sim
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Generate { turn, user_text } => Some((*turn, user_text.clone())),
            _ => None,
        })
        .collect();
    assert!(generated.len() >= 2, "{generated:?}");
    let (last, last_text) = generated.last().unwrap().clone();
    let dropped: Vec<TurnId> = generated[..generated.len() - 1]
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(abandoned, dropped);
    for turn in &dropped {
        assert!(sim.cancelled.contains(turn));
        let played = sim.times_of(|o| matches!(o, Output::Play { turn: t, .. } if t == turn));
        assert!(played.is_empty(), "nothing of a dropped reply plays");
    }
    assert_eq!(generated[0].1, "and so my fellow americans");
    // Each pause's transcript was kept when the user went on, and later ones covered only the
    // speech after it: the words come out whole and once.
    assert_eq!(
        last_text,
        "and so my fellow americans ask not what your country can do for you \
         ask what you can do for your country"
    );
    let transcribed: Vec<usize> = sim
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Transcribe { audio, .. } => Some(audio.len()),
            _ => None,
        })
        .collect();
    let longest = transcribed.iter().max().copied().unwrap_or(0);
    assert!(
        longest < 16_000 * 4,
        "no transcription covers the whole 10 s: {transcribed:?}"
    );
    let ended: Vec<TurnId> = events(&sim)
        .into_iter()
        .filter_map(|(_, e)| match e {
            AgentEvent::EndOfTurn { turn, .. } => Some(turn),
            _ => None,
        })
        .collect();
    assert_eq!(ended, vec![last], "only the last turn ends");
    assert_eq!(
        assistant_texts(&sim),
        vec![("Sure, I will. Moving ten meters ahead now.".into(), false)]
    );
}

#[test]
fn a_long_turn_gets_a_backchannel_at_an_inner_pause_without_losing_the_floor() {
    // jfk.wav is one long sentence with inner pauses (near 2.3, 4.4 and 7.7 s), each scored
    // "incomplete": the listener says "mm-hm" once, at the first pause after 4 s of speech, and
    // stops it when the speaker goes on; the turn still ends once, after the whole sentence.
    let mut config = AgentConfig::default();
    config.turns.backchannel.enabled = true;
    let sim = jfk_scored_incomplete(config.clone());

    let said = sim.times_of(|o| matches!(o, Output::Backchannel { .. }));
    assert_eq!(said.len(), 1, "one backchannel in an 11 s turn: {said:?}");
    let at = said[0];
    let log = events(&sim);
    // Said in a pause: after a speech end, before the next speech start, after 4 s of speech.
    let (last_end, next_start) = (
        log.iter()
            .filter_map(|(t, e)| matches!(e, AgentEvent::UserSpeechEnd { .. }).then_some(*t))
            .filter(|t| *t <= at)
            .max()
            .expect("a pause before it"),
        log.iter()
            .filter_map(|(t, e)| matches!(e, AgentEvent::UserSpeechStart { .. }).then_some(*t))
            .find(|t| *t > at)
            .expect("the speaker went on"),
    );
    let first_start = log
        .iter()
        .find_map(|(_, e)| match e {
            AgentEvent::UserSpeechStart { at } => Some(*at),
            _ => None,
        })
        .expect("speech");
    assert!(
        last_end <= at && at < next_start,
        "{last_end} {at} {next_start}"
    );
    assert!(at - first_start >= ms(config.turns.backchannel.min_speech_ms));
    // Stopped when the speaker went on, at that very input position.
    let stops = sim.times_of(|o| matches!(o, Output::StopBackchannel));
    assert_eq!(stops.first(), Some(&next_start), "{stops:?}");
    // The turn ended once, after the whole sentence.
    let ends = log
        .iter()
        .filter(|(_, e)| matches!(e, AgentEvent::EndOfTurn { .. }))
        .count();
    assert_eq!(ends, 1);
    assert!(first_end_of_turn(&sim) > ms(10_000));

    // Off by default.
    let mut quiet = Sim::new(AgentConfig::default(), engines());
    quiet.run(&mut vad(), &audio("jfk.wav"), 6000);
    assert!(
        quiet
            .times_of(|o| matches!(o, Output::Backchannel { .. }))
            .is_empty()
    );
}
