//! Server-sent events, as streamed by `/v1/chat/completions` with `stream: true`, and the
//! OpenAI chunk format inside them.
//!
//! An event is a run of `data:` lines ended by a blank line (`:` lines are comments; `event:`,
//! `id:` and `retry:` are ignored). Each event's data is a JSON chunk whose
//! `choices[0].delta.content` holds the next piece of text, or the literal `[DONE]`.

use serde_json::Value;

/// Assembles `data:` lines into events.
#[derive(Debug, Default)]
pub struct SseParser {
    data: Option<String>,
}

impl SseParser {
    /// Feeds one line (without its line ending); returns an event's data when the line
    /// completes one.
    pub fn line(&mut self, line: &str) -> Option<String> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return self.data.take();
        }
        if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        None
    }

    /// The data of an event left unterminated at the end of the stream.
    pub fn finish(&mut self) -> Option<String> {
        self.data.take()
    }
}

/// What one chunk says.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// Text (may be empty, e.g. the first chunk that only carries the role), and the finish
    /// reason when this chunk ends the reply.
    Delta {
        /// The next piece of the reply.
        content: String,
        /// `stop`, `length`, ... when the reply ends here.
        finish_reason: Option<String>,
    },
    /// `[DONE]`: the stream is over.
    Done,
    /// The server reported an error inside the stream.
    Error(String),
}

/// Interprets one event's data.
pub fn parse_chunk(data: &str) -> Result<Chunk, String> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(Chunk::Done);
    }
    let value: Value =
        serde_json::from_str(data).map_err(|e| format!("unreadable event ({e}): {data}"))?;
    if let Some(error) = value.get("error") {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| error.to_string(), str::to_owned);
        return Ok(Chunk::Error(message));
    }
    let choice = value.get("choices").and_then(|c| c.get(0));
    let content = choice
        .and_then(|c| c.get("delta"))
        .and_then(|d| d.get("content"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let finish_reason = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Chunk::Delta {
        content,
        finish_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_events() {
        let mut p = SseParser::default();
        assert_eq!(p.line(": keep-alive"), None);
        assert_eq!(p.line("data: {\"a\":"), None);
        assert_eq!(p.line("data:1}\r"), None);
        assert_eq!(p.line(""), Some("{\"a\":\n1}".to_owned()));
        assert_eq!(p.line(""), None);
        assert_eq!(p.line("data: [DONE]"), None);
        assert_eq!(p.finish(), Some("[DONE]".to_owned()));
    }

    #[test]
    fn reads_openai_chunks() {
        let c = r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
        assert_eq!(
            parse_chunk(c),
            Ok(Chunk::Delta {
                content: "Hi".into(),
                finish_reason: None
            })
        );
        let end = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#;
        assert_eq!(
            parse_chunk(end),
            Ok(Chunk::Delta {
                content: String::new(),
                finish_reason: Some("stop".into())
            })
        );
        assert_eq!(parse_chunk("[DONE]"), Ok(Chunk::Done));
        let err = r#"{"error":{"code":500,"message":"boom"}}"#;
        assert_eq!(parse_chunk(err), Ok(Chunk::Error("boom".into())));
        assert!(parse_chunk("{nope").is_err());
    }
}
