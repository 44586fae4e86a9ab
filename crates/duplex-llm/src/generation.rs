//! One reply being written: its sampler chain, its text so far and its counters.
//!
//! The scheduler asks it for one token per step ([`Generation::step`]): it checks for a cancel
//! and the limits, samples from the logits of the latest decode, sends the text as a `token`
//! event and plans the token into its sequence's cache; the scheduler decodes the tokens of all
//! running replies together. A cancel is checked before every token, so it stops a reply within
//! one step.

use std::time::{Duration, Instant};

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;

use super::engine::{Engine, EngineError, StepToken};
use super::sequence::LineUp;
use super::utf8::Utf8Stream;
use crate::protocol::{Event, FinishReason, Sampling, WorkerStats};

/// Where a repeated sequence is broken for DRY (llama.cpp's defaults).
const DRY_BREAKERS: [&str; 4] = ["\n", ":", "\"", "*"];
/// Candidates kept before nucleus sampling.
const TOP_K: i32 = 40;

/// What one step of a reply came to.
#[derive(Debug)]
pub enum Step {
    /// A token to decode (its text is sent already).
    Token(StepToken),
    /// The reply ended, for this reason.
    Finished(FinishReason),
}

/// A reply being generated into one sequence.
pub struct Generation {
    /// The request.
    pub id: u64,
    /// When the request was read.
    received: Instant,
    max_tokens: u32,
    sampler: LlamaSampler,
    utf8: Utf8Stream,
    stats: WorkerStats,
    first_token: Option<Instant>,
    /// Batch index, in the latest decode, of the logits to sample the next token from.
    pub logits_index: i32,
}

impl Generation {
    /// A reply of request `id` (read at `received`) into sequence `seq`, whose prompt `line_up`
    /// has just planned.
    pub fn new(
        id: u64,
        received: Instant,
        sampling: &Sampling,
        engine: &Engine<'_>,
        seq: usize,
        line_up: &LineUp,
    ) -> Self {
        let model = engine.model();
        let mut sampler = sampler_chain(model, sampling);
        let vocab = model.vocab();
        // The penalties look back over the conversation (the turns after the system prompt),
        // without its ChatML framing: penalising `<|im_end|>` would keep a reply from ending.
        let framing = vocab.tokenize(b"<|im_start|>", false, true);
        let history = engine.sequence(seq).penalty_history();
        sampler.accept_many(history.filter(|t| !vocab.is_eog(**t) && !framing.contains(*t)));
        Self {
            id,
            received,
            max_tokens: sampling.max_tokens,
            sampler,
            utf8: Utf8Stream::default(),
            stats: WorkerStats {
                prompt_tokens: line_up.prompt,
                cached_tokens: line_up.cached,
                shifted_tokens: line_up.shifted,
                ..WorkerStats::default()
            },
            first_token: None,
            logits_index: 0,
        }
    }

    /// Notes that the prompt is in the cache: the next logits are at `logits_index`.
    pub fn prefilled(&mut self, logits_index: i32) {
        self.logits_index = logits_index;
        self.stats.prefill_ms = ms(self.received.elapsed());
    }

    /// Samples the next token of the reply in sequence `seq`, sends its text through `emit` and
    /// plans it into the cache; or says why the reply ends (`cancelled` first).
    pub fn step(
        &mut self,
        engine: &mut Engine<'_>,
        seq: usize,
        cancelled: bool,
        emit: &mut dyn FnMut(Event),
    ) -> Result<Step, EngineError> {
        if cancelled {
            return Ok(Step::Finished(FinishReason::Cancelled));
        }
        let pos = engine.sequence(seq).n_past();
        if self.stats.generated_tokens >= self.max_tokens || pos >= engine.n_ctx() as usize {
            return Ok(Step::Finished(FinishReason::Length));
        }
        let token = engine.sample(&mut self.sampler, self.logits_index);
        let vocab = engine.model().vocab();
        if vocab.is_eog(token) {
            return Ok(Step::Finished(FinishReason::Stop));
        }
        let text = self.utf8.push(&vocab.token_to_piece(token, false, None));
        self.stats.generated_tokens += 1;
        engine.sequence_mut(seq).push_reply(Some(token), &text)?;
        if !text.is_empty() {
            emit(Event::Token { id: self.id, text });
        }
        if self.first_token.is_none() {
            self.first_token = Some(Instant::now());
            self.stats.first_token_ms = ms(self.received.elapsed());
        }
        Ok(Step::Token(StepToken { seq, token, pos }))
    }

    /// Ends the reply: sends the text held back (an unfinished character) and `done`.
    pub fn finish(
        mut self,
        engine: &mut Engine<'_>,
        seq: usize,
        reason: FinishReason,
        emit: &mut dyn FnMut(Event),
    ) -> Result<(), EngineError> {
        let rest = self.utf8.finish();
        let result = if rest.is_empty() {
            Ok(())
        } else {
            let pushed = engine.sequence_mut(seq).push_reply(None, &rest);
            emit(Event::Token {
                id: self.id,
                text: rest,
            });
            pushed
        };
        if let Some(t) = self.first_token {
            self.stats.decode_ms = ms(t.elapsed());
        }
        emit(Event::Done {
            id: self.id,
            reason,
            stats: self.stats,
        });
        result
    }
}

/// The sampler chain for one reply: repetition penalties and DRY over the conversation, then
/// greedy or seeded sampling.
fn sampler_chain(model: &LlamaModel, s: &Sampling) -> LlamaSampler {
    let mut chain = Vec::new();
    let penalised = (s.repeat_penalty - 1.0).abs() > f32::EPSILON
        || s.frequency_penalty != 0.0
        || s.presence_penalty != 0.0;
    if penalised && s.repeat_last_n > 0 {
        chain.push(LlamaSampler::penalties(
            model.n_vocab(),
            s.repeat_last_n,
            s.repeat_penalty,
            s.frequency_penalty,
            s.presence_penalty,
        ));
    }
    if s.dry_multiplier > 0.0 {
        chain.push(LlamaSampler::dry(
            model,
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
