//! What the conversation is told from the store, and what the user asks of it in words.
//!
//! - At the start of a call: a bounded block of the most recent facts, after the system prompt
//!   ([`PROFILE_HEADER`]).
//! - On a turn that asks about the user's own things ("what did I tell you about my sister?",
//!   "do you remember my dog's name?", "where do I live?"): the matching facts, in a note just
//!   before the reply is generated ([`recalled_note`]); when the user asked outright and nothing
//!   matches, a note that nothing was told, so that a small model does not invent it.
//! - "Forget what I told you about X", "forget everything": a [`ForgetRequest`], carried out and
//!   confirmed in words chosen here, without the model ([`forget_confirmation`]).

use super::extract::{speaks_of_self, topic_words, word};

/// Introduces the facts from earlier calls in the system message.
pub const PROFILE_HEADER: &str = "From earlier conversations, the user told you:";

/// Phrases that ask outright what the user told before.
const ASKS_TO_RECALL: [&str; 8] = [
    "did i tell you",
    "have i told you",
    "what did i say",
    "do you remember",
    "you remember",
    "what do you know about",
    "did i mention",
    "what did i tell",
];

/// Question words that start a question about the user's own things ("where do I live").
const QUESTION_STARTS: [&str; 12] = [
    "what", "what's", "whats", "who", "who's", "where", "when", "which", "how", "do", "does", "did",
];

/// A turn that asks about what the user told: search the store for `words`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallQuery {
    /// The topic's words ("sister", "dog"); empty when the user asked about everything.
    pub words: Vec<String>,
    /// Asked outright ("what did I tell you about..."): say so when nothing matches.
    pub outright: bool,
}

/// The recall query of `utterance`, if it asks about the user's own things.
pub fn recall_query(utterance: &str) -> Option<RecallQuery> {
    let lower = utterance.to_lowercase().replace('’', "'");
    let outright = ASKS_TO_RECALL.iter().any(|p| lower.contains(p));
    let first = lower
        .split_whitespace()
        .next()
        .map(word)
        .unwrap_or_default();
    let question = lower.trim_end().ends_with('?') || QUESTION_STARTS.contains(&first.as_str());
    if !(outright || (question && speaks_of_self(&lower))) {
        return None;
    }
    Some(RecallQuery {
        words: topic_words(&lower),
        outright,
    })
}

/// What the user asked to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetRequest {
    /// Everything they ever told.
    Everything,
    /// What they told about this topic (the words after "about", as said).
    About(String),
}

/// Words before the verb that keep a sentence a request ("please", "can you", ...).
const POLITE: [&str; 12] = [
    "please", "can", "could", "would", "will", "you", "just", "now", "ok", "okay", "so", "and",
];

/// The forget request of `utterance`: "forget everything", "please forget all of it", "forget
/// what I told you about my sister", "can you forget about my job", "forget my address". Not
/// "I forget where I put it", "don't forget my birthday".
pub fn forget_request(utterance: &str) -> Option<ForgetRequest> {
    let lower = utterance.to_lowercase().replace('’', "'");
    let words: Vec<String> = lower.split_whitespace().map(word).collect();
    let verb = words.iter().position(|w| w == "forget")?;
    if !words[..verb].iter().all(|w| POLITE.contains(&w.as_str())) {
        return None;
    }
    let rest: Vec<&str> = words[verb + 1..]
        .iter()
        .map(String::as_str)
        .filter(|w| !w.is_empty())
        .collect();
    let everything = matches!(
        rest.as_slice(),
        ["everything", ..]
            | ["all", ..]
            | ["it", "all", ..]
            | ["me"]
            | ["about", "me" | "everything", ..]
    );
    if everything {
        return Some(ForgetRequest::Everything);
    }
    let topic = match rest.iter().position(|w| *w == "about") {
        Some(i) => &rest[i + 1..],
        None => &rest[..],
    };
    let topic = topic.join(" ");
    (!topic_words(&topic).is_empty()).then_some(ForgetRequest::About(topic))
}

/// The words said aloud once a forget request is carried out (`forgotten`: memories removed
/// from the store; `None` when there is no store: memory is off, or unusable).
pub fn forget_confirmation(request: &ForgetRequest, forgotten: Option<usize>) -> String {
    match (request, forgotten) {
        (ForgetRequest::Everything, _) => {
            "Done. I have forgotten everything you told me.".to_owned()
        }
        (ForgetRequest::About(topic), Some(0)) => {
            format!(
                "I had nothing saved about {}, so there is nothing to forget.",
                yours(topic)
            )
        }
        (ForgetRequest::About(topic), _) => {
            format!(
                "Done. I have forgotten what you told me about {}.",
                yours(topic)
            )
        }
    }
}

/// The user's words turned to be said back to them ("my sister" -> "your sister").
fn yours(topic: &str) -> String {
    topic
        .split_whitespace()
        .map(|w| match word(w).as_str() {
            "my" => "your",
            "me" | "myself" => "you",
            "i" => "you",
            "our" => "your",
            "mine" => "yours",
            _ => w.trim_end_matches(['.', '!', '?', ',']),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `facts` quoted after a header.
fn quoted(header: &str, facts: &[String]) -> String {
    let said: Vec<String> = facts.iter().map(|f| format!("\"{}\"", f.trim())).collect();
    format!("{header} {}", said.join(" "))
}

/// The system prompt's block of facts from earlier calls (empty when there are none).
pub fn prompt_block(facts: &[String]) -> String {
    if facts.is_empty() {
        return String::new();
    }
    quoted(PROFILE_HEADER, facts)
}

/// The note before a reply to a recall question: what matched, or that nothing was told.
pub fn recalled_note(query: &RecallQuery, facts: &[String]) -> Option<String> {
    if facts.is_empty() {
        return query.outright.then(|| {
            "The user never told you about this in an earlier conversation; say so.".to_owned()
        });
    }
    Some(quoted(
        "In an earlier conversation, the user told you:",
        facts,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_about_the_users_own_things_search_the_store() {
        let q = recall_query("What did I tell you about my sister?").unwrap();
        assert_eq!(
            (q.words.as_slice(), q.outright),
            (&["sister".to_owned()][..], true)
        );
        let q = recall_query("where do I live").unwrap();
        assert_eq!(
            (q.words.as_slice(), q.outright),
            (&["live".to_owned()][..], false)
        );
        assert!(
            recall_query("Do you remember my dog's name?")
                .unwrap()
                .outright
        );
        assert_eq!(recall_query("What is the capital of France?"), None);
        assert_eq!(recall_query("My sister lives in Porto."), None);
    }

    #[test]
    fn forget_requests_are_told_from_forgetting() {
        let about = |t: &str| Some(ForgetRequest::About(t.to_owned()));
        assert_eq!(
            forget_request("Forget everything."),
            Some(ForgetRequest::Everything)
        );
        assert_eq!(
            forget_request("Please forget all of it"),
            Some(ForgetRequest::Everything)
        );
        assert_eq!(
            forget_request("Can you forget about me?"),
            Some(ForgetRequest::Everything)
        );
        assert_eq!(
            forget_request("Forget what I told you about my sister."),
            about("my sister")
        );
        assert_eq!(
            forget_request("could you forget about my job"),
            about("my job")
        );
        assert_eq!(forget_request("Forget my address."), about("my address"));
        assert_eq!(forget_request("I forget where I put my keys."), None);
        assert_eq!(forget_request("Don't forget my birthday!"), None);
        assert_eq!(forget_request("Never forget."), None);
    }

    #[test]
    fn confirmations_speak_to_the_user() {
        let about = ForgetRequest::About("my sister.".to_owned());
        assert_eq!(
            forget_confirmation(&about, Some(2)),
            "Done. I have forgotten what you told me about your sister."
        );
        assert!(forget_confirmation(&about, Some(0)).starts_with("I had nothing saved"));
    }
}
