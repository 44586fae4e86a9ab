//! Conversation memory: the system prompt and the user/assistant turns, within a token budget.
//!
//! - The system prompt is always first and never dropped.
//! - When the history grows past the budget, the oldest exchanges are dropped, down to
//!   [`LOW_WATER_PERCENT`] of the budget, so that this happens rarely (each drop changes the
//!   prompt's start; the embedded worker shifts its cache rather than recomputing, a server may
//!   recompute). The turn being answered is never dropped. Dropped turns are counted.
//! - An assistant turn the user talked over is cut to the words that were actually heard. The
//!   model sees only those words as the assistant's turn, and the fact of the cut once, as a
//!   short system note after it ([`INTERRUPTED_NOTE`]), so there is no marker in any assistant
//!   turn for it to imitate.
//! - What the user said over a reply to let it go on ("mm-hm", "right") is noted the same way
//!   after the last reply ([`acknowledged_note`]): the model knows it was listened to, and the
//!   backchannel is never a user turn to answer.
//! - What the dropped turns told about the user (their own statements: names, places,
//!   preferences, plans, as `crate::profile::extract` selects them for the memory between calls
//!   too) is folded into a running memory ([`MEMORY_HEADER`]), so a fact from the first turn
//!   outlives the history budget. The memory is a system note placed after the newest turn at
//!   the moment it changed, never in the system prompt: a cache of the conversation so far (the
//!   embedded worker's) then keeps everything before it, drops the turns that went by shifting
//!   the rest back, and computes only the note, not the whole history again.
//! - [`Conversation::compact`] trims ahead of the budget, between turns (the runtime calls it
//!   once a reply has been heard, and prefills the result), so that a long call's turns are not
//!   trimmed on the reply path; [`Conversation::trim`] is the reply path's last resort.
//! - A user turn may carry a note for the reply to it (what earlier calls told about what it
//!   asks, see `crate::profile`), shown right after it.
//!
//! Token counts are estimates (about 3 bytes per token plus a few tokens of framing per message),
//! which over-count English for SmolLM2's tokenizer: the budget errs on the safe side for any
//! backend, without asking the model to tokenize.

use std::collections::VecDeque;

use duplex_llm_protocol::WireMessage as ChatMessage;

/// The system note that follows the last interrupted assistant turn.
pub const INTERRUPTED_NOTE: &str = "The user cut in, so your reply stopped there.";
/// The system note that follows the last reply the user acknowledged while it played.
pub fn acknowledged_note(said: &[String]) -> String {
    let quoted: Vec<String> = said.iter().map(|s| format!("\"{}\"", s.trim())).collect();
    format!(
        "While you spoke, the user said {} to show they were listening.",
        quoted.join(", ")
    )
}
/// Introduces the running memory's note. It sits near the end of the prompt, so it names no role
/// ("the user said" there made the default brain narrate: "The user asked for ...").
pub const MEMORY_HEADER: &str = "Earlier in this conversation you were told:";
/// Statements kept in the running memory (the oldest go first).
pub const MEMORY_STATEMENTS: usize = 12;
/// After trimming, the history is at most this share of the budget.
pub const LOW_WATER_PERCENT: usize = 70;
/// Room [`Conversation::compact`] leaves for the next user turn, as a share of the budget.
pub const NEXT_TURN_PERCENT: usize = 15;
/// Estimated framing tokens per message (`<|im_start|>role\n`, `<|im_end|>\n`).
const MESSAGE_OVERHEAD_TOKENS: usize = 5;
/// Estimated bytes per token (English averages more; less means over-counting).
const BYTES_PER_TOKEN: usize = 3;

/// Who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The person.
    User,
    /// The agent.
    Assistant,
}

impl Role {
    /// The role's name in chat APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Who said it.
    pub role: Role,
    /// What was said (for an interrupted assistant turn: what was heard).
    pub text: String,
    /// Whether the user talked over this assistant turn.
    pub interrupted: bool,
    /// What the user said over this assistant turn to let it go on.
    pub acknowledged: Vec<String>,
    /// A system note shown right after this user turn (what earlier calls told about it).
    pub note: Option<String>,
}

impl Turn {
    /// The message the model sees for this turn (for a cut reply: the words heard only).
    pub fn message(&self) -> ChatMessage {
        ChatMessage {
            role: self.role.as_str().to_owned(),
            content: self.text.trim().to_owned(),
        }
    }

    /// The user's statements about themselves in this turn (none for a reply), worth
    /// remembering: "My name is Ada.", "I live in Lisbon.", "We have a dog."
    fn statements(&self) -> Vec<String> {
        if self.role != Role::User {
            return Vec::new();
        }
        crate::profile::extract::statements(&self.text)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }
}

/// Estimated tokens of a message with this content.
pub fn estimate_tokens(content: &str) -> usize {
    content.len().div_ceil(BYTES_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS
}

/// The history of one conversation.
#[derive(Debug, Clone)]
pub struct Conversation {
    system: String,
    turns: VecDeque<Turn>,
    budget_tokens: usize,
    dropped_turns: usize,
    /// The user's statements from dropped turns, oldest first.
    remembered: VecDeque<String>,
    /// How many of `turns` come before the running memory's note.
    memory_at: usize,
}

impl Conversation {
    /// An empty conversation with this system prompt and history budget (in estimated tokens,
    /// system prompt included).
    pub fn new(system: impl Into<String>, budget_tokens: usize) -> Self {
        Self {
            system: system.into(),
            turns: VecDeque::new(),
            budget_tokens,
            dropped_turns: 0,
            remembered: VecDeque::new(),
            memory_at: 0,
        }
    }

    /// The running memory: what the user said in turns dropped from the history.
    pub fn remembered(&self) -> impl ExactSizeIterator<Item = &String> {
        self.remembered.iter()
    }

    /// The running memory's note, if there is anything in it.
    fn memory_note(&self) -> Option<ChatMessage> {
        if self.remembered.is_empty() {
            return None;
        }
        let said: Vec<String> = self.remembered.iter().map(|s| format!("\"{s}\"")).collect();
        Some(ChatMessage {
            role: "system".to_owned(),
            content: format!("{MEMORY_HEADER} {}", said.join(" ")),
        })
    }

    /// The system prompt.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// Replaces the system prompt.
    pub fn set_system(&mut self, system: impl Into<String>) {
        self.system = system.into();
    }

    /// The turns, oldest first.
    pub fn turns(&self) -> impl DoubleEndedIterator<Item = &Turn> + ExactSizeIterator {
        self.turns.iter()
    }

    /// The most recent turn.
    pub fn last(&self) -> Option<&Turn> {
        self.turns.back()
    }

    /// Turns dropped so far to stay within the budget.
    pub fn dropped_turns(&self) -> usize {
        self.dropped_turns
    }

    /// Forgets every turn and the running memory (the system prompt stays).
    pub fn clear(&mut self) {
        self.turns.clear();
        self.remembered.clear();
        self.memory_at = 0;
    }

    /// Adds what the user said.
    pub fn push_user(&mut self, text: impl Into<String>) {
        self.push(Role::User, text.into(), false);
    }

    /// Adds the agent's reply (`interrupted` if it was cut short).
    pub fn push_assistant(&mut self, text: impl Into<String>, interrupted: bool) {
        self.push(Role::Assistant, text.into(), interrupted);
    }

    fn push(&mut self, role: Role, text: String, interrupted: bool) {
        self.turns.push_back(Turn {
            role,
            text,
            interrupted,
            acknowledged: Vec::new(),
            note: None,
        });
    }

    /// Shows `note` right after the last turn, if it is the user's (false if not).
    pub fn note_last_user(&mut self, note: String) -> bool {
        match self.turns.back_mut() {
            Some(turn) if turn.role == Role::User => {
                turn.note = Some(note);
                true
            }
            _ => false,
        }
    }

    /// Forgets every exchange in which the user mentioned any of `words` (lower case; a word
    /// they begin counts: "dog" in "dogs"), and the running memory's statements that do.
    /// Returns how many turns went.
    pub fn forget_mentions(&mut self, words: &[String]) -> usize {
        let mentions = |text: &str| crate::profile::extract::mentions(text, words);
        self.remembered.retain(|s| !mentions(s));
        let before = self.turns.len();
        let mut dropping = false;
        let mut kept = VecDeque::with_capacity(before);
        let mut memory_at = 0;
        for (i, turn) in self.turns.drain(..).enumerate() {
            if turn.role == Role::User {
                dropping = mentions(&turn.text);
            }
            if !dropping {
                kept.push_back(turn);
                if i < self.memory_at {
                    memory_at += 1;
                }
            }
        }
        self.turns = kept;
        self.memory_at = memory_at;
        before - self.turns.len()
    }

    /// Removes the last turn if it is the user's (a reply to it failed).
    pub fn pop_user(&mut self) -> Option<Turn> {
        if self.turns.back()?.role != Role::User {
            return None;
        }
        let turn = self.turns.pop_back();
        self.memory_at = self.memory_at.min(self.turns.len());
        turn
    }

    /// Removes the last exchange (the user's turn and the reply to it): the user went on before
    /// hearing any of the reply, so their words come back whole in a later turn. False (and
    /// nothing removed) if the history does not end with a user turn and a reply.
    pub fn retract_last_exchange(&mut self) -> bool {
        let n = self.turns.len();
        let ends_with_exchange = n >= 2
            && self.turns[n - 1].role == Role::Assistant
            && self.turns[n - 2].role == Role::User;
        if ends_with_exchange {
            self.turns.truncate(n - 2);
            self.memory_at = self.memory_at.min(self.turns.len());
        }
        ends_with_exchange
    }

    /// Cuts the last assistant turn to `heard` (the words the user actually heard) and marks it
    /// interrupted. False if the last turn is not the assistant's.
    pub fn interrupt_last(&mut self, heard: &str) -> bool {
        match self.turns.back_mut() {
            Some(turn) if turn.role == Role::Assistant => {
                turn.text = heard.to_owned();
                turn.interrupted = true;
                true
            }
            _ => false,
        }
    }

    /// Notes what the user said over the last assistant turn to let it go on. False if the
    /// last turn is not the assistant's.
    pub fn acknowledge_last(&mut self, said: &[String]) -> bool {
        match self.turns.back_mut() {
            Some(turn) if turn.role == Role::Assistant => {
                turn.acknowledged = said.to_vec();
                true
            }
            _ => false,
        }
    }

    /// The messages to send: the system message, then every turn; a cut reply is followed by
    /// the interruption note when it is the last reply (the note is said once), and a reply cut
    /// before any word was heard is left out.
    pub fn messages(&self) -> Vec<ChatMessage> {
        let mut out = Vec::with_capacity(self.turns.len() + 3);
        out.push(ChatMessage {
            role: "system".to_owned(),
            content: self.system.clone(),
        });
        let memory = self.memory_note();
        let last_reply = self.turns.iter().rposition(|t| t.role == Role::Assistant);
        for (i, turn) in self.turns.iter().enumerate() {
            if i == self.memory_at
                && let Some(note) = &memory
            {
                out.push(note.clone());
            }
            if !turn.text.trim().is_empty() || turn.role == Role::User {
                out.push(turn.message());
            }
            if let Some(note) = &turn.note {
                out.push(ChatMessage {
                    role: "system".to_owned(),
                    content: note.clone(),
                });
            }
            if Some(i) == last_reply && !turn.acknowledged.is_empty() {
                out.push(ChatMessage {
                    role: "system".to_owned(),
                    content: acknowledged_note(&turn.acknowledged),
                });
            }
            if turn.interrupted && Some(i) == last_reply {
                out.push(ChatMessage {
                    role: "system".to_owned(),
                    content: INTERRUPTED_NOTE.to_owned(),
                });
            }
        }
        if self.memory_at >= self.turns.len()
            && let Some(note) = memory
        {
            out.push(note);
        }
        out
    }

    /// Estimated tokens of [`messages`](Self::messages).
    pub fn estimated_tokens(&self) -> usize {
        self.messages()
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum()
    }

    /// Drops the oldest turns if the history is over budget; returns how many were dropped.
    /// Whole exchanges go (a user turn with the replies that follow it), and the last turn
    /// always stays. This runs on the reply path (the turn being answered is the last one), so
    /// a changed running memory goes just before that turn.
    pub fn trim(&mut self) -> usize {
        if self.estimated_tokens() <= self.budget_tokens {
            return 0;
        }
        let last_user = self.turns.len().saturating_sub(1);
        self.trim_to_low_water(last_user)
    }

    /// Between turns: trims as [`Self::trim`] does if the history would not leave the next user
    /// turn [`NEXT_TURN_PERCENT`] of the budget, so that the reply path rarely has to. A changed
    /// running memory goes after the newest turn. Returns how many turns were dropped; when
    /// some were, the caller gives the new [`Self::messages`] to its backend now.
    pub fn compact(&mut self) -> usize {
        let room = self.budget_tokens * NEXT_TURN_PERCENT / 100;
        if self.estimated_tokens() + room <= self.budget_tokens {
            return 0;
        }
        let end = self.turns.len();
        self.trim_to_low_water(end)
    }

    /// Drops the oldest exchanges down to [`LOW_WATER_PERCENT`] of the budget; if that changed
    /// the running memory, its note moves to `memory_at` (counted before the drop).
    fn trim_to_low_water(&mut self, memory_at: usize) -> usize {
        let target = self.budget_tokens * LOW_WATER_PERCENT / 100;
        let remembered_before = self.remembered.clone();
        let mut dropped = 0;
        while self.turns.len() > 1 && self.estimated_tokens() > target {
            self.forget_front();
            dropped += 1;
            // Never leave a reply without the question it answers at the front.
            while self.turns.len() > 1 && self.turns.front().is_some_and(|t| t.role != Role::User) {
                self.forget_front();
                dropped += 1;
            }
        }
        if self.remembered != remembered_before {
            self.memory_at = memory_at.saturating_sub(dropped);
        }
        self.dropped_turns += dropped;
        dropped
    }

    /// Drops the oldest turn, folding what the user told in it into the running memory.
    fn forget_front(&mut self) {
        let Some(turn) = self.turns.pop_front() else {
            return;
        };
        self.memory_at = self.memory_at.saturating_sub(1);
        for said in turn.statements() {
            self.remembered.retain(|s| *s != said);
            self.remembered.push_back(said);
            while self.remembered.len() > MEMORY_STATEMENTS {
                self.remembered.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_turns_hold_the_words_heard_and_one_note() {
        let mut c = Conversation::new("sys", 10_000);
        c.push_user("Tell me a story.");
        c.push_assistant("Once upon a time there was a fox who", false);
        assert!(c.interrupt_last("Once upon a time"));
        let m = c.messages();
        assert_eq!(m[0].role, "system");
        assert_eq!(m[2].content, "Once upon a time");
        assert_eq!(
            (m[3].role.as_str(), m[3].content.as_str()),
            ("system", INTERRUPTED_NOTE)
        );
        c.push_user("Stop.");
        assert!(!c.interrupt_last("x"));
        c.push_assistant("Okay.", false);
        let notes = c
            .messages()
            .iter()
            .filter(|m| m.content == INTERRUPTED_NOTE)
            .count();
        assert_eq!(notes, 0, "the note goes with the last reply only");
    }

    #[test]
    fn a_backchannel_is_a_note_after_the_last_reply_never_a_user_turn() {
        let mut c = Conversation::new("sys", 10_000);
        c.push_user("Tell me about Lisbon.");
        c.push_assistant("Lisbon is hilly. It has trams.", false);
        assert!(c.acknowledge_last(&["Mm-hmm.".to_owned()]));
        let m = c.messages();
        assert_eq!(m.len(), 4);
        assert_eq!(m[2].content, "Lisbon is hilly. It has trams.");
        assert_eq!(m[3].role, "system");
        assert!(m[3].content.contains("\"Mm-hmm.\""), "{}", m[3].content);
        c.push_user("And Porto?");
        c.push_assistant("Porto has bridges.", false);
        let notes = c.messages().iter().filter(|m| m.role == "system").count();
        assert_eq!(notes, 1, "the note goes with the last reply only");
    }

    #[test]
    fn dropped_statements_are_remembered() {
        let mut c = Conversation::new("sys", 120);
        c.push_user("My name is Ada.");
        c.push_assistant("Nice to meet you, Ada.", false);
        for i in 0..10 {
            c.push_user(format!("Question number {i}?"));
            c.push_assistant(format!("Answer number {i}."), false);
        }
        c.push_user("Name a fruit that is yellow.");
        c.push_assistant("A banana.", false);
        c.push_user("What is my name?");
        assert!(c.trim() > 0);
        assert_eq!(c.remembered().collect::<Vec<_>>(), ["My name is Ada."]);
        let m = c.messages();
        assert_eq!(m[0].content, "sys", "the system prompt never changes");
        let note = &m[m.len() - 2];
        assert!(
            note.role == "system" && note.content.contains("\"My name is Ada.\""),
            "the memory goes just before the turn being answered: {note:?}"
        );
        assert!(c.estimated_tokens() <= 120);
        c.forget_mentions(&["ada".to_owned()]);
        assert_eq!(
            c.remembered().len(),
            0,
            "forgotten from the running memory too"
        );
    }

    #[test]
    fn forgetting_a_topic_drops_its_exchanges_and_statements() {
        let mut c = Conversation::new("sys", 10_000);
        c.push_user("My dog is called Rex.");
        c.push_assistant("What a good name.", false);
        c.push_user("What is the capital of Peru?");
        c.push_assistant("Lima.", false);
        c.push_user("I have two dogs now.");
        c.push_assistant("Two of them!", false);
        assert_eq!(c.forget_mentions(&["dog".to_owned()]), 4);
        let texts: Vec<&str> = c.turns().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["What is the capital of Peru?", "Lima."]);
    }

    #[test]
    fn a_user_turn_note_follows_it() {
        let mut c = Conversation::new("sys", 10_000);
        c.push_user("What is my dog's name?");
        assert!(c.note_last_user("From before: \"My dog is Rex.\"".to_owned()));
        let m = c.messages();
        assert_eq!(
            (m[2].role.as_str(), m[2].content.contains("Rex")),
            ("system", true)
        );
        c.push_assistant("Rex.", false);
        assert!(!c.note_last_user("x".to_owned()));
    }

    #[test]
    fn a_retracted_exchange_leaves_no_trace() {
        let mut c = Conversation::new("sys", 10_000);
        c.push_user("Hi.");
        c.push_assistant("Hello!", false);
        c.push_user("And so my fellow Americans");
        c.push_assistant("That is a famous", true);
        assert!(c.retract_last_exchange());
        assert_eq!(c.last().map(|t| t.text.as_str()), Some("Hello!"));
        c.push_user("A question without a reply yet");
        assert!(
            !c.retract_last_exchange(),
            "only a whole exchange is retracted"
        );
        assert_eq!(c.turns().len(), 3);
    }

    #[test]
    fn compacting_between_turns_keeps_the_cached_start_and_puts_the_memory_last() {
        let mut c = Conversation::new("sys", 200);
        c.push_user("My name is Ada.");
        c.push_assistant("Nice to meet you, Ada.", false);
        let mut i = 0;
        while c.compact() == 0 {
            c.push_user(format!("Question number {i}?"));
            c.push_assistant(format!("Answer number {i}."), false);
            i += 1;
        }
        assert!(c.estimated_tokens() <= 200 * LOW_WATER_PERCENT / 100);
        let m = c.messages();
        assert_eq!(m[0].content, "sys");
        let last = &m[m.len() - 1];
        assert!(
            last.role == "system" && last.content.contains("Ada"),
            "the changed memory follows the newest turn: {last:?}"
        );
        // The next turns go after the note; a later compaction with nothing new to remember
        // leaves the note where it is (it moves forward only as turns before it go).
        let kept_before = c.turns().len();
        for j in 0..3 {
            c.push_user(format!("Later question {j}?"));
            c.push_assistant(format!("Later answer {j}."), false);
        }
        let dropped = c.compact();
        assert!(dropped > 0);
        let m = c.messages();
        let note = m.iter().position(|x| x.content.contains("Ada")).unwrap();
        assert_eq!(note, 1 + kept_before.saturating_sub(dropped));
        assert!(c.retract_last_exchange());
        assert!(c.messages().iter().any(|x| x.content.contains("Ada")));
    }

    #[test]
    fn trimming_keeps_system_and_last_turn() {
        let mut c = Conversation::new("system prompt", 200);
        for i in 0..40 {
            c.push_user(format!("question number {i}"));
            c.push_assistant(format!("answer number {i}"), false);
        }
        c.push_user("the last question");
        let dropped = c.trim();
        assert!(dropped > 0 && dropped.is_multiple_of(2));
        assert!(c.estimated_tokens() <= 200 * LOW_WATER_PERCENT / 100);
        assert_eq!(c.messages()[0].content, "system prompt");
        assert_eq!(c.turns().next().map(|t| t.role), Some(Role::User));
        assert_eq!(c.last().map(|t| t.text.as_str()), Some("the last question"));
        assert_eq!(c.trim(), 0);
        assert_eq!(c.dropped_turns(), dropped);
    }
}
