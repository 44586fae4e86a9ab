//! The conversation core: a sans-IO state machine that decides when the user has finished, asks
//! for a reply, streams it out, and yields the floor when interrupted.
//!
//! It never reads a clock, starts a thread or touches a device: the caller feeds it
//! [`Input`]s stamped with the input sample position (`now`, 16 kHz) and carries out the
//! [`Output`]s it returns from [`Agent::poll`]. Results of engines come back as inputs tagged with
//! the id of the request or turn that asked for them; stale ones are dropped. A reply may call
//! tools ([`Output::RunTool`]); what an interruption does to a call is in `tool_calls`.

mod backchannel;
mod barge;
mod core;
mod endpoint;
mod io;
mod playout;
mod said;
mod tool_calls;

pub use backchannel::BackchannelConfig;
pub use core::Agent;
pub use endpoint::{EndpointConfig, PauseEvidence};
pub use io::{AgentEvent, Input, Output, OverlapDecision, RequestId, TurnId};
pub use playout::{PlayedChunk, Playout};
pub use tool_calls::{
    ACKNOWLEDGEMENT, MAX_ROUNDS, SLOW_CALL_MS, TIMEOUT_APOLOGY, ToolCall, ToolCallId, ToolOutcome,
    ToolResult,
};

use serde::{Deserialize, Serialize};

use crate::text::ChunkerConfig;
use crate::vad::VadConfig;

/// A source of speakable chunks from streamed LLM text (the sentence chunker).
pub trait ChunkText: Send {
    /// Appends streamed text; returns the chunks that became speakable.
    fn push(&mut self, text: &str) -> Vec<String>;
    /// The stream ended: returns whatever is left.
    fn finish(&mut self) -> Vec<String>;
}

/// The simplest [`ChunkText`]: a chunk at each sentence end ('.', '?', '!'), at once, with no
/// lookahead. Turn-taking tests use it so that chunk timing follows the tokens exactly; the
/// runtime uses the streaming [`crate::text::SentenceChunker`].
#[derive(Debug, Default)]
pub struct SentenceEnds(String);

impl ChunkText for SentenceEnds {
    fn push(&mut self, text: &str) -> Vec<String> {
        self.0.push_str(text);
        if self.0.trim_end().ends_with(['.', '?', '!']) {
            vec![std::mem::take(&mut self.0).trim().to_owned()]
        } else {
            Vec::new()
        }
    }

    fn finish(&mut self) -> Vec<String> {
        let rest = std::mem::take(&mut self.0).trim().to_owned();
        if rest.is_empty() {
            Vec::new()
        } else {
            vec![rest]
        }
    }
}

/// Everything the conversation core needs: its own turn-taking settings and the two sections
/// of other stages it applies (built by the caller from the configuration's tables).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentConfig {
    /// Speech detection thresholds (the core runs the segmenter on VAD probabilities): the
    /// configuration's `[vad]` table.
    pub vad: VadConfig,
    /// How replies are cut into chunks for the voice: the `[tts.chunker]` table.
    pub chunker: ChunkerConfig,
    /// Turn-taking: the `[agent]` table.
    pub turns: TurnTaking,
    /// Whether the model gets a note of how the user spoke (non-verbal cues) beside their
    /// words: the reply's request waits for the answer to [`Output::DescribeCues`] and carries
    /// its note. `[llm] cue_notes`.
    pub cue_notes: bool,
}

/// The core's own settings, the configuration's `[agent]` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TurnTaking {
    /// When a pause ends the user's turn.
    pub endpoint: EndpointConfig,
    /// Speech over the agent's voice that lasts this long (voiced) interrupts it whatever its
    /// words; shorter speech is judged by its transcript (a backchannel lets the reply go on).
    /// Playback pauses at the first voiced moment either way.
    pub interrupt_after_ms: u32,
    /// Audio kept before the detected speech start, so the first syllable is not clipped.
    pub preroll_ms: u32,
    /// Longest user utterance kept for transcription; older audio is dropped from the front.
    pub max_utterance_s: u32,
    /// Short listener sounds during a long user turn.
    pub backchannel: BackchannelConfig,
}

impl Default for TurnTaking {
    fn default() -> Self {
        Self {
            endpoint: EndpointConfig::default(),
            interrupt_after_ms: 2000,
            preroll_ms: 100,
            max_utterance_s: 30,
            backchannel: BackchannelConfig::default(),
        }
    }
}

/// Converts milliseconds to samples at 16 kHz.
pub const fn ms(ms: u32) -> u64 {
    ms as u64 * 16
}
