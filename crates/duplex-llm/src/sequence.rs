//! One sequence's KV cache, described message by message, and how it is lined up with the
//! conversation a request brings.
//!
//! The cache of a sequence is described by a list of [`Segment`]s, one per ChatML message, each
//! with its text and the tokens that hold it in the KV cache (positions are cumulative). For
//! every request the sequence is lined up with the requested conversation:
//!
//! 1. messages whose rendered text equals the cached segment at the same place are kept;
//! 2. if the next requested message is found further down the cache (the client dropped its
//!    oldest turns), the dropped span is removed and the rest shifted back (llama.cpp's context
//!    shift: RoPE positions are re-rotated, nothing is computed again);
//! 3. at the first real difference the longest common token prefix is kept (an interrupted reply
//!    cut to the words heard keeps the tokens up to the cut), the rest of the cache is removed,
//!    and only the new tokens are left to decode.
//!
//! Lining up only plans: the description already holds the new tokens when it returns, and the
//! caller decodes them (in chunks, between other sequences' steps). Whatever could not be decoded
//! is taken back with [`SequenceCache::truncate`] or [`SequenceCache::clear`]. After a finished
//! reply (and after a prefill) the reply's `<|im_end|>\n` and the next user header are planned
//! ahead, so the next turn computes only the user's words and the assistant header.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use super::chatml;
use super::engine::{EngineError, Feed};
use crate::protocol::WireMessage;

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

/// What lining a sequence up with a prompt left to do, and what it kept.
#[derive(Debug)]
pub struct LineUp {
    /// The tokens to decode (the last one needs logits when a reply follows).
    pub feed: Feed,
    /// Tokens of the whole prompt.
    pub prompt: u32,
    /// Of those, tokens kept in the cache.
    pub cached: u32,
    /// Tokens shifted because older turns were dropped.
    pub shifted: u32,
}

/// The description of one sequence's KV cache.
#[derive(Debug)]
pub struct SequenceCache {
    /// llama.cpp's sequence id.
    seq: i32,
    segments: Vec<Segment>,
}

impl SequenceCache {
    /// An empty cache for llama.cpp's sequence `seq`.
    pub fn new(seq: i32) -> Self {
        Self {
            seq,
            segments: Vec::new(),
        }
    }

    /// Tokens in the cache (including those planned and not yet decoded).
    pub fn n_past(&self) -> usize {
        self.segments.iter().map(|s| s.tokens.len()).sum()
    }

    /// Position of the first token of segment `i`.
    fn pos(&self, i: usize) -> usize {
        self.segments[..i].iter().map(|s| s.tokens.len()).sum()
    }

    /// Empties this sequence's cache.
    pub fn clear(&mut self, ctx: &mut LlamaContext<'_>) {
        // Removing whole sequences cannot fail.
        let _ = ctx.clear_kv_cache_seq(u32::try_from(self.seq).ok(), None, None);
        self.segments.clear();
    }

    /// Keeps only the first `n` tokens (a prompt cut short by a cancel): the segment cut in two
    /// becomes unfinished, so it is matched token by token only.
    pub fn truncate(&mut self, ctx: &mut LlamaContext<'_>, n: usize) -> Result<(), EngineError> {
        let mut start = 0;
        let mut keep = self.segments.len();
        for (i, segment) in self.segments.iter_mut().enumerate() {
            if start + segment.tokens.len() > n {
                segment.tokens.truncate(n - start);
                segment.complete = false;
                keep = if segment.tokens.is_empty() { i } else { i + 1 };
                break;
            }
            start += segment.tokens.len();
        }
        self.segments.truncate(keep);
        self.kv_rm(ctx, n, None)
    }

    /// The tokens the repetition penalties look back over: the turns after the system prompt.
    pub fn penalty_history(&self) -> impl Iterator<Item = &LlamaToken> {
        self.segments.iter().skip(1).flat_map(|s| s.tokens.iter())
    }

    /// Appends to the reply being written: its text, and the sampled token (planned at the next
    /// position: the caller decodes it).
    pub fn push_reply(&mut self, token: Option<LlamaToken>, text: &str) -> Result<(), EngineError> {
        let reply = self.segments.last_mut().ok_or("no reply segment")?;
        reply.text.push_str(text);
        reply.tokens.extend(token);
        Ok(())
    }

    /// Plans closing a finished reply with `<|im_end|>\n`, as the next prompt will show it, and
    /// then the next user header; returns what to decode (nothing when the context is full).
    pub fn plan_close_reply(&mut self, model: &LlamaModel, n_ctx: usize) -> Vec<Feed> {
        let trailer = model
            .vocab()
            .tokenize(chatml::TRAILER.as_bytes(), false, true);
        let start = self.n_past();
        if start + trailer.len() > n_ctx {
            return Vec::new();
        }
        let Some(reply) = self.segments.last_mut() else {
            return Vec::new();
        };
        reply.text.push_str(chatml::TRAILER);
        reply.tokens.extend_from_slice(&trailer);
        reply.complete = true;
        let mut feeds = vec![Feed::new(trailer, start, false)];
        feeds.extend(self.plan_user_header(model, n_ctx));
        feeds
    }

    /// After a system prompt or a finished reply, the next message is almost surely the user's:
    /// plans its header (`<|im_start|>user\n`, 3 tokens) now, off the critical path, so that the
    /// next turn prefills only its words. If the guess is wrong, the token-level match of
    /// [`Self::line_up`] simply drops it.
    pub fn plan_user_header(&mut self, model: &LlamaModel, n_ctx: usize) -> Option<Feed> {
        let user = chatml::header("user");
        match self.segments.last() {
            Some(last) if last.complete && !last.text.starts_with(&user) => {}
            _ => return None,
        }
        let tokens = model.vocab().tokenize(user.as_bytes(), false, true);
        let start = self.n_past();
        if start + tokens.len() >= n_ctx {
            return None;
        }
        self.segments.push(Segment {
            text: user,
            tokens: tokens.clone(),
            complete: false,
        });
        Some(Feed::new(tokens, start, false))
    }

    /// Lines the cache up with `messages` (plus the assistant header when `generate`): keeps,
    /// shifts and removes cache entries, and returns the tokens left to decode.
    pub fn line_up(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        model: &LlamaModel,
        n_ctx: usize,
        can_shift: bool,
        messages: &[WireMessage],
        generate: bool,
    ) -> Result<LineUp, EngineError> {
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
        let mut shifted = 0;

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
            if !can_shift || k >= wanted.len() || k >= self.segments.len() {
                break;
            }
            let Some(j) = (k + 1..self.segments.len())
                .find(|&j| self.segments[j].complete && self.segments[j].text == wanted[k].3)
            else {
                break;
            };
            let (p0, p1) = (self.pos(k), self.pos(j));
            let end = self.n_past();
            self.kv_rm(ctx, p0, Some(p1))?;
            let delta = i32::try_from(p1 - p0).map_err(|e| e.to_string())?;
            ctx.kv_cache_seq_add(self.seq, Some(p1 as u32), None, -delta)
                .map_err(|e| format!("KV cache shift failed: {e}"))?;
            self.segments.drain(k..j);
            shifted += (end - p1) as u32;
        }

        // 3: the first difference, token by token, then everything after it is new.
        let mut pending: Vec<LlamaToken> = Vec::new();
        let mut keep = 0;
        let cut_segment = k.min(self.segments.len());
        let mut new_segments = Vec::new();
        for (i, (role, content, complete, text)) in wanted.iter().enumerate().skip(k) {
            let tokens = tokenize(model, role, content, *complete, i == 0);
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
        self.kv_rm(ctx, cut, None)?;
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
            self.kv_rm(ctx, n_past, None)?;
            pending.push(last);
        }
        let total = n_past + pending.len();
        if total + usize::from(generate) > n_ctx {
            self.clear(ctx);
            return Err(format!(
                "the prompt needs {total} tokens but the context holds {n_ctx}: lower \
                 llm.history_budget_tokens or raise llm.embedded.n_ctx"
            ));
        }
        Ok(LineUp {
            feed: Feed::new(pending, n_past, generate),
            prompt: total as u32,
            cached: n_past as u32,
            shifted,
        })
    }

    /// Removes cache positions `[from, to)` (to the end when `to` is `None`).
    fn kv_rm(
        &self,
        ctx: &mut LlamaContext<'_>,
        from: usize,
        to: Option<usize>,
    ) -> Result<(), EngineError> {
        ctx.kv_cache_seq_rm(self.seq, Some(from as u32), to.map(|t| t as u32))
            .map_err(|e| format!("KV cache removal failed: {e}"))
    }
}

/// Tokenizes one segment: special tokens only in the ChatML frame, never in the content, so a
/// user who says "<|im_end|>" cannot close their own message.
fn tokenize(
    model: &LlamaModel,
    role: &str,
    content: &str,
    complete: bool,
    first: bool,
) -> Vec<LlamaToken> {
    let vocab = model.vocab();
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
