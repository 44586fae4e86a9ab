//! The llama.cpp side of the worker: one model, one context, and one KV cache per sequence
//! (conversation slot), kept warm across turns.
//!
//! The context holds `n_seq_max` sequences in separate KV streams (llama.cpp's non-unified
//! cache), each of the `--n-ctx` tokens a single conversation had before there were several: a
//! sequence's cells, positions and attention are its own, so a reply comes out the same whether
//! or not another sequence generates beside it. What each sequence's cache holds is described by
//! a [`SequenceCache`] (see `sequence.rs` for how it is lined up with a prompt).
//!
//! The engine decodes two kinds of batches: a prompt chunk of one sequence
//! ([`Engine::decode_feed`]), and a step of every running reply, one token per sequence, all in
//! one `llama_decode` ([`Engine::decode_step`]). When to decode what is the scheduler's business
//! (`scheduler.rs`).

use std::num::NonZeroU32;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use super::sequence::{LineUp, SequenceCache};
use crate::protocol::WireMessage;

/// Prompt tokens decoded per `llama_decode` when several sequences share the worker: a long
/// prompt is fed in chunks of this size between the steps of the replies running beside it, so
/// it never holds their tokens back for long. (With one sequence, prompts go in whole batches,
/// as they always did.) A multiple of 4, as ggml's repacked matrix kernels take rows by four.
pub const PREFILL_CHUNK: usize = 64;

/// Why a request failed; sent to the client as an `error` event.
pub type EngineError = String;

/// Tokens to decode into one sequence, from a position on; decoded chunk by chunk.
#[derive(Debug)]
pub struct Feed {
    tokens: Vec<LlamaToken>,
    /// Position of `tokens[0]`.
    start: usize,
    /// Tokens decoded so far.
    done: usize,
    /// Whether the last token needs logits (a reply is sampled from them).
    logits: bool,
}

impl Feed {
    /// `tokens` at positions from `start`.
    pub fn new(tokens: Vec<LlamaToken>, start: usize, logits: bool) -> Self {
        Self {
            tokens,
            start,
            done: 0,
            logits,
        }
    }

    /// Whether every token has been decoded.
    pub fn is_done(&self) -> bool {
        self.done >= self.tokens.len()
    }

    /// Position of the next token to decode: the cache is whole up to here.
    pub fn decoded_to(&self) -> usize {
        self.start + self.done
    }
}

/// One token of a running reply, to decode in the next step.
#[derive(Debug, Clone, Copy)]
pub struct StepToken {
    /// The sequence.
    pub seq: usize,
    /// The sampled token.
    pub token: LlamaToken,
    /// Its position in the sequence.
    pub pos: usize,
}

/// The model, its context and the description of each sequence's KV cache.
pub struct Engine<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    sequences: Vec<SequenceCache>,
    n_batch: usize,
    /// Context size of each sequence.
    n_ctx: usize,
    can_shift: bool,
}

impl<'m> Engine<'m> {
    /// Wraps a fresh context of `model` made for `n_seq` sequences.
    pub fn new(model: &'m LlamaModel, ctx: LlamaContext<'m>, n_seq: u32, can_shift: bool) -> Self {
        let n_batch = ctx.n_batch().max(1) as usize;
        let n_seq = n_seq.max(1);
        let n_ctx = (ctx.n_ctx() / n_seq) as usize;
        Self {
            model,
            ctx,
            sequences: (0..n_seq as i32).map(SequenceCache::new).collect(),
            n_batch,
            n_ctx,
            can_shift,
        }
    }

    /// The model.
    pub fn model(&self) -> &'m LlamaModel {
        self.model
    }

    /// Context size of each sequence, in tokens.
    pub fn n_ctx(&self) -> u32 {
        self.n_ctx as u32
    }

    /// How many sequences the context holds.
    pub fn n_sequences(&self) -> usize {
        self.sequences.len()
    }

    /// Most prompt tokens to decode in one go (see [`PREFILL_CHUNK`]).
    pub fn feed_chunk(&self) -> usize {
        if self.sequences.len() > 1 {
            PREFILL_CHUNK.min(self.n_batch)
        } else {
            self.n_batch
        }
    }

    /// The description of sequence `seq`'s cache.
    pub fn sequence(&self, seq: usize) -> &SequenceCache {
        &self.sequences[seq]
    }

    /// The description of sequence `seq`'s cache, to change it.
    pub fn sequence_mut(&mut self, seq: usize) -> &mut SequenceCache {
        &mut self.sequences[seq]
    }

    /// Runs a short batch and a single-token step once (and, with several sequences, a step of
    /// all of them) and forgets them, so that the first real request does not pay for first-use
    /// costs (buffer allocation, caches, page faults).
    pub fn warm_up(&mut self) -> Result<(), EngineError> {
        let model = self.model;
        let tokens =
            model
                .vocab()
                .tokenize(b"<|im_start|>user\nHello there<|im_end|>\n", false, true);
        let last = *tokens.last().ok_or("empty warm-up prompt")?;
        let mut result = self
            .decode_feed(0, &mut Feed::new(tokens.clone(), 0, true), usize::MAX)
            .and_then(|_| self.decode_feed(0, &mut Feed::new(vec![last], tokens.len(), true), 1))
            .map(|_| ());
        if result.is_ok() && self.sequences.len() > 1 {
            let pos = tokens.len() + 1;
            let step: Vec<StepToken> = (0..self.sequences.len())
                .map(|seq| StepToken {
                    seq,
                    token: last,
                    pos: if seq == 0 { pos } else { 0 },
                })
                .collect();
            result = self.decode_step(&step);
        }
        self.ctx.clear_kv_cache();
        for sequence in &mut self.sequences {
            sequence.clear(&mut self.ctx);
        }
        result
    }

    /// Empties sequence `seq`'s KV cache.
    pub fn reset(&mut self, seq: usize) {
        self.sequences[seq].clear(&mut self.ctx);
    }

    /// Keeps only the first `n` tokens of sequence `seq`.
    pub fn truncate(&mut self, seq: usize, n: usize) -> Result<(), EngineError> {
        self.sequences[seq].truncate(&mut self.ctx, n)
    }

    /// Lines sequence `seq`'s cache up with `messages` (plus the assistant header when
    /// `generate`); returns what is left to decode.
    pub fn line_up(
        &mut self,
        seq: usize,
        messages: &[WireMessage],
        generate: bool,
    ) -> Result<LineUp, EngineError> {
        let (n_ctx, can_shift) = (self.n_ctx, self.can_shift);
        self.sequences[seq].line_up(
            &mut self.ctx,
            self.model,
            n_ctx,
            can_shift,
            messages,
            generate,
        )
    }

    /// Decodes the next chunk of `feed` (at most `max` tokens and one batch) into sequence `seq`.
    /// Returns the batch index of the logits when the chunk ended the feed and asked for them.
    pub fn decode_feed(
        &mut self,
        seq: usize,
        feed: &mut Feed,
        max: usize,
    ) -> Result<Option<i32>, EngineError> {
        let n = (feed.tokens.len() - feed.done).min(max).min(self.n_batch);
        let chunk = &feed.tokens[feed.done..feed.done + n];
        let last = feed.done + n == feed.tokens.len();
        let mut batch = LlamaBatch::new(n.max(1), 1);
        for (i, &token) in chunk.iter().enumerate() {
            let pos = (feed.start + feed.done + i) as i32;
            let logits = feed.logits && last && i + 1 == n;
            batch
                .add(token, pos, &[seq as i32], logits)
                .map_err(|e| e.to_string())?;
        }
        if n > 0 {
            self.ctx
                .decode(&mut batch)
                .map_err(|e| format!("llama_decode failed: {e}"))?;
        }
        feed.done += n;
        Ok((feed.logits && last && n > 0).then(|| n as i32 - 1))
    }

    /// Decodes one token of each running reply in a single batch, every one with logits: the
    /// logits of `step[i]` are at batch index `i`. The tokens must be in sequence order: llama.cpp
    /// computes the KV streams of consecutive sequence ids in one pass (replies on sequences 0
    /// and 2 alone, with 1 idle, take two passes of one token each).
    pub fn decode_step(&mut self, step: &[StepToken]) -> Result<(), EngineError> {
        let mut batch = LlamaBatch::new(step.len().max(1), 1);
        for t in step {
            batch
                .add(t.token, t.pos as i32, &[t.seq as i32], true)
                .map_err(|e| e.to_string())?;
        }
        self.ctx
            .decode(&mut batch)
            .map_err(|e| format!("llama_decode failed: {e}"))
    }

    /// Samples a token with `sampler` from the logits at batch index `index` of the latest
    /// decode.
    pub fn sample(&self, sampler: &mut LlamaSampler, index: i32) -> LlamaToken {
        sampler.sample(&self.ctx, index)
    }
}

/// A context size for llama.cpp's parameters.
pub fn n_ctx_param(n_ctx: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n_ctx)
}
