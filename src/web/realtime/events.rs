//! The events of OpenAI's Realtime protocol (GA) that `/v1/realtime` speaks: the client's, read
//! from JSON text into [`ClientEvent`], and the server's, written as JSON by the functions here
//! (the sender adds each one's `event_id`). Shapes follow the GA reference (the `openai`
//! package's `types/realtime`); fields duplex has nothing for are left out where the protocol
//! makes them optional.

use serde_json::{Value, json};

/// The pipeline's rate on the wire, both ways: PCM16 at 24 kHz, the protocol's default format.
pub const WIRE_RATE: u32 = 24_000;

/// Client events of the GA protocol that this endpoint does not carry out yet: answered with an
/// `error` whose code is `unsupported_event`, the session going on.
const NOT_YET: &[&str] = &[
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "output_audio_buffer.clear",
];

/// A client event this endpoint understands.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// `session.update`, its `session` object.
    SessionUpdate(Value),
    /// `input_audio_buffer.append`, its base64 `audio`.
    Append(String),
    /// `input_audio_buffer.commit`.
    Commit,
    /// `input_audio_buffer.clear`.
    Clear,
    /// `response.create`.
    ResponseCreate,
    /// `response.cancel`.
    ResponseCancel,
    /// A GA client event not carried out yet (its type).
    NotYet(String),
}

/// A client event and the `event_id` it carried, if any (echoed in an error about it).
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The event.
    pub event: ClientEvent,
    /// The client's id for it.
    pub event_id: Option<String>,
}

/// What the server tells the client in an `error` event.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolError {
    /// The error class: `invalid_request_error` (the client's fault) or `server_error`.
    pub kind: &'static str,
    /// A stable code.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The field at fault, if one.
    pub param: Option<String>,
    /// The client event it is about, if it had an id.
    pub event_id: Option<String>,
}

impl ProtocolError {
    /// The client's mistake.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: "invalid_request_error",
            code,
            message: message.into(),
            param: None,
            event_id: None,
        }
    }

    /// The server's failure.
    pub fn server(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: "server_error",
            code,
            ..Self::invalid(code, message)
        }
    }

    /// Names the field at fault.
    pub fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    /// About the client event with this id.
    pub fn about(mut self, event_id: Option<String>) -> Self {
        self.event_id = event_id;
        self
    }

    /// The `error` event.
    pub fn to_event(&self) -> Value {
        json!({
            "type": "error",
            "error": {
                "type": self.kind,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "event_id": self.event_id,
            }
        })
    }
}

/// Reads one client message.
pub fn parse(text: &str) -> Result<Received, ProtocolError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ProtocolError::invalid("invalid_json", format!("not JSON: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(ProtocolError::invalid(
            "invalid_json",
            "a client event is a JSON object",
        ));
    };
    let event_id = fields
        .get("event_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(kind) = fields
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Err(
            ProtocolError::invalid("missing_type", "the event has no string `type`")
                .param("type")
                .about(event_id),
        );
    };
    let event = match kind.as_str() {
        "session.update" => match fields.remove("session") {
            Some(session @ Value::Object(_)) => ClientEvent::SessionUpdate(session),
            _ => {
                return Err(ProtocolError::invalid(
                    "invalid_value",
                    "session.update needs a `session` object",
                )
                .param("session")
                .about(event_id));
            }
        },
        "input_audio_buffer.append" => match fields.remove("audio") {
            Some(Value::String(audio)) => ClientEvent::Append(audio),
            _ => {
                return Err(ProtocolError::invalid(
                    "invalid_value",
                    "input_audio_buffer.append needs `audio`: base64 PCM16",
                )
                .param("audio")
                .about(event_id));
            }
        },
        "input_audio_buffer.commit" => ClientEvent::Commit,
        "input_audio_buffer.clear" => ClientEvent::Clear,
        "response.create" => ClientEvent::ResponseCreate,
        "response.cancel" => ClientEvent::ResponseCancel,
        other if NOT_YET.contains(&other) => ClientEvent::NotYet(kind),
        other => {
            return Err(ProtocolError::invalid(
                "unknown_event_type",
                format!("unknown client event type `{other}`"),
            )
            .param("type")
            .about(event_id));
        }
    };
    Ok(Received { event, event_id })
}

/// How the user's turns are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnDetection {
    /// By the session's own turn-taking (`server_vad`; `semantic_vad` is taken as the same).
    Server,
    /// By the client: audio is heard only once committed (`null`).
    Client,
}

/// The session's settings as the client sees them.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// The session's id.
    pub id: String,
    /// The client's instructions (kept and echoed; the agent keeps its configured prompt).
    pub instructions: String,
    /// The voice asked for (echoed; duplex speaks with its configured voice).
    pub voice: String,
    /// How turns are found.
    pub turn_detection: TurnDetection,
}

impl SessionSettings {
    /// A new session's settings.
    pub fn new(id: u64) -> Self {
        Self {
            id: format!("sess_duplex_{id}"),
            instructions: String::new(),
            voice: "duplex".to_owned(),
            turn_detection: TurnDetection::Server,
        }
    }

    /// Applies a `session.update`'s `session` object; on error nothing is changed.
    pub fn update(&mut self, session: &Value) -> Result<(), ProtocolError> {
        let mut next = self.clone();
        if let Some(kind) = session.get("type").and_then(Value::as_str)
            && kind != "realtime"
        {
            return Err(ProtocolError::invalid(
                "unsupported_session_type",
                format!("only `realtime` sessions are served, not `{kind}`"),
            )
            .param("session.type"));
        }
        if let Some(instructions) = session.get("instructions") {
            next.instructions = instructions
                .as_str()
                .ok_or_else(|| {
                    ProtocolError::invalid("invalid_value", "instructions must be a string")
                        .param("session.instructions")
                })?
                .to_owned();
        }
        let audio = session.get("audio");
        for side in ["input", "output"] {
            if let Some(format) = audio
                .and_then(|a| a.get(side))
                .and_then(|s| s.get("format"))
            {
                check_format(format, side)?;
            }
        }
        if let Some(voice) = audio
            .and_then(|a| a.get("output"))
            .and_then(|o| o.get("voice"))
            .and_then(Value::as_str)
        {
            next.voice = voice.to_owned();
        }
        if let Some(detection) = audio
            .and_then(|a| a.get("input"))
            .and_then(|i| i.get("turn_detection"))
        {
            next.turn_detection = match detection.get("type").and_then(Value::as_str) {
                _ if detection.is_null() => TurnDetection::Client,
                Some("server_vad" | "semantic_vad") => TurnDetection::Server,
                other => {
                    return Err(ProtocolError::invalid(
                        "invalid_value",
                        format!(
                            "turn_detection must be null, server_vad or semantic_vad, not {}",
                            other.unwrap_or("a value without a type")
                        ),
                    )
                    .param("session.audio.input.turn_detection"));
                }
            };
        }
        *self = next;
        Ok(())
    }

    /// The `session` object of `session.created` and `session.updated`.
    pub fn to_json(&self) -> Value {
        let detection = match self.turn_detection {
            TurnDetection::Server => json!({
                "type": "server_vad",
                "create_response": true,
                "interrupt_response": true,
            }),
            TurnDetection::Client => Value::Null,
        };
        let format = json!({ "type": "audio/pcm", "rate": WIRE_RATE });
        json!({
            "type": "realtime",
            "object": "realtime.session",
            "id": self.id,
            "model": "duplex",
            "instructions": self.instructions,
            "output_modalities": ["audio"],
            "tools": [],
            "audio": {
                "input": {
                    "format": format,
                    "transcription": { "model": "duplex" },
                    "turn_detection": detection,
                },
                "output": { "format": format, "voice": self.voice },
            },
        })
    }
}

/// Refuses any audio format but PCM16 at 24 kHz.
fn check_format(format: &Value, side: &str) -> Result<(), ProtocolError> {
    let kind = format.get("type").and_then(Value::as_str);
    let rate = format.get("rate").and_then(Value::as_u64);
    if kind == Some("audio/pcm") && rate.is_none_or(|r| r == u64::from(WIRE_RATE)) {
        return Ok(());
    }
    Err(ProtocolError::invalid(
        "unsupported_audio_format",
        format!("only audio/pcm at {WIRE_RATE} Hz is served (asked: {format})"),
    )
    .param(&format!("session.audio.{side}.format")))
}

/// `session.created` or `session.updated`.
pub fn session(kind: &'static str, settings: &SessionSettings) -> Value {
    json!({ "type": kind, "session": settings.to_json() })
}

/// `input_audio_buffer.speech_started`.
pub fn speech_started(item_id: &str, audio_start_ms: u64) -> Value {
    json!({
        "type": "input_audio_buffer.speech_started",
        "item_id": item_id,
        "audio_start_ms": audio_start_ms,
    })
}

/// `input_audio_buffer.speech_stopped`.
pub fn speech_stopped(item_id: &str, audio_end_ms: u64) -> Value {
    json!({
        "type": "input_audio_buffer.speech_stopped",
        "item_id": item_id,
        "audio_end_ms": audio_end_ms,
    })
}

/// `input_audio_buffer.committed`.
pub fn committed(item_id: &str, previous_item_id: Option<&str>) -> Value {
    json!({
        "type": "input_audio_buffer.committed",
        "item_id": item_id,
        "previous_item_id": previous_item_id,
    })
}

/// `input_audio_buffer.cleared`.
pub fn cleared() -> Value {
    json!({ "type": "input_audio_buffer.cleared" })
}

/// `conversation.item.input_audio_transcription.completed`.
pub fn transcription_completed(item_id: &str, transcript: &str, seconds: f64) -> Value {
    json!({
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": item_id,
        "content_index": 0,
        "transcript": transcript,
        "usage": { "type": "duration", "seconds": seconds },
    })
}

/// One reply of the agent: the response and its one output item.
#[derive(Debug, Clone)]
pub struct ResponseIds {
    /// The response.
    pub response_id: String,
    /// Its assistant message.
    pub item_id: String,
}

/// A response object, with its status and (when done) its message's transcript.
fn response_object(
    ids: &ResponseIds,
    status: &str,
    reason: Option<&str>,
    transcript: Option<&str>,
) -> Value {
    let output = match transcript {
        Some(transcript) => json!([{
            "id": ids.item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": if status == "completed" { "completed" } else { "incomplete" },
            "content": [{ "type": "output_audio", "transcript": transcript }],
        }]),
        None => json!([]),
    };
    let details = reason.map(|reason| json!({ "type": status, "reason": reason }));
    json!({
        "object": "realtime.response",
        "id": ids.response_id,
        "status": status,
        "status_details": details,
        "output": output,
        "output_modalities": ["audio"],
        "audio": { "output": { "format": { "type": "audio/pcm", "rate": WIRE_RATE } } },
    })
}

/// `response.created`.
pub fn response_created(ids: &ResponseIds) -> Value {
    json!({ "type": "response.created", "response": response_object(ids, "in_progress", None, None) })
}

/// `response.output_item.added`.
pub fn output_item_added(ids: &ResponseIds) -> Value {
    json!({
        "type": "response.output_item.added",
        "response_id": ids.response_id,
        "output_index": 0,
        "item": {
            "id": ids.item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        },
    })
}

/// `response.output_audio.delta` (or, with `delta` none, `response.output_audio.done`).
pub fn audio(ids: &ResponseIds, delta: Option<String>) -> Value {
    let mut event = json!({
        "type": "response.output_audio.done",
        "response_id": ids.response_id,
        "item_id": ids.item_id,
        "output_index": 0,
        "content_index": 0,
    });
    if let Some(delta) = delta {
        event["type"] = json!("response.output_audio.delta");
        event["delta"] = json!(delta);
    }
    event
}

/// `response.output_audio_transcript.delta`.
pub fn transcript_delta(ids: &ResponseIds, delta: &str) -> Value {
    json!({
        "type": "response.output_audio_transcript.delta",
        "response_id": ids.response_id,
        "item_id": ids.item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": delta,
    })
}

/// `response.output_audio_transcript.done`: the words the listener heard.
pub fn transcript_done(ids: &ResponseIds, transcript: &str) -> Value {
    json!({
        "type": "response.output_audio_transcript.done",
        "response_id": ids.response_id,
        "item_id": ids.item_id,
        "output_index": 0,
        "content_index": 0,
        "transcript": transcript,
    })
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It played to its end.
    Completed,
    /// The user took the floor over it.
    Interrupted,
    /// The client cancelled it.
    Cancelled,
}

/// `response.done`, with what was heard of it.
pub fn response_done(ids: &ResponseIds, ending: Ending, transcript: &str) -> Value {
    let (status, reason) = match ending {
        Ending::Completed => ("completed", None),
        Ending::Interrupted => ("cancelled", Some("turn_detected")),
        Ending::Cancelled => ("cancelled", Some("client_cancelled")),
    };
    json!({
        "type": "response.done",
        "response": response_object(ids, status, reason, Some(transcript)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_messages_get_the_protocol_s_error_shape_with_a_code() {
        let bad_json = parse("{not json").unwrap_err().to_event();
        assert_eq!(bad_json["type"], "error");
        assert_eq!(bad_json["error"]["type"], "invalid_request_error");
        assert_eq!(bad_json["error"]["code"], "invalid_json");
        let unknown = parse(r#"{"type":"nope.nope","event_id":"e1"}"#).unwrap_err();
        assert_eq!(unknown.code, "unknown_event_type");
        assert_eq!(unknown.to_event()["error"]["event_id"], "e1");
        let untyped = parse(r#"{"audio":"AAAA"}"#).unwrap_err();
        assert_eq!(untyped.code, "missing_type");
    }

    #[test]
    fn client_events_are_read_with_their_ids() {
        let append = parse(r#"{"type":"input_audio_buffer.append","audio":"AAAA","event_id":"x"}"#);
        assert_eq!(
            append.unwrap(),
            Received {
                event: ClientEvent::Append("AAAA".into()),
                event_id: Some("x".into())
            }
        );
        let truncate = parse(r#"{"type":"conversation.item.truncate"}"#).unwrap();
        assert_eq!(
            truncate.event,
            ClientEvent::NotYet("conversation.item.truncate".into())
        );
    }

    #[test]
    fn a_session_update_sets_instructions_and_turn_detection_or_changes_nothing() {
        let mut settings = SessionSettings::new(1);
        let update = json!({
            "type": "realtime",
            "instructions": "Be brief.",
            "audio": {
                "input": { "format": { "type": "audio/pcm", "rate": 24000 }, "turn_detection": null },
                "output": { "voice": "alloy" },
            },
        });
        settings.update(&update).unwrap();
        assert_eq!(settings.instructions, "Be brief.");
        assert_eq!(settings.voice, "alloy");
        assert_eq!(settings.turn_detection, TurnDetection::Client);
        assert!(settings.to_json()["audio"]["input"]["turn_detection"].is_null());
        let mulaw = json!({ "instructions": "x", "audio": { "input": { "format": { "type": "audio/pcmu" } } } });
        let refused = settings.update(&mulaw).unwrap_err();
        assert_eq!(refused.code, "unsupported_audio_format");
        assert_eq!(settings.instructions, "Be brief.");
        let vad = json!({ "audio": { "input": { "turn_detection": { "type": "server_vad" } } } });
        settings.update(&vad).unwrap();
        assert_eq!(settings.turn_detection, TurnDetection::Server);
    }
}
