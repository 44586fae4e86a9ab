//! A reply prepared on a pause's transcript before the turn ended, then dropped because the
//! user went on, leaves the language model's history as if it had never been started: the next
//! prompt holds the user's whole utterance once and no trace of the dropped reply. The runtime
//! with fake speech engines and the real turn manager and memory over a recording backend.

#[path = "support/fake_vad.rs"]
mod fake_vad;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use duplex::agent::AgentEvent;
use duplex::cancel::CancelToken;
use duplex::config::Config;
use duplex::llm::{
    ChatMessage, Conversation, EventSource, Finish, FinishReason, LlmBackend, LlmError, LlmEvent,
    Sampling, TokenStream, TurnManager,
};
use duplex::runtime::{EngineError, Engines, SessionEventKind, Speak, Transcribe};
use duplex::transport::file::{OUTPUT_RATE, Pace, converse};
use duplex::turn::{TurnError, TurnScorer};
use fake_vad::LoudIsSpeech;

/// The words in the audio: the first phrase is a tone at 0.3, the second one at 0.5.
struct TwoPhrases;
impl Transcribe for TwoPhrases {
    fn transcribe(&mut self, audio: &[f32], _: &CancelToken) -> Result<String, EngineError> {
        let peaks: Vec<f32> = audio
            .chunks(320)
            .map(|f| f.iter().fold(0.0f32, |m, s| m.max(s.abs())))
            .collect();
        let mut words = Vec::new();
        if peaks.iter().any(|p| (0.25..0.35).contains(p)) {
            words.push("I was thinking");
        }
        if peaks.iter().any(|p| *p > 0.45) {
            words.push("about the weekend");
        }
        Ok(words.join(" "))
    }
}

/// Every pause sounds unfinished: each reply is prepared and held for the longer wait.
struct Unfinished;
impl TurnScorer for Unfinished {
    fn score(&mut self, _: &[f32]) -> Result<f32, TurnError> {
        Ok(0.1)
    }
}

/// A backend that records every prompt and answers with one sentence.
struct Recording(Arc<Mutex<Vec<Vec<ChatMessage>>>>);

struct OneSentence(Vec<&'static str>);
impl EventSource for OneSentence {
    fn next_event(&mut self) -> Result<LlmEvent, LlmError> {
        if self.0.is_empty() {
            return Ok(LlmEvent::Done(Finish {
                reason: FinishReason::Stop,
                delivered_tokens: 3,
                worker: None,
            }));
        }
        Ok(LlmEvent::Token(self.0.remove(0).to_owned()))
    }
}

impl LlmBackend for Recording {
    fn describe(&self) -> String {
        "recording test backend".into()
    }
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        _: &Sampling,
        _: &CancelToken,
    ) -> Result<TokenStream<'_>, LlmError> {
        self.0.lock().unwrap().push(messages.to_vec());
        Ok(TokenStream::new(OneSentence(vec!["Tell", " me", " more."])))
    }
}

struct Hum;
impl Speak for Hum {
    fn rate(&self) -> u32 {
        OUTPUT_RATE
    }
    fn speak(&mut self, text: &str, _: &CancelToken) -> Result<Vec<f32>, EngineError> {
        Ok(vec![0.2; text.len() * 1_000])
    }
}

fn tone(seconds: f32, level: f32) -> Vec<f32> {
    (0..(16_000.0 * seconds) as usize)
        .map(|i| level * (i as f32 * 0.05).sin())
        .collect()
}

#[test]
fn a_dropped_speculative_reply_leaves_no_trace_in_the_history() {
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let llm = TurnManager::new(
        Box::new(Recording(prompts.clone())),
        Conversation::new("You are a test.", 4_000),
        Sampling::default(),
    );
    let engines = Engines {
        vad: Box::new(LoudIsSpeech),
        asr: Box::new(TwoPhrases),
        turn: Box::new(Unfinished),
        llm: Box::new(llm),
        tts: Box::new(Hum),
    };
    // A phrase, a 600 ms pause (long enough to be transcribed and answered, shorter than the
    // 1.2 s an unfinished turn waits for), the rest of the sentence, then silence.
    let mut input = tone(1.0, 0.3);
    input.extend(vec![0.0; 16_000 * 6 / 10]);
    input.extend(tone(1.2, 0.5));
    input.extend(vec![0.0; 16_000 * 4]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let config = Config::default().agent_config();
        let _ = tx.send(converse(config, engines, &input, Pace::Fast));
    });
    let conversation = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the conversation ends");

    let agent_events: Vec<&AgentEvent> = conversation
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Agent(a) => Some(a),
            _ => None,
        })
        .collect();
    let abandoned = agent_events
        .iter()
        .filter(|e| matches!(e, AgentEvent::ReplyAbandoned { .. }))
        .count();
    assert_eq!(
        abandoned, 1,
        "the reply to the first phrase was prepared, then dropped"
    );

    let prompts = prompts.lock().unwrap();
    assert_eq!(prompts.len(), 2, "{prompts:#?}");
    let user = |m: &[ChatMessage]| -> Vec<String> {
        m.iter()
            .filter(|m| m.role == "user")
            .map(|m| m.content.clone())
            .collect()
    };
    assert_eq!(user(&prompts[0]), ["I was thinking"]);
    // The second prompt: the whole utterance once, and nothing of the dropped reply.
    assert_eq!(user(&prompts[1]), ["I was thinking about the weekend"]);
    assert!(
        prompts[1].iter().all(|m| m.role != "assistant"),
        "{:#?}",
        prompts[1]
    );
    let heard: Vec<&String> = agent_events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::AssistantText { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(heard, ["Tell me more."]);
}
