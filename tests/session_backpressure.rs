//! The runtime with fake engines (no model is loaded): a reply of 1,000 one-word sentences
//! floods the results channel with tokens while every sentence becomes a synthesis job. The
//! session used to await a full job queue while the voice worker waited on the full results
//! channel that only the session drains: a deadlock. Now jobs wait in the session's outbox, and
//! the whole reply is generated, spoken and heard.

#[path = "support/fake_vad.rs"]
mod fake_vad;

use std::time::Duration;

use duplex::agent::AgentEvent;
use duplex::cancel::CancelToken;
use duplex::config::Config;
use duplex::runtime::{EngineError, Engines, Respond, SessionEventKind, Speak, Transcribe};
use duplex::transport::file::{Pace, converse};
use duplex::turn::{TurnError, TurnScorer};
use fake_vad::LoudIsSpeech;

const SENTENCES: usize = 1_000;

struct Words;
impl Transcribe for Words {
    fn transcribe(&mut self, _: &[f32], _: &CancelToken) -> Result<String, EngineError> {
        Ok("tell me a long story".into())
    }
}

struct Finished;
impl TurnScorer for Finished {
    fn score(&mut self, _: &[f32]) -> Result<f32, TurnError> {
        Ok(0.9)
    }
}

/// Streams as fast as it can.
struct Flood;
impl Respond for Flood {
    fn respond(
        &mut self,
        _: &str,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        for _ in 0..SENTENCES {
            if cancel.is_cancelled() {
                break;
            }
            on_token("Yes. ");
        }
        Ok(())
    }
    fn heard(&mut self, _: &str, _: bool, _: &[String]) {}
    fn retract(&mut self) {}
}

/// 4 ms of sound per sentence (at the file transport's rate), slowly enough that the job
/// queue fills.
struct SlowVoice;
impl Speak for SlowVoice {
    fn rate(&self) -> u32 {
        duplex::transport::file::OUTPUT_RATE
    }
    fn speak(&mut self, _: &str, _: &CancelToken) -> Result<Vec<f32>, EngineError> {
        std::thread::sleep(Duration::from_micros(200));
        Ok(vec![0.2; 80])
    }
}

#[test]
fn a_flood_of_tokens_and_sentences_does_not_deadlock_the_session() {
    let engines = Engines {
        vad: Box::new(LoudIsSpeech),
        asr: Box::new(Words),
        turn: Box::new(Finished),
        llm: Box::new(Flood),
        tts: Box::new(SlowVoice),
    };
    let mut input: Vec<f32> = (0..16_000).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    input.resize(16_000 * 3, 0.0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let conversation = converse(
            Config::default().agent_config(),
            engines,
            &input,
            Pace::Fast,
        );
        let _ = tx.send(conversation);
    });
    let conversation = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the conversation ends (no deadlock)");
    let heard = conversation.events.iter().find_map(|e| match &e.kind {
        SessionEventKind::Agent(AgentEvent::AssistantText {
            text, interrupted, ..
        }) => Some((text.clone(), *interrupted)),
        _ => None,
    });
    let (text, interrupted) = heard.expect("the reply finished");
    assert!(!interrupted);
    assert_eq!(text.split_whitespace().count(), SENTENCES);
}
