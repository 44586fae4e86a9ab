//! Separates what an embedded brain says from the tool calls it writes, as its reply streams
//! in token by token: text outside `<tool_call>...</tool_call>` is speech and is passed on at
//! once, except a tail that may be the start of `<tool_call>` (held until the next piece says);
//! a call is never spoken, and is handed over whole when its closing tag arrives. A small model
//! (Qwen2.5-Coder-0.5B, the balanced brain) often writes the call's JSON object bare, without the
//! tags, as its whole reply: a reply whose first non-blank character is `{` is taken as a call,
//! complete when its object closes. A reply that ends (or is cut) inside a call gives
//! [`ReplyPiece::Unfinished`]: such a call never runs.

use serde_json::Value;

use super::outcome::ToolCall;
use super::prompt::{CALL_CLOSE, CALL_OPEN};

/// A part of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyPiece {
    /// Words to speak.
    Speech(String),
    /// A complete, well-formed call.
    Call(ToolCall),
    /// A complete call that cannot be read: its text and why.
    Malformed {
        /// What stood between the tags.
        text: String,
        /// Why it is no call, in words.
        problem: String,
    },
    /// A call the reply ended inside of (generation stopped or cancelled): never run.
    Unfinished(String),
}

/// Where the parser is in the reply.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing but blanks yet: a `{` now opens a bare call.
    #[default]
    Start,
    /// Speech (a tag may open a call).
    Speech,
    /// Inside `<tool_call>`, until `</tool_call>`.
    TaggedCall,
    /// Inside a bare JSON object, until it closes.
    BareCall,
    /// Just after a bare call: a `</tool_call>` here (the grammar allows one) is dropped.
    AfterBareCall,
}

/// The parser of one reply: feed it the pieces as they come, then [`ToolCallParser::finish`].
#[derive(Debug, Default)]
pub struct ToolCallParser {
    /// Text not yet handed over: held speech, or the call's text so far.
    buffer: String,
    mode: Mode,
}

impl ToolCallParser {
    /// A parser at the start of a reply.
    pub fn new() -> Self {
        Self::default()
    }

    /// True while the reply is inside a call (nothing of it is speech).
    pub fn in_call(&self) -> bool {
        matches!(self.mode, Mode::TaggedCall | Mode::BareCall)
    }

    /// Takes the next piece of the reply; returns what it completes.
    pub fn push(&mut self, piece: &str) -> Vec<ReplyPiece> {
        self.buffer.push_str(piece);
        let mut out = Vec::new();
        loop {
            match self.mode {
                Mode::Start => {
                    let blank = self.buffer.len() - self.buffer.trim_start().len();
                    match self.buffer[blank..].chars().next() {
                        None => break,
                        Some('{') => {
                            self.buffer.drain(..blank);
                            self.mode = Mode::BareCall;
                        }
                        Some(_) => self.mode = Mode::Speech,
                    }
                }
                Mode::BareCall => {
                    let Some(end) = json_object_end(&self.buffer) else {
                        break;
                    };
                    let body: String = self.buffer.drain(..end).collect();
                    out.push(read_call(&body));
                    self.mode = Mode::AfterBareCall;
                }
                Mode::AfterBareCall => {
                    let rest = self.buffer.trim_start();
                    if let Some(after) = rest.strip_prefix(CALL_CLOSE) {
                        self.buffer = after.to_owned();
                    } else if CALL_CLOSE.starts_with(rest) {
                        break;
                    }
                    self.mode = Mode::Speech;
                }
                Mode::TaggedCall => {
                    let Some(end) = self.buffer.find(CALL_CLOSE) else {
                        break;
                    };
                    let body: String = self.buffer[..end].to_owned();
                    self.buffer.drain(..end + CALL_CLOSE.len());
                    self.mode = Mode::Speech;
                    out.push(read_call(&body));
                }
                Mode::Speech => {
                    if let Some(start) = self.buffer.find(CALL_OPEN) {
                        push_speech(&mut out, &self.buffer[..start]);
                        self.buffer.drain(..start + CALL_OPEN.len());
                        self.mode = Mode::TaggedCall;
                        continue;
                    }
                    let keep = partial_tag_len(&self.buffer);
                    let speak = self.buffer.len() - keep;
                    push_speech(&mut out, &self.buffer[..speak]);
                    self.buffer.drain(..speak);
                    break;
                }
            }
        }
        out
    }

    /// The end of the reply: held speech, or the call it ended inside. A tagged call whose
    /// JSON object is complete but whose closing tag never came is still a call (the model
    /// stopped right after it); anything less is [`ReplyPiece::Unfinished`].
    pub fn finish(self) -> Vec<ReplyPiece> {
        let mut out = Vec::new();
        match self.mode {
            // Blanks, or the start of a closing tag cut off: nothing to say.
            Mode::Start | Mode::AfterBareCall => {}
            Mode::Speech => push_speech(&mut out, &self.buffer),
            Mode::BareCall => out.push(ReplyPiece::Unfinished(self.buffer)),
            Mode::TaggedCall => {
                let body = self.buffer.trim();
                match json_object_end(body) {
                    Some(end) if end == body.len() => out.push(read_call(body)),
                    _ => out.push(ReplyPiece::Unfinished(self.buffer)),
                }
            }
        }
        out
    }
}

fn push_speech(out: &mut Vec<ReplyPiece>, text: &str) {
    if !text.is_empty() {
        out.push(ReplyPiece::Speech(text.to_owned()));
    }
}

/// Length of the longest end of `text` that is a proper start of [`CALL_OPEN`].
fn partial_tag_len(text: &str) -> usize {
    (1..CALL_OPEN.len())
        .rev()
        .find(|&n| text.ends_with(&CALL_OPEN[..n]))
        .unwrap_or(0)
}

/// The byte just after the `}` that closes the JSON object `text` starts with (leading blanks
/// allowed); `None` while it is open (braces inside strings do not count).
fn json_object_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') => in_string = false,
            (true, _) => {}
            (false, '"') => in_string = true,
            (false, '{' | '[') => depth += 1,
            (false, '}' | ']') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            (false, _) => {}
        }
    }
    None
}

/// A call's body: `{"name": "...", "arguments": {...}}` (arguments may also come as a string
/// holding that object, or be left out for none).
fn read_call(body: &str) -> ReplyPiece {
    let malformed = |problem: String| ReplyPiece::Malformed {
        text: body.trim().to_owned(),
        problem,
    };
    let value: Value = match serde_json::from_str(body.trim()) {
        Ok(value) => value,
        Err(e) => return malformed(format!("the call is not JSON: {e}")),
    };
    let Some(name) = value.get("name").and_then(Value::as_str) else {
        return malformed("the call has no \"name\"".into());
    };
    let arguments = match value.get("arguments") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(Value::Object(fields)) => Value::Object(fields.clone()),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(inner @ Value::Object(_)) => inner,
            _ => return malformed("the call's \"arguments\" are not a JSON object".into()),
        },
        Some(_) => return malformed("the call's \"arguments\" are not a JSON object".into()),
    };
    ReplyPiece::Call(ToolCall {
        name: name.to_owned(),
        arguments,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Feeds `reply` in pieces of `size` characters; all pieces, with consecutive speech merged.
    fn parse(reply: &str, size: usize) -> Vec<ReplyPiece> {
        let chars: Vec<char> = reply.chars().collect();
        let mut parser = ToolCallParser::new();
        let mut pieces = Vec::new();
        for chunk in chars.chunks(size) {
            pieces.extend(parser.push(&chunk.iter().collect::<String>()));
        }
        pieces.extend(parser.finish());
        let mut merged: Vec<ReplyPiece> = Vec::new();
        for piece in pieces {
            match (merged.last_mut(), piece) {
                (Some(ReplyPiece::Speech(a)), ReplyPiece::Speech(b)) => a.push_str(&b),
                (_, piece) => merged.push(piece),
            }
        }
        merged
    }

    fn weather_call() -> ReplyPiece {
        ReplyPiece::Call(ToolCall {
            name: "get_weather".into(),
            arguments: json!({ "city": "Paris" }),
        })
    }

    #[test]
    fn a_call_is_taken_out_of_the_speech_whatever_the_piece_size() {
        let reply = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \
                     {\"city\": \"Paris\"}}\n</tool_call>";
        for size in [1, 2, 3, 7, 11, 500] {
            assert_eq!(
                parse(reply, size),
                [ReplyPiece::Speech("Let me check.\n".into()), weather_call()],
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn speech_is_passed_on_at_once_and_only_a_possible_tag_is_held() {
        let mut parser = ToolCallParser::new();
        assert_eq!(
            parser.push("It is 3 < 4, "),
            [ReplyPiece::Speech("It is 3 < 4, ".into())]
        );
        assert_eq!(parser.push("so <tool"), [ReplyPiece::Speech("so ".into())]);
        assert_eq!(
            parser.push("box> wins"),
            [ReplyPiece::Speech("<toolbox> wins".into())]
        );
        assert_eq!(parser.push("<tool_call>{\"name\""), []);
        assert!(parser.in_call());
        assert_eq!(
            parser.finish(),
            [ReplyPiece::Unfinished("{\"name\"".into())]
        );
    }

    #[test]
    fn two_calls_and_speech_around_them() {
        let reply = "<tool_call>{\"name\": \"get_date_time\"}</tool_call>\
                     <tool_call>{\"name\": \"calculate\", \"arguments\": \"{\\\"expression\\\": \\\"2+2\\\"}\"}</tool_call>Done.";
        assert_eq!(
            parse(reply, 4),
            [
                ReplyPiece::Call(ToolCall {
                    name: "get_date_time".into(),
                    arguments: json!({})
                }),
                ReplyPiece::Call(ToolCall {
                    name: "calculate".into(),
                    arguments: json!({ "expression": "2+2" })
                }),
                ReplyPiece::Speech("Done.".into()),
            ]
        );
    }

    #[test]
    fn a_malformed_call_is_named_and_never_spoken() {
        let pieces = parse("<tool_call>\n{\"name\": get_weather}\n</tool_call>", 5);
        let [ReplyPiece::Malformed { text, problem }] = &pieces[..] else {
            panic!("{pieces:?}");
        };
        assert_eq!(text, "{\"name\": get_weather}");
        assert!(problem.starts_with("the call is not JSON"), "{problem}");
        let pieces = parse("<tool_call>{\"arguments\": {}}</tool_call>", 5);
        assert!(
            matches!(&pieces[..], [ReplyPiece::Malformed { problem, .. }] if problem == "the call has no \"name\""),
            "{pieces:?}"
        );
        let pieces = parse(
            "<tool_call>{\"name\": \"x\", \"arguments\": [1]}</tool_call>",
            5,
        );
        assert!(
            matches!(&pieces[..], [ReplyPiece::Malformed { .. }]),
            "{pieces:?}"
        );
    }

    #[test]
    fn a_reply_cut_inside_a_call_never_yields_it() {
        let reply = "Sure.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par";
        assert_eq!(
            parse(reply, 3),
            [
                ReplyPiece::Speech("Sure.".into()),
                ReplyPiece::Unfinished(
                    "\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par".into()
                )
            ]
        );
        assert_eq!(
            parse("Hello <tool_", 2),
            [ReplyPiece::Speech("Hello <tool_".into())]
        );
    }

    #[test]
    fn a_bare_json_reply_is_a_call_and_speech_after_it_is_speech() {
        let reply = "  {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call> Done {ok}.";
        for size in [1, 4, 9, 500] {
            assert_eq!(
                parse(reply, size),
                [weather_call(), ReplyPiece::Speech(" Done {ok}.".into())],
                "pieces of {size}"
            );
        }
        let braces_in_strings =
            "{\"name\": \"calculate\", \"arguments\": {\"expression\": \"}{\\\"\"}}";
        assert_eq!(
            parse(braces_in_strings, 3),
            [ReplyPiece::Call(ToolCall {
                name: "calculate".into(),
                arguments: json!({ "expression": "}{\"" })
            })]
        );
        assert_eq!(
            parse("{\"name\": \"get_weather\", \"argu", 3),
            [ReplyPiece::Unfinished(
                "{\"name\": \"get_weather\", \"argu".into()
            )]
        );
        // A brace later in a reply is speech.
        assert_eq!(
            parse("Use {braces}.", 2),
            [ReplyPiece::Speech("Use {braces}.".into())]
        );
    }

    #[test]
    fn a_tagged_call_complete_but_never_closed_is_still_a_call() {
        let reply =
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n";
        assert_eq!(parse(reply, 5), [weather_call()]);
    }
}
