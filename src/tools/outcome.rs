//! A tool call and how it ended.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One call the model asked for: a tool's name and its arguments (a JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The tool's name as the registry lists it.
    pub name: String,
    /// Its arguments.
    pub arguments: serde_json::Value,
}

/// How a call ended. Every way is told in words ([`ToolOutcome::describe`]): the conversation
/// goes on whatever happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOutcome {
    /// The tool answered with this text.
    Ok(String),
    /// It ran past its time limit and was stopped.
    TimedOut {
        /// The limit it ran past.
        after: Duration,
    },
    /// It could not run, or ran and failed; why, in words.
    Failed(String),
    /// It was cancelled before it finished (its process killed).
    Cancelled,
}

impl ToolOutcome {
    /// True when the tool answered.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }

    /// A one-word label for logs and events: `ok`, `timed_out`, `failed`, `cancelled`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ok(_) => "ok",
            Self::TimedOut { .. } => "timed_out",
            Self::Failed(_) => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The outcome as the model reads it: the tool's answer, or what went wrong in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Ok(text) if text.trim().is_empty() => "(done; the tool printed nothing)".into(),
            Self::Ok(text) => text.clone(),
            Self::TimedOut { after } => format!(
                "error: the tool did not answer within {:.1} s and was stopped",
                after.as_secs_f64()
            ),
            Self::Failed(why) => format!("error: {why}"),
            Self::Cancelled => "error: the call was cancelled before it finished".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_told_in_words() {
        assert_eq!(ToolOutcome::Ok("12 °C".into()).describe(), "12 °C");
        assert_eq!(
            ToolOutcome::Ok(" \n".into()).describe(),
            "(done; the tool printed nothing)"
        );
        assert_eq!(
            ToolOutcome::TimedOut {
                after: Duration::from_millis(1500)
            }
            .describe(),
            "error: the tool did not answer within 1.5 s and was stopped"
        );
        assert_eq!(
            ToolOutcome::Failed("no such city".into()).describe(),
            "error: no such city"
        );
        assert_eq!(ToolOutcome::Cancelled.label(), "cancelled");
    }
}
