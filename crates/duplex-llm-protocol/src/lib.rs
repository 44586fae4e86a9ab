//! The line-delimited JSON protocol between `duplex` and its LLM worker process `duplex-llm`.
//!
//! This crate is a dependency of both sides (`duplex` as `duplex::llm::protocol`, and the
//! `duplex-llm` worker), so the two can never disagree on a field. It depends on serde only (no
//! llama.cpp, no whisper), which is what lets it live on both sides of the process boundary.
//!
//! Each message is one JSON object on one line. The client writes [`Request`]s to the worker's
//! stdin; the worker writes [`Event`]s to its stdout. Every request carries an `id` chosen by the
//! client; every answer repeats it, so answers to a cancelled or abandoned request are recognised
//! and skipped.
//!
//! The worker is stateless as far as the protocol goes: each `generate` carries the whole
//! conversation, and the worker keeps its KV cache warm by reusing the longest cached prefix of
//! it (message by message, then token by token). Appending a user turn prefills only that turn;
//! cutting an interrupted assistant turn to the words that were heard truncates the cache back to
//! the cut; dropping the oldest turns shifts the cache instead of refilling it. No explicit
//! "truncate to position N" request is needed, and the two sides cannot drift apart.
//!
//! One worker serves one conversation, one request at a time, in the order they were sent. Its
//! client's ids increase, so a `cancel` of `id` also stops any earlier request still running or
//! queued.

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// One message of a conversation, as sent to the worker (or to an OpenAI-compatible server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text of the message, exactly as the model should see it.
    pub content: String,
}

/// How to pick tokens. The penalties look back over the conversation (the user's words and the
/// earlier replies), not only over the reply being written, so that they work against echoing
/// the user and repeating oneself. The names follow llama.cpp's server, which takes the same
/// fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sampling {
    /// Most tokens to generate for this reply.
    pub max_tokens: u32,
    /// Softmax temperature; `0` means greedy (deterministic).
    #[serde(deserialize_with = "finite_f32")]
    pub temperature: f32,
    /// Nucleus sampling threshold (ignored when greedy).
    #[serde(deserialize_with = "finite_f32")]
    pub top_p: f32,
    /// Penalty for repeating recent tokens; `1.0` disables it.
    #[serde(deserialize_with = "finite_f32")]
    pub repeat_penalty: f32,
    /// Tokens of the conversation the repetition penalties look back over.
    pub repeat_last_n: i32,
    /// Penalty growing with each repeat of a token (`0.0`: none).
    #[serde(deserialize_with = "finite_f32")]
    pub frequency_penalty: f32,
    /// Penalty for any repeat of a token (`0.0`: none).
    #[serde(deserialize_with = "finite_f32")]
    pub presence_penalty: f32,
    /// DRY ("don't repeat yourself") penalty on continuing a sequence already in the context
    /// (`0.0`: off).
    #[serde(deserialize_with = "finite_f32")]
    pub dry_multiplier: f32,
    /// How fast the DRY penalty grows with the repeated sequence's length.
    #[serde(deserialize_with = "finite_f32")]
    pub dry_base: f32,
    /// Repeated sequences up to this many tokens are not penalised by DRY.
    pub dry_allowed_length: i32,
    /// Tokens of the conversation DRY looks back over.
    pub dry_penalty_last_n: i32,
    /// Seed of the random sampler (ignored when greedy).
    pub seed: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            max_tokens: 96,
            temperature: 0.0,
            top_p: 1.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            dry_multiplier: 0.0,
            dry_base: 1.75,
            dry_allowed_length: 2,
            dry_penalty_last_n: 512,
            seed: 0,
        }
    }
}

/// Reads an `f32` that is finite. JSON has no infinity, but a number past `f32`'s range (`1e39`)
/// would become one, which [`to_line`] could not write back (`fuzz/`'s `llm_protocol` checks it).
fn finite_f32<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f32, D::Error> {
    let value = f32::deserialize(deserializer)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(
            "a number past the range of a 32-bit float",
        ))
    }
}

/// A request from the client to the worker (one line on the worker's stdin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Bring the KV cache in line with `messages` plus the assistant header, then stream a reply.
    Generate {
        /// Chosen by the client; repeated in every event of this reply.
        id: u64,
        /// The whole conversation, system prompt first.
        messages: Vec<WireMessage>,
        /// How to sample.
        sampling: Sampling,
    },
    /// Bring the KV cache in line with `messages` without generating (warm-up), then answer
    /// [`Event::Ready`].
    Prefill {
        /// Chosen by the client.
        id: u64,
        /// The conversation so far, system prompt first.
        messages: Vec<WireMessage>,
    },
    /// Stop the generation `id` before its next token. Handled as soon as it is read, even while
    /// a generation runs; a cancel for a request not yet started makes it stop at once.
    Cancel {
        /// The generation to stop.
        id: u64,
    },
    /// Empty the KV cache, then answer [`Event::Ready`].
    Reset {
        /// Chosen by the client.
        id: u64,
    },
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` or the context size was reached.
    Length,
    /// The client cancelled it.
    Cancelled,
}

/// Counters of one generation, measured inside the worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerStats {
    /// Tokens of the prompt (whole conversation plus assistant header).
    pub prompt_tokens: u32,
    /// Of those, tokens found in the KV cache and not computed again.
    pub cached_tokens: u32,
    /// Tokens shifted in the cache because older turns were dropped.
    pub shifted_tokens: u32,
    /// Tokens sampled and sent as [`Event::Token`] (the end-of-turn token is not counted).
    pub generated_tokens: u32,
    /// Milliseconds from reading the request to the first token being sent.
    pub first_token_ms: f64,
    /// Milliseconds spent bringing the KV cache in line with the prompt (prefill).
    pub prefill_ms: f64,
    /// Milliseconds from the first token to the end of generation.
    pub decode_ms: f64,
}

/// An event from the worker to the client (one line on the worker's stdout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Sent once, after the model is loaded and before any request is read.
    Loaded {
        /// The GGUF file.
        model: String,
        /// Context size in tokens.
        n_ctx: u32,
        /// Threads used to generate, token by token.
        threads: u32,
        /// Threads used to prefill prompts.
        threads_batch: u32,
        /// llama.cpp's (and its ggml's) system info: CPU features in use.
        system_info: String,
    },
    /// A piece of text of generation `id` (one sampled token; always whole UTF-8 characters).
    Token {
        /// The generation.
        id: u64,
        /// The text.
        text: String,
    },
    /// Generation `id` ended.
    Done {
        /// The generation.
        id: u64,
        /// Why it ended.
        reason: FinishReason,
        /// What it cost.
        stats: WorkerStats,
    },
    /// A prefill or reset `id` finished.
    Ready {
        /// The request.
        id: u64,
        /// Tokens now in the KV cache.
        n_past: u32,
        /// Tokens computed for this request.
        prefilled: u32,
        /// Milliseconds it took.
        ms: f64,
    },
    /// Request `id` failed (or, with no id, a line could not be understood). The worker goes on
    /// serving requests.
    Error {
        /// The request, when known.
        id: Option<u64>,
        /// What went wrong, for a person to read.
        message: String,
    },
}

/// Serializes one protocol value as a single line (with its newline).
pub fn to_line<T: Serialize>(value: &T) -> String {
    // These types contain only strings, numbers and enums: serialization cannot fail.
    let mut line = serde_json::to_string(value).unwrap_or_default();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_parses_with_defaults_and_round_trips() {
        let line = r#"{"op":"generate","id":3,"messages":[{"role":"user","content":"Hi"}],"sampling":{"max_tokens":8}}"#;
        let request: Request = serde_json::from_str(line).expect("a generate request");
        let Request::Generate {
            id,
            messages,
            sampling,
        } = &request
        else {
            panic!("parsed as {request:?}");
        };
        assert_eq!((*id, messages[0].content.as_str()), (3, "Hi"));
        // Sampling fields left out take their defaults.
        assert_eq!(
            *sampling,
            Sampling {
                max_tokens: 8,
                ..Sampling::default()
            }
        );
        let out = to_line(&request);
        assert_eq!(out.matches('\n').count(), 1, "one line: {out:?}");
        assert!(out.ends_with('\n'));
        assert_eq!(
            serde_json::from_str::<Request>(out.trim_end()).expect("parses"),
            request
        );
    }

    #[test]
    fn a_number_past_f32_range_is_refused_not_made_infinite() {
        // The `llm_protocol` fuzz target's round trip failed on this line: `1e39` parsed as an
        // infinite temperature, which `to_line` wrote as `null`, a line that no longer parses.
        let line = r#"{"op":"generate","id":3,"messages":[],"sampling":{"temperature":1e39}}"#;
        let err = serde_json::from_str::<Request>(line).unwrap_err();
        assert!(err.to_string().contains("32-bit float"), "{err}");
        let fine = line.replace("1e39", "3.4e38");
        let request: Request = serde_json::from_str(&fine).unwrap();
        assert_eq!(
            serde_json::from_str::<Request>(to_line(&request).trim_end()).unwrap(),
            request
        );
    }

    #[test]
    fn an_event_line_names_its_kind() {
        let line = to_line(&Event::Done {
            id: 9,
            reason: FinishReason::Cancelled,
            stats: WorkerStats::default(),
        });
        assert!(
            line.starts_with(r#"{"event":"done","id":9,"reason":"cancelled""#),
            "{line}"
        );
    }
}
