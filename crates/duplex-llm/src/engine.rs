//! The llama.cpp side of the worker: one model, one context, and a KV cache kept warm across
//! turns.
//!
//! The cache is described by a list of [`Segment`]s, one per ChatML message, each with its text
//! and the tokens that hold it in the KV cache (positions are cumulative). For every request the
//! engine lines the cache up with the requested conversation:
//!
//! 1. messages whose rendered text equals the cached segment at the same place are kept;
//! 2. if the next requested message is found further down the cache (the client dropped its
//!    oldest turns), the dropped span is removed and the rest shifted back (llama.cpp's context
//!    shift: RoPE positions are re-rotated, nothing is computed again);
//! 3. at the first real difference the longest common token prefix is kept (an interrupted reply
//!    cut to the words heard keeps the tokens up to the cut), the rest of the cache is removed,
//!    and only the new tokens are decoded.
//!
//! Generation then samples a token, sends it, decodes it, and checks for a cancel before the next
//! one: a cancel stops it within one token. After a finished reply (and after a prefill) the
//! reply's `<|im_end|>\n` and the next user header are decoded ahead, so the next turn computes
//! only the user's words and the assistant header.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use duplex_llm_protocol::{Event, FinishReason, Sampling, WireMessage, WorkerStats};

use crate::chatml;
use crate::grammar;
use crate::utf8::Utf8Stream;

/// The single sequence the worker uses.
const SEQ: i32 = 0;
/// Where a repeated sequence is broken for DRY (llama.cpp's defaults).
const DRY_BREAKERS: [&str; 4] = ["\n", ":", "\"", "*"];
/// Candidates kept before nucleus sampling.
const TOP_K: i32 = 40;

/// Why a request failed; sent to the client as an `error` event.
pub type EngineError = String;

/// One message's worth of KV cache.
#[derive(Debug)]
struct Segment {
    /// The rendered ChatML text (for an unfinished reply: header plus the text so far).
    text: String,
    /// The tokens in the cache for it, in order.
    tokens: Vec<LlamaToken>,
    /// Whether the message is closed (`<|im_end|>\n` included); only closed segments are
    /// matched whole.
    complete: bool,
}

/// What lining the cache up cost.
#[derive(Debug, Default)]
struct SyncStats {
    prompt: u32,
    cached: u32,
    shifted: u32,
    /// Batch index of the logits to sample from, when requested.
    logits_index: i32,
}

/// The model, its context and the description of its KV cache.
pub struct Engine<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    segments: Vec<Segment>,
    n_batch: usize,
    can_shift: bool,
}

impl<'m> Engine<'m> {
    /// Wraps a fresh context of `model`.
    pub fn new(model: &'m LlamaModel, ctx: LlamaContext<'m>, can_shift: bool) -> Self {
        let n_batch = ctx.n_batch().max(1) as usize;
        Self {
            model,
            ctx,
            segments: Vec::new(),
            n_batch,
            can_shift,
        }
    }

    /// Context size in tokens.
    pub fn n_ctx(&self) -> u32 {
        self.ctx.n_ctx()
    }

    /// Tokens currently in the KV cache.
    fn n_past(&self) -> usize {
        self.segments.iter().map(|s| s.tokens.len()).sum()
    }

    /// Position of the first token of segment `i`.
    fn pos(&self, i: usize) -> usize {
        self.segments[..i].iter().map(|s| s.tokens.len()).sum()
    }

    /// Runs a short batch and a single-token step once and forgets them, so that the first real
    /// request does not pay for first-use costs (buffer allocation, caches, page faults).
    pub fn warm_up(&mut self) -> Result<(), EngineError> {
        let model = self.model;
        let tokens =
            model
                .vocab()
                .tokenize(b"<|im_start|>user\nHello there<|im_end|>\n", false, true);
        let last = *tokens.last().ok_or("empty warm-up prompt")?;
        let result = self
            .decode(&tokens, 0, true)
            .and_then(|()| self.decode(&[last], tokens.len(), true));
        self.reset();
        result
    }

    /// Empties the KV cache.
    pub fn reset(&mut self) {
        self.ctx.clear_kv_cache();
        self.segments.clear();
    }

    /// Tokenizes one segment: special tokens only in the ChatML frame, never in the content, so
    /// a user who says "<|im_end|>" cannot close their own message.
    fn tokenize(&self, role: &str, content: &str, complete: bool, first: bool) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let mut tokens = Vec::new();
        if first && vocab.should_add_bos() {
            tokens.push(vocab.bos());
        }
        tokens.extend(vocab.tokenize(chatml::header(role).as_bytes(), false, true));
        tokens.extend(vocab.tokenize(content.as_bytes(), false, false));
        if complete {
            tokens.extend(vocab.tokenize(chatml::TRAILER.as_bytes(), false, true));
        }
        tokens
    }

    /// Prefills the cache with `messages` (no generation). Returns (tokens in cache, tokens
    /// computed).
    pub fn prefill(&mut self, messages: &[WireMessage]) -> Result<(u32, u32), EngineError> {
        let sync = self.sync(messages, false)?;
        self.speculate_user_header()?;
        Ok((sync.prompt, sync.prompt - sync.cached))
    }

    /// After a system prompt or a finished reply, the next message is almost surely the user's:
    /// decode its header (`<|im_start|>user\n`, 3 tokens) now, off the critical path, so that
    /// the next turn prefills only its words. If the guess is wrong, the token-level match of
    /// [`Self::sync`] simply drops it.
    fn speculate_user_header(&mut self) -> Result<(), EngineError> {
        let user = chatml::header("user");
        match self.segments.last() {
            Some(last) if last.complete && !last.text.starts_with(&user) => {}
            _ => return Ok(()),
        }
        let model = self.model;
        let tokens = model.vocab().tokenize(user.as_bytes(), false, true);
        let start = self.n_past();
        if start + tokens.len() >= self.n_ctx() as usize {
            return Ok(());
        }
        if let Err(e) = self.decode(&tokens, start, false) {
            self.reset();
            return Err(e);
        }
        self.segments.push(Segment {
            text: user,
            tokens,
            complete: false,
        });
        Ok(())
    }

    /// Lines the cache up with `messages` (plus the assistant header when `generate`).
    fn sync(&mut self, messages: &[WireMessage], generate: bool) -> Result<SyncStats, EngineError> {
        for m in messages {
            if !chatml::valid_role(&m.role) {
                return Err(format!(
                    "unknown role {:?} (use system, user or assistant)",
                    m.role
                ));
            }
        }
        // (role, content, complete, text) of every wanted segment.
        let mut wanted: Vec<(&str, &str, bool, String)> = messages
            .iter()
            .map(|m| (m.role.as_str(), m.content.as_str(), true, chatml::render(m)))
            .collect();
        if generate {
            wanted.push(("assistant", "", false, chatml::ASSISTANT_HEADER.to_owned()));
        }
        let mut stats = SyncStats::default();

        // 1 and 2: keep equal segments; shift over dropped ones.
        let mut k = 0;
        loop {
            while k < wanted.len()
                && k < self.segments.len()
                && self.segments[k].complete
                && self.segments[k].text == wanted[k].3
            {
                k += 1;
            }
            if !self.can_shift || k >= wanted.len() || k >= self.segments.len() {
                break;
            }
            let Some(j) = (k + 1..self.segments.len())
                .find(|&j| self.segments[j].complete && self.segments[j].text == wanted[k].3)
            else {
                break;
            };
            let (p0, p1) = (self.pos(k), self.pos(j));
            let end = self.n_past();
            self.kv_rm(p0, Some(p1))?;
            let delta = i32::try_from(p1 - p0).map_err(|e| e.to_string())?;
            self.ctx
                .kv_cache_seq_add(SEQ, Some(p1 as u32), None, -delta)
                .map_err(|e| format!("KV cache shift failed: {e}"))?;
            self.segments.drain(k..j);
            stats.shifted += (end - p1) as u32;
        }

        // 3: the first difference, token by token, then everything after it is new.
        let mut pending: Vec<LlamaToken> = Vec::new();
        let mut keep = 0;
        let cut_segment = k.min(self.segments.len());
        let mut new_segments = Vec::new();
        for (i, (role, content, complete, text)) in wanted.iter().enumerate().skip(k) {
            let tokens = self.tokenize(role, content, *complete, i == 0);
            if i == k
                && let Some(old) = self.segments.get(k)
            {
                keep = old
                    .tokens
                    .iter()
                    .zip(&tokens)
                    .take_while(|(a, b)| a == b)
                    .count();
            }
            pending.extend_from_slice(&tokens[if i == k { keep } else { 0 }..]);
            new_segments.push(Segment {
                text: text.clone(),
                tokens,
                complete: *complete,
            });
        }
        let cut = self.pos(cut_segment) + keep;
        self.segments.truncate(k);
        self.kv_rm(cut, None)?;
        let mut n_past = cut;
        self.segments.extend(new_segments);

        // Sampling needs the logits of the last prompt token: decode it again if it is cached.
        if generate && pending.is_empty() {
            let last = self
                .segments
                .iter()
                .rev()
                .find_map(|s| s.tokens.last().copied())
                .ok_or("empty prompt")?;
            n_past -= 1;
            self.kv_rm(n_past, None)?;
            pending.push(last);
        }
        let total = n_past + pending.len();
        let n_ctx = self.n_ctx() as usize;
        if total + usize::from(generate) > n_ctx {
            self.reset();
            return Err(format!(
                "the prompt needs {total} tokens but the context holds {n_ctx}: lower \
                 llm.history_budget_tokens or raise llm.embedded.n_ctx"
            ));
        }
        stats.prompt = total as u32;
        stats.cached = n_past as u32;
        if let Err(e) = self.decode(&pending, n_past, generate) {
            self.reset();
            return Err(e);
        }
        stats.logits_index = (pending.len().saturating_sub(1) % self.n_batch) as i32;
        Ok(stats)
    }

    /// Removes cache positions `[from, to)` (to the end when `to` is `None`).
    fn kv_rm(&mut self, from: usize, to: Option<usize>) -> Result<(), EngineError> {
        self.ctx
            .kv_cache_seq_rm(SEQ, Some(from as u32), to.map(|t| t as u32))
            .map_err(|e| format!("KV cache removal failed: {e}"))
    }

    /// Decodes `tokens` at positions from `start`, in batches; the very last one gets logits
    /// when `logits` is set.
    fn decode(&mut self, tokens: &[LlamaToken], start: usize, logits: bool) -> Result<(), String> {
        let mut batch = LlamaBatch::new(self.n_batch, 1);
        for (c, chunk) in tokens.chunks(self.n_batch).enumerate() {
            batch.clear();
            let last_chunk = (c + 1) * self.n_batch >= tokens.len();
            for (i, &t) in chunk.iter().enumerate() {
                let pos = (start + c * self.n_batch + i) as i32;
                let want = logits && last_chunk && i + 1 == chunk.len();
                batch.add(t, pos, &[SEQ], want).map_err(|e| e.to_string())?;
            }
            self.ctx
                .decode(&mut batch)
                .map_err(|e| format!("llama_decode failed: {e}"))?;
        }
        Ok(())
    }

    /// Streams a reply to `messages` through `emit`, stopping before the next token once
    /// `cancelled` holds an id at least `id`.
    pub fn generate(
        &mut self,
        id: u64,
        messages: &[WireMessage],
        sampling: &Sampling,
        received: Instant,
        cancelled: &AtomicU64,
        emit: &mut dyn FnMut(Event),
    ) -> Result<(), EngineError> {
        let sync = self.sync(messages, true)?;
        let prefill_done = Instant::now();
        let mut stats = WorkerStats {
            prompt_tokens: sync.prompt,
            cached_tokens: sync.cached,
            shifted_tokens: sync.shifted,
            prefill_ms: ms(prefill_done - received),
            ..WorkerStats::default()
        };
        let mut sampler = self.sampler(sampling);
        let model = self.model;
        // Tools listed in the system prompt: once the reply opens a call, it is held to their
        // schemas (and sampled greedily: a call's arguments are no place for variety).
        let mut call_grammar = messages
            .first()
            .filter(|m| m.role == "system")
            .map(|m| grammar::tools_in_prompt(&m.content))
            .filter(|tools| !tools.is_empty())
            .map(|tools| grammar::tool_call_grammar(&tools));
        let vocab = model.vocab();
        // The penalties look back over the conversation (the turns after the system prompt),
        // without its ChatML framing: penalising `<|im_end|>` would keep a reply from ending.
        let framing = vocab.tokenize(b"<|im_start|>", false, true);
        let history = self.segments.iter().skip(1).flat_map(|s| s.tokens.iter());
        sampler.accept_many(history.filter(|t| !vocab.is_eog(**t) && !framing.contains(*t)));
        let mut index = sync.logits_index;
        let mut utf8 = Utf8Stream::default();
        let mut first_token: Option<Instant> = None;
        let n_ctx = self.n_ctx() as usize;
        let mut batch = LlamaBatch::new(1, 1);
        let reason = loop {
            if cancelled.load(Ordering::Acquire) >= id {
                break FinishReason::Cancelled;
            }
            if stats.generated_tokens >= sampling.max_tokens || self.n_past() >= n_ctx {
                break FinishReason::Length;
            }
            let token = sampler.sample(&self.ctx, index);
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            let text = utf8.push(&grammar::visible_piece(&vocab, token));
            stats.generated_tokens += 1;
            let reply = self.segments.last_mut().ok_or("no reply segment")?;
            reply.text.push_str(&text);
            // A call opens with its tag, or (small models) as a reply that begins with `{`.
            let tagged = reply.text.ends_with(grammar::CALL_OPEN);
            let bare =
                reply.text.trim_start().len() == text.len() && grammar::opens_bare_call(&text);
            if call_grammar.is_some() && (tagged || bare) {
                let rules = call_grammar.take().unwrap_or_default();
                // A grammar llama.cpp refuses leaves the call unconstrained (and checked later).
                if let Ok(mut constrained) = LlamaSampler::grammar(model, &rules, "root") {
                    if bare {
                        // The grammar starts at the `{` this token already wrote.
                        constrained.accept(token);
                    }
                    sampler = LlamaSampler::chain_simple([constrained, LlamaSampler::greedy()]);
                }
            }
            if !text.is_empty() {
                emit(Event::Token { id, text });
            }
            if first_token.is_none() {
                first_token = Some(Instant::now());
                stats.first_token_ms = ms(Instant::now() - received);
            }
            let pos = self.n_past();
            batch.clear();
            batch
                .add(token, pos as i32, &[SEQ], true)
                .map_err(|e| e.to_string())?;
            if let Err(e) = self.ctx.decode(&mut batch) {
                self.reset();
                return Err(format!("llama_decode failed: {e}"));
            }
            self.segments
                .last_mut()
                .ok_or("no reply segment")?
                .tokens
                .push(token);
            index = 0;
        };
        let rest = utf8.finish();
        if !rest.is_empty() {
            self.segments
                .last_mut()
                .ok_or("no reply segment")?
                .text
                .push_str(&rest);
            emit(Event::Token { id, text: rest });
        }
        if let Some(t) = first_token {
            stats.decode_ms = ms(Instant::now() - t);
        }
        emit(Event::Done { id, reason, stats });
        if reason == FinishReason::Stop {
            self.close_reply()?;
        }
        Ok(())
    }

    /// Closes a finished reply in the cache with `<|im_end|>\n`, as the next prompt will show it
    /// (done after the `done` event, off the critical path).
    fn close_reply(&mut self) -> Result<(), EngineError> {
        let trailer = self
            .model
            .vocab()
            .tokenize(chatml::TRAILER.as_bytes(), false, true);
        let start = self.n_past();
        if start + trailer.len() > self.n_ctx() as usize {
            return Ok(());
        }
        if let Err(e) = self.decode(&trailer, start, false) {
            self.reset();
            return Err(e);
        }
        let reply = self.segments.last_mut().ok_or("no reply segment")?;
        reply.text.push_str(chatml::TRAILER);
        reply.tokens.extend(trailer);
        reply.complete = true;
        self.speculate_user_header()
    }

    /// The sampler chain for one reply: repetition penalties and DRY over the conversation,
    /// then greedy or seeded sampling.
    fn sampler(&self, s: &Sampling) -> LlamaSampler {
        let mut chain = Vec::new();
        let penalised = (s.repeat_penalty - 1.0).abs() > f32::EPSILON
            || s.frequency_penalty != 0.0
            || s.presence_penalty != 0.0;
        if penalised && s.repeat_last_n > 0 {
            chain.push(LlamaSampler::penalties(
                self.model.n_vocab(),
                s.repeat_last_n,
                s.repeat_penalty,
                s.frequency_penalty,
                s.presence_penalty,
            ));
        }
        if s.dry_multiplier > 0.0 {
            chain.push(LlamaSampler::dry(
                self.model,
                s.dry_multiplier,
                s.dry_base,
                s.dry_allowed_length,
                s.dry_penalty_last_n,
                DRY_BREAKERS,
            ));
        }
        if s.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.push(LlamaSampler::top_k(TOP_K));
            chain.push(LlamaSampler::top_p(s.top_p, 1));
            chain.push(LlamaSampler::temp(s.temperature));
            chain.push(LlamaSampler::dist(s.seed));
        }
        LlamaSampler::chain_simple(chain)
    }
}

/// A context size for llama.cpp's parameters.
pub fn n_ctx_param(n_ctx: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n_ctx)
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
