//! A profile's own thread: the one writer of its store during a call. It takes the user's turns
//! as they come, keeps their statements, answers searches and forgets, in the order asked (a
//! forget sees every turn said before it), and writes the call's summary when the call ends.

use std::sync::mpsc;

use super::extract::{mentions, sentences, statements, topic_words};
use super::recall::ForgetRequest;
use super::store::{Store, StoreError};

/// Work for the profile's thread.
pub(super) enum Job {
    /// A user turn and when (Unix seconds).
    Said(String, i64),
    /// The `n` most recent facts.
    Recent(usize, mpsc::Sender<Vec<String>>),
    /// Facts matching the words (the most recent when there are none), at most `n`.
    Search(Vec<String>, usize, mpsc::Sender<Vec<String>>),
    /// Forget; answers how many memories went (`None` if the store failed).
    Forget(ForgetRequest, mpsc::Sender<Option<usize>>),
}

/// Questions and requests of a call quoted in its summary.
const SUMMARY_ASKS: usize = 3;
/// Words of each quoted question.
const SUMMARY_WORDS: usize = 12;

/// Serves `jobs` for `profile` until the call ends (the sender is dropped), then writes the
/// call's summary.
pub(super) fn run(store: &Store, profile: &str, jobs: &mpsc::Receiver<Job>) {
    let mut call: Vec<String> = Vec::new();
    let mut last_at = super::now();
    let warn = |e: StoreError| tracing::warn!("memory: {e}");
    for job in jobs {
        match job {
            Job::Said(text, at) => {
                last_at = at;
                for s in statements(&text) {
                    if let Err(e) = store.add_fact(profile, &s.text, &s.said, at) {
                        warn(e);
                    }
                }
                call.push(text);
            }
            Job::Recent(n, reply) => {
                let facts = store
                    .recent_facts(profile, n)
                    .map_err(warn)
                    .unwrap_or_default();
                let _ = reply.send(facts.into_iter().map(|m| m.text).collect());
            }
            Job::Search(words, n, reply) => {
                let found = if words.is_empty() {
                    store.recent_facts(profile, n)
                } else {
                    store.search(profile, &words, n)
                };
                let facts = found.map_err(warn).unwrap_or_default();
                let _ = reply.send(
                    facts
                        .into_iter()
                        .filter(|m| m.kind == super::store::Kind::Fact)
                        .map(|m| m.text)
                        .collect(),
                );
            }
            Job::Forget(request, reply) => {
                let forgotten = match &request {
                    ForgetRequest::Everything => {
                        call.clear();
                        store.forget_all(Some(profile))
                    }
                    ForgetRequest::About(topic) => {
                        let words = topic_words(topic);
                        call.retain(|said| !mentions(said, &words));
                        store.forget_matching(profile, &words)
                    }
                };
                let _ = reply.send(forgotten.map_err(warn).ok());
            }
        }
    }
    if let Some(summary) = summary(&call)
        && let Err(e) = store.add_summary(profile, &summary, last_at)
    {
        warn(e);
    }
}

/// A call's summary from the user's turns: how long it was, what they asked (the first few
/// questions and requests, shortened) and how many things they told about themselves. None for
/// a call without a turn.
pub fn summary(turns: &[String]) -> Option<String> {
    if turns.is_empty() {
        return None;
    }
    let told: usize = turns.iter().map(|t| statements(t).len()).sum();
    let asked: Vec<String> = turns
        .iter()
        .flat_map(|t| sentences(t))
        .filter(|s| statements(s).is_empty() && s.split_whitespace().count() >= 3)
        .take(SUMMARY_ASKS)
        .map(|s| {
            let words: Vec<&str> = s.split_whitespace().collect();
            let short = words[..words.len().min(SUMMARY_WORDS)].join(" ");
            if words.len() > SUMMARY_WORDS {
                format!("\"{short}...\"")
            } else {
                format!("\"{short}\"")
            }
        })
        .collect();
    let mut out = format!(
        "A call of {} turn{}.",
        turns.len(),
        if turns.len() == 1 { "" } else { "s" }
    );
    if !asked.is_empty() {
        out.push_str(&format!(" The user said: {}", asked.join(" ")));
        if !out.ends_with(['.', '?', '!', '"']) {
            out.push('.');
        }
    }
    if told > 0 {
        out.push_str(&format!(
            " They told {told} thing{} about themselves.",
            if told == 1 { "" } else { "s" }
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_says_what_was_asked_not_what_was_told() {
        let turns = [
            "Hi. My dog is called Biscuit.".to_owned(),
            "What is the capital of France?".to_owned(),
            "Tell me a joke about cats that is long enough to be cut short somewhere.".to_owned(),
        ];
        let s = summary(&turns).unwrap();
        assert!(!s.contains("Biscuit"), "{s}");
        assert!(s.starts_with("A call of 3 turns"), "{s}");
        assert!(s.contains("\"What is the capital of France?\""), "{s}");
        assert!(s.contains("enough to be...\""), "{s}");
        assert!(s.ends_with("They told 1 thing about themselves."), "{s}");
        assert_eq!(summary(&[]), None);
    }
}
