//! Conversation memory: the system prompt and the user/assistant turns, within a token budget.
//!
//! - The system prompt is always first and never dropped.
//! - When the history grows past the budget, the oldest exchanges are dropped, down to
//!   [`LOW_WATER_PERCENT`] of the budget, so that this happens rarely (each drop changes the
//!   prompt's start; the embedded worker shifts its cache rather than recomputing, a server may
//!   recompute). The turn being answered is never dropped. Dropped turns are counted.
//! - An assistant turn the user talked over is cut to the words that were actually heard and
//!   marked interrupted; the model then sees it ending in [`INTERRUPTED_MARK`].
//!
//! Token counts are estimates (about 3 bytes per token plus a few tokens of framing per message),
//! which over-count English for SmolLM2's tokenizer: the budget errs on the safe side for any
//! backend, without asking the model to tokenize.

use std::collections::VecDeque;

use super::ChatMessage;

/// What an interrupted assistant turn ends with in the prompt.
pub const INTERRUPTED_MARK: &str = "... [interrupted by the user]";
/// After trimming, the history is at most this share of the budget.
pub const LOW_WATER_PERCENT: usize = 70;
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
}

impl Turn {
    /// The message the model sees for this turn.
    pub fn message(&self) -> ChatMessage {
        let content = if self.interrupted {
            format!("{}{INTERRUPTED_MARK}", self.text.trim_end())
        } else {
            self.text.clone()
        };
        ChatMessage {
            role: self.role.as_str().to_owned(),
            content,
        }
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
        }
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
    pub fn turns(&self) -> impl ExactSizeIterator<Item = &Turn> {
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

    /// Forgets every turn (the system prompt stays).
    pub fn clear(&mut self) {
        self.turns.clear();
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
        });
    }

    /// Removes the last turn if it is the user's (a reply to it failed).
    pub fn pop_user(&mut self) -> Option<Turn> {
        if self.turns.back()?.role == Role::User {
            self.turns.pop_back()
        } else {
            None
        }
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

    /// The messages to send: system prompt, then every turn.
    pub fn messages(&self) -> Vec<ChatMessage> {
        let mut out = Vec::with_capacity(self.turns.len() + 1);
        out.push(ChatMessage {
            role: "system".to_owned(),
            content: self.system.clone(),
        });
        out.extend(self.turns.iter().map(Turn::message));
        out
    }

    /// Estimated tokens of [`messages`](Self::messages).
    pub fn estimated_tokens(&self) -> usize {
        estimate_tokens(&self.system)
            + self
                .turns
                .iter()
                .map(|t| estimate_tokens(&t.message().content))
                .sum::<usize>()
    }

    /// Drops the oldest turns if the history is over budget; returns how many were dropped.
    /// Whole exchanges go (a user turn with the replies that follow it), and the last turn
    /// always stays.
    pub fn trim(&mut self) -> usize {
        if self.estimated_tokens() <= self.budget_tokens {
            return 0;
        }
        let target = self.budget_tokens * LOW_WATER_PERCENT / 100;
        let mut dropped = 0;
        while self.turns.len() > 1 && self.estimated_tokens() > target {
            self.turns.pop_front();
            dropped += 1;
            // Never leave a reply without the question it answers at the front.
            while self.turns.len() > 1 && self.turns.front().is_some_and(|t| t.role != Role::User) {
                self.turns.pop_front();
                dropped += 1;
            }
        }
        self.dropped_turns += dropped;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_turns_are_cut_and_marked() {
        let mut c = Conversation::new("sys", 10_000);
        c.push_user("Tell me a story.");
        c.push_assistant("Once upon a time there was a fox who", false);
        assert!(c.interrupt_last("Once upon a time"));
        let m = c.messages();
        assert_eq!(m[0].role, "system");
        assert_eq!(m[2].content, format!("Once upon a time{INTERRUPTED_MARK}"));
        c.push_user("Stop.");
        assert!(!c.interrupt_last("x"));
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
