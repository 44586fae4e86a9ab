//! The turn manager: one call per user turn, streaming the reply and keeping the memory right.
//!
//! [`TurnManager::respond`] adds the user's turn, trims the history to its budget, streams the
//! reply through a callback and records it: whole when it finished, as far as it got and marked
//! interrupted when it was cancelled. When the playout side knows which words were actually heard
//! it calls [`TurnManager::interrupt`] to cut the reply to them. Replies are stored verbatim (not
//! trimmed) so that the next prompt matches what the embedded worker has cached.
//!
//! Three policies of a spoken conversation live here too: a turn that makes no sense as one (see
//! [`super::clarify`]) gets a clarifying question instead of a reply; "say that again" gets the
//! last reply again, word for word, when it was heard whole (small models paraphrase or
//! apologise instead; a cut reply goes to the model, which knows only its heard words); and a reply
//! stops after `max_sentences` sentences unless the user asked for more (a story, details).
//!
//! With a [`Profile`] attached (see `crate::profile`), the call starts knowing what earlier calls
//! learnt (a block after the system prompt), a question about the user's own things gets what
//! the store holds about it in a note before the reply, "forget what I told you about X" and
//! "forget everything" are carried out and confirmed in fixed words without the model, and each
//! user turn goes to the profile's thread once the next turn shows it was not retracted (or when
//! the call ends): extraction and writes are never on the reply path.

use std::time::{Duration, Instant};

use duplex_core::cancel::CancelToken;
use duplex_llm_protocol::{FinishReason, Sampling};

use super::backend::{Finish, LlmBackend, LlmEvent};
use super::clarify::{CLARIFYING_QUESTION, is_unclear};
use super::config::LlmConfig;
use super::error::LlmError;
use super::memory::{Conversation, Role};
use super::start::build_backend;
use crate::profile::Profile;
use crate::profile::extract::topic_words;
use crate::profile::recall::{
    ForgetRequest, forget_confirmation, forget_request, prompt_block, recall_query, recalled_note,
};
use crate::tools::ToolOutcome;
use crate::tools::prompt::response_text;

/// A finished (or cancelled) reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The text delivered (for a cancelled reply: up to the cancel).
    pub text: String,
    /// How it ended.
    pub finish: Finish,
    /// From the call to the first piece of text (none if there was none).
    pub first_token: Option<Duration>,
    /// From the call to the end.
    pub elapsed: Duration,
}

impl Reply {
    /// Whether the reply was cancelled.
    pub fn cancelled(&self) -> bool {
        self.finish.reason == FinishReason::Cancelled
    }
}

/// A backend, a conversation and the sampling settings.
pub struct TurnManager {
    backend: Box<dyn LlmBackend>,
    memory: Conversation,
    sampling: Sampling,
    max_sentences: usize,
    /// The memory between calls, when attached.
    profile: Option<Profile>,
    /// The system prompt without the block of facts from earlier calls.
    base_system: Option<String>,
    /// The facts in that block (a recall note leaves them out: the model has them already).
    block_facts: Vec<String>,
    /// The last user turn, handed to the profile when the next turn starts (it was not
    /// retracted) or when the call ends.
    pending: Option<String>,
}

/// What follows tool results in their turn: the model is to answer with them now.
const AFTER_TOOLS_REQUEST: &str = "Now answer my question in one short sentence, in words.";

/// Requests to hear the last reply again.
const REPEAT_REQUESTS: [&str; 7] = [
    "say that again",
    "say it again",
    "repeat that",
    "repeat it",
    "can you repeat",
    "could you repeat",
    "come again",
];

/// Words that ask for more than a short spoken answer.
const ASKS_FOR_MORE: [&str; 9] = [
    "story",
    "detail",
    "tell me more",
    "explain more",
    "step by step",
    "list",
    "longer",
    "everything",
    "all about",
];

/// Sentences of `text` that have ended: a `.`, `!` or `?` followed by a space, or ending the
/// text after a letter (not "2." of "2.5", which may go on).
fn ended_sentences(text: &str) -> usize {
    let chars: Vec<char> = text.trim_end_matches(['"', '\'', ')']).chars().collect();
    let mut ended = 0;
    for (i, &c) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let next = chars.get(i + 1);
        let before = i.checked_sub(1).and_then(|j| chars.get(j));
        let closes = match next {
            Some(n) => n.is_whitespace() && !matches!(chars.get(i + 2), Some('.' | '!' | '?')),
            None => before.is_some_and(|b| !b.is_ascii_digit()),
        };
        if closes && before.is_some_and(|b| b.is_alphanumeric() || matches!(b, '"' | '\'' | ')')) {
            ended += 1;
        }
    }
    ended
}

impl TurnManager {
    /// Ties a backend to a conversation (replies of any length).
    pub fn new(backend: Box<dyn LlmBackend>, memory: Conversation, sampling: Sampling) -> Self {
        Self {
            backend,
            memory,
            sampling,
            max_sentences: 0,
            profile: None,
            base_system: None,
            block_facts: Vec::new(),
            pending: None,
        }
    }

    /// Attaches the memory between calls: the facts earlier calls learnt go after the system
    /// prompt (prefilled again), and this call's turns go to `profile` from now on.
    pub fn attach_profile(&mut self, profile: Profile) -> Result<(), LlmError> {
        self.commit_pending();
        self.profile = Some(profile);
        self.refresh_profile_block();
        self.warm_up()
    }

    /// The profile attached, if any.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// Sets the system prompt to the base prompt and the profile's recent facts.
    fn refresh_profile_block(&mut self) {
        let base = self
            .base_system
            .get_or_insert_with(|| self.memory.system().to_owned())
            .clone();
        let facts = self
            .profile
            .as_ref()
            .map(Profile::recent_facts)
            .unwrap_or_default();
        let block = prompt_block(&facts);
        self.block_facts = facts;
        if block.is_empty() {
            self.memory.set_system(base);
        } else {
            self.memory.set_system(format!("{base}\n{block}"));
        }
    }

    /// Hands the last user turn to the profile (it was not retracted).
    fn commit_pending(&mut self) {
        if let (Some(text), Some(profile)) = (self.pending.take(), &self.profile) {
            profile.said(&text);
        }
    }

    /// Carries out a forget request, in the store and in this conversation; the words that
    /// confirm it.
    fn forget(&mut self, request: &ForgetRequest) -> String {
        let forgotten = match request {
            ForgetRequest::Everything => {
                self.pending = None;
                self.memory.clear();
                self.profile.as_ref().and_then(|p| p.forget(request))
            }
            ForgetRequest::About(topic) => {
                self.commit_pending();
                let words = topic_words(topic);
                let in_call = self.memory.forget_mentions(&words);
                let stored = self.profile.as_ref().and_then(|p| p.forget(request));
                // Told in this call only: it is forgotten all the same.
                stored.map(|n| n + in_call)
            }
        };
        if self.profile.is_some() {
            self.refresh_profile_block();
        }
        forget_confirmation(request, forgotten)
    }

    /// The note for a turn that asks about the user's own things, from the store: the facts
    /// that answer it and are not in the system prompt already (none when all are: a note would
    /// only cost prefill on the reply path).
    fn recall(&self, user_text: &str) -> Option<String> {
        let profile = self.profile.as_ref()?;
        let query = recall_query(user_text)?;
        let found = profile.recall(&query);
        let new: Vec<String> = found
            .iter()
            .filter(|f| !self.block_facts.contains(f))
            .cloned()
            .collect();
        if new.is_empty() && !found.is_empty() {
            return None;
        }
        recalled_note(&query, &new)
    }

    /// Stops replies after this many sentences unless the user asks for more (0: no limit).
    pub fn set_max_sentences(&mut self, max: usize) {
        self.max_sentences = max;
    }

    /// The backend, memory and sampling chosen by the `[llm]` section (`model`: the resolved
    /// GGUF of the embedded backend), with the system prompt prefilled.
    pub fn from_config(config: &LlmConfig, model: &std::path::Path) -> Result<Self, LlmError> {
        let backend = build_backend(config, model)?;
        let mut prompt = config.system_prompt().to_owned();
        if config.cue_notes {
            prompt.push(' ');
            prompt.push_str(crate::cues::SYSTEM_HINT);
        }
        let memory = Conversation::new(prompt, config.history_budget_tokens as usize);
        let mut manager = Self::new(backend, memory, config.sampling());
        manager.set_max_sentences(config.max_sentences as usize);
        manager.warm_up()?;
        Ok(manager)
    }

    /// Prefills the conversation so far (at start-up: the system prompt), so that the first
    /// reply computes only the user's turn.
    pub fn warm_up(&mut self) -> Result<(), LlmError> {
        self.backend.prefill(&self.memory.messages())
    }

    /// Between turns (once a reply was heard, before the user's next words are in): trims the
    /// history ahead of its budget and gives the result to the backend, so that the next reply
    /// computes only its own turn. Returns how many turns were dropped.
    pub fn compact(&mut self) -> Result<usize, LlmError> {
        let dropped = self.memory.compact();
        if dropped > 0 {
            tracing::debug!(dropped, "history near its budget: oldest turns dropped");
            self.backend.prefill(&self.memory.messages())?;
        }
        Ok(dropped)
    }

    /// Gives the conversation so far to the backend again (after its worker died, a new one
    /// starts here), so that the next reply computes only the user's new turn.
    pub fn recover(&mut self) -> Result<(), LlmError> {
        self.backend.prefill(&self.memory.messages())
    }

    /// What the backend has to tell the user (a restarted worker), oldest first.
    pub fn take_notices(&mut self) -> Vec<String> {
        self.backend.take_notices()
    }

    /// Answers `user_text`, calling `on_token` with each piece as it arrives.
    pub fn respond(
        &mut self,
        user_text: &str,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Reply, LlmError> {
        let start = Instant::now();
        if let Some(request) = forget_request(user_text) {
            let confirmation = self.forget(&request);
            let reply = self.answer_with(user_text, &confirmation, start, on_token);
            // The prompt changed: prefill it now, after the confirmation went out.
            if let Err(e) = self.warm_up() {
                tracing::warn!("prefilling after a forget failed: {e}");
            }
            return Ok(reply);
        }
        self.commit_pending();
        let after_question = self
            .memory
            .last()
            .is_some_and(|t| t.role == Role::Assistant && t.text.trim_end().ends_with('?'));
        if is_unclear(user_text, after_question) {
            return Ok(self.answer_with(user_text, CLARIFYING_QUESTION, start, on_token));
        }
        let lower = user_text.to_lowercase();
        let last_reply = self
            .memory
            .turns()
            .rev()
            .find(|t| t.role == Role::Assistant && !t.text.trim().is_empty())
            .filter(|t| !t.interrupted)
            .map(|t| t.text.trim().to_owned());
        if let Some(last) = last_reply
            && REPEAT_REQUESTS.iter().any(|r| lower.contains(r))
        {
            return Ok(self.answer_with(user_text, &last, start, on_token));
        }
        let limit = if ASKS_FOR_MORE.iter().any(|w| lower.contains(w)) {
            0
        } else {
            self.max_sentences
        };
        let note = self.recall(user_text);
        self.memory.push_user(user_text);
        if let Some(note) = note {
            self.memory.note_last_user(note);
        }
        self.pending = Some(user_text.to_owned());
        let dropped = self.memory.trim();
        if dropped > 0 {
            tracing::debug!(
                dropped,
                "history over budget on the reply path: turns dropped"
            );
        }
        let (result, text, first_token, capped) = self.stream_reply(start, limit, cancel, on_token);
        let finish = match result {
            Ok(finish) => finish,
            Err(e) if text.is_empty() => {
                // Keep the history consistent: no question without an answer (what the user
                // said is still kept between calls).
                self.commit_pending();
                self.memory.pop_user();
                return Err(e);
            }
            Err(e) => {
                // Said in part: the history keeps what was said, marked as cut off.
                self.memory.push_assistant(text, true);
                return Err(e);
            }
        };
        Ok(self.record_reply(start, text, first_token, capped, finish))
    }

    /// Goes on with the turn after its tool calls: `outcomes` (the calls', in the order they
    /// ended) go in a user turn, each in `<tool_response>` tags (the Qwen chat template's way;
    /// the call itself is in the reply before, verbatim), followed by a request to answer in
    /// words, and the model answers, streamed through `on_token` and recorded like any reply.
    /// No new words of the user: the profile and the recall note are left alone.
    pub fn respond_after_tools(
        &mut self,
        outcomes: &[ToolOutcome],
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Reply, LlmError> {
        let start = Instant::now();
        let responses: Vec<String> = outcomes.iter().map(response_text).collect();
        // Without the request after them, the balanced brain writes the same call again (so
        // it does with a system note after them instead).
        self.memory
            .push_user(format!("{}\n{AFTER_TOOLS_REQUEST}", responses.join("\n")));
        let (result, text, first_token, capped) =
            self.stream_reply(start, self.max_sentences, cancel, on_token);
        let finish = match result {
            Ok(finish) => finish,
            // Nothing said: the results stay, unanswered, for the next turn.
            Err(e) if text.is_empty() => return Err(e),
            Err(e) => {
                self.memory.push_assistant(text, true);
                return Err(e);
            }
        };
        Ok(self.record_reply(start, text, first_token, capped, finish))
    }

    /// Records a streamed reply that ended with `finish` (a reply stopped at the sentence limit
    /// ended normally; one cancelled by the caller is marked interrupted).
    fn record_reply(
        &mut self,
        start: Instant,
        text: String,
        first_token: Option<Duration>,
        capped: bool,
        finish: Finish,
    ) -> Reply {
        let cancelled = finish.reason == FinishReason::Cancelled && !capped;
        let finish = if capped {
            Finish {
                reason: FinishReason::Stop,
                ..finish
            }
        } else {
            finish
        };
        self.memory.push_assistant(text.clone(), cancelled);
        Reply {
            text,
            finish,
            first_token,
            elapsed: start.elapsed(),
        }
    }

    /// Streams a reply to the history as it stands through `on_token`, stopping after `limit`
    /// sentences (0: no limit); a backend that dies before its first token is asked once more.
    /// Returns how it ended, the text delivered, the time to its first piece and whether the
    /// limit stopped it.
    fn stream_reply(
        &mut self,
        start: Instant,
        limit: usize,
        cancel: &CancelToken,
        on_token: &mut dyn FnMut(&str),
    ) -> (Result<Finish, LlmError>, String, Option<Duration>, bool) {
        let messages = self.memory.messages();
        let mut text = String::new();
        let mut first_token = None;
        // Cancelled by the caller, or here once the reply has said enough.
        let generation = cancel.child();
        let mut capped = false;
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            let result = (|| {
                let stream = self
                    .backend
                    .generate(&messages, &self.sampling, &generation)?;
                for event in stream {
                    match event? {
                        LlmEvent::Token(_) if capped => {}
                        LlmEvent::Token(piece) => {
                            first_token.get_or_insert_with(|| start.elapsed());
                            on_token(&piece);
                            text.push_str(&piece);
                            if limit > 0 && ended_sentences(&text) >= limit {
                                capped = true;
                                generation.cancel();
                            }
                        }
                        LlmEvent::Done(finish) => return Ok(finish),
                    }
                }
                Err(LlmError::Protocol(
                    "the stream ended without a done event".into(),
                ))
            })();
            // A backend that died before saying anything is asked once more (a reviving
            // backend restarts its worker first): the user gets the answer, only later.
            match &result {
                Err(e)
                    if e.is_fatal()
                        && text.is_empty()
                        && !cancel.is_cancelled()
                        && attempts == 1 =>
                {
                    tracing::warn!("the LLM failed before its first token ({e}); asking again");
                }
                _ => break result,
            }
        };
        (result, text, first_token, capped)
    }

    /// Answers a turn with `reply` without asking the model (a clarifying question, a repeat).
    fn answer_with(
        &mut self,
        user_text: &str,
        reply: &str,
        start: Instant,
        on_token: &mut dyn FnMut(&str),
    ) -> Reply {
        self.memory.push_user(user_text);
        on_token(reply);
        self.memory.push_assistant(reply, false);
        Reply {
            text: reply.to_owned(),
            finish: Finish {
                reason: FinishReason::Stop,
                delivered_tokens: 1,
                worker: None,
            },
            first_token: Some(start.elapsed()),
            elapsed: start.elapsed(),
        }
    }

    /// Forgets the whole conversation (a new one starts; the system prompt stays).
    pub fn forget_all(&mut self) {
        self.memory.clear();
    }

    /// Forgets the last exchange: its reply was dropped before the user heard any of it. False
    /// if the history does not end with an exchange.
    pub fn retract(&mut self) -> bool {
        let retracted = self.memory.retract_last_exchange();
        if retracted {
            // Their words come back whole in the next turn, which is kept instead.
            self.pending = None;
        }
        retracted
    }

    /// Cuts the last reply to the words the user heard and marks it interrupted. False if the
    /// last turn is not a reply.
    pub fn interrupt(&mut self, heard: &str) -> bool {
        self.memory.interrupt_last(heard)
    }

    /// The conversation.
    pub fn memory(&self) -> &Conversation {
        &self.memory
    }

    /// The conversation, to edit.
    pub fn memory_mut(&mut self) -> &mut Conversation {
        &mut self.memory
    }

    /// The backend.
    pub fn backend_mut(&mut self) -> &mut dyn LlmBackend {
        self.backend.as_mut()
    }

    /// The sampling settings.
    pub fn sampling_mut(&mut self) -> &mut Sampling {
        &mut self.sampling
    }
}

impl Drop for TurnManager {
    /// The call ends: its last turn goes to the profile, whose thread then writes the call's
    /// summary (dropping the profile waits for it).
    fn drop(&mut self) {
        self.commit_pending();
    }
}

#[cfg(test)]
mod tests {
    use super::ended_sentences;

    #[test]
    fn sentence_ends_are_found_as_the_text_streams() {
        assert_eq!(ended_sentences("Paris is the capital"), 0);
        assert_eq!(ended_sentences("Paris is the capital."), 1);
        assert_eq!(ended_sentences("It is 2."), 0, "2. may be 2.5");
        assert_eq!(ended_sentences("It is 2.5 metres. Yes"), 1);
        assert_eq!(ended_sentences("Wait... what? \"Hi.\""), 2);
    }
}
