//! One Realtime socket's conversation: the session is started on its own task (the spare
//! engines, as for a page's call), and one loop here reads the client's events, feeds its audio
//! and sends the reply's every 20 ms (see [`super::transport`]), and turns the session's events
//! into the protocol's:
//!
//! | session event | Realtime events |
//! |---|---|
//! | user speech start / end | `input_audio_buffer.speech_started` / `speech_stopped` (server VAD only) |
//! | end of turn | `input_audio_buffer.committed` (server VAD), `response.created`, `response.output_item.added` |
//! | the user's words | `conversation.item.input_audio_transcription.completed` |
//! | a reply chunk to playback | `response.output_audio_transcript.delta` (its audio follows as `response.output_audio.delta` as it is sent) |
//! | the reply over (what was heard) | `response.output_audio.done`, `response.output_audio_transcript.done`, `response.done` (`cancelled`, `turn_detected` when the user took the floor) |
//! | the reply dropped as the user went on | `response.done` (`cancelled`, `turn_detected`) |
//! | an engine failed, the call at its length | `error` (`server_error`) |
//!
//! A client that closes the socket, or stops reading it for [`SEND_PATIENCE`], ends its session
//! as a page that leaves does; nothing of it touches another session.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::Value;

use super::events::{
    self, ClientEvent, Ending, ProtocolError, ResponseIds, SessionSettings, TurnDetection,
};
use super::pcm;
use super::transport::{MicInput, PERIOD, ReplyOutput};
use crate::agent::{AgentEvent, TurnId};
use crate::runtime::{
    SessionEvent, SessionEventKind, SessionIo, Severity, TransportEnds, session_channels,
};
use crate::transport::mic_gap::MicSender;
use crate::web::AppState;
use crate::web::admission::CallSlot;
use crate::web::call_limit::run_call;
use crate::web::sessions::{engines_failed, load_replier};

/// The most audio one append may carry: 1 MiB of PCM16 (about 22 s at 24 kHz).
pub const MAX_APPEND_BYTES: usize = 1 << 20;

/// How long a send may wait for a client that does not read before its session is ended.
const SEND_PATIENCE: Duration = Duration::from_secs(5);

/// The session's input rate, for times in milliseconds.
const SAMPLES_PER_MS: u64 = 16;

/// The socket, numbering the events it sends.
struct Link {
    socket: WebSocket,
    sent: u64,
}

/// The client is gone (closed, or not reading).
struct Gone(&'static str);

impl Link {
    async fn send(&mut self, mut event: Value) -> Result<(), Gone> {
        self.sent += 1;
        event["event_id"] = Value::String(format!("event_duplex_{}", self.sent));
        let text = event.to_string();
        match tokio::time::timeout(SEND_PATIENCE, self.socket.send(Message::Text(text.into())))
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Gone("the client closed the socket")),
            Err(_) => Err(Gone("the client stopped reading")),
        }
    }

    async fn close(&mut self, reason: &str) {
        let frame = CloseFrame {
            code: 1000,
            reason: reason.chars().take(100).collect::<String>().into(),
        };
        let close = self.socket.send(Message::Close(Some(frame)));
        let _ = tokio::time::timeout(SEND_PATIENCE, close).await;
    }
}

/// The reply being sent.
struct Current {
    turn: TurnId,
    ids: ResponseIds,
    /// Whether a transcript delta was sent (the next one starts with a space).
    spoke: bool,
}

/// The protocol's state of one conversation.
struct Conversation {
    settings: SessionSettings,
    next_id: u64,
    /// The user's item being spoken (speech started, not yet committed).
    speaking: Option<(String, u64)>,
    /// The user's item committed by the client, for the next end of turn.
    committed: Option<String>,
    /// Each answered turn's user item and its length in seconds.
    user_items: HashMap<TurnId, (String, f64)>,
    /// The newest item, for `previous_item_id`.
    last_item: Option<String>,
    current: Option<Current>,
    /// Whether the engines are ready (the feed runs).
    ready: bool,
}

/// Runs the socket's conversation until the client leaves, the session ends or the server
/// stops; the call slot is given back once the session's engines are dropped.
pub async fn run_socket(state: Arc<AppState>, socket: WebSocket, slot: CallSlot) {
    let id = state.sessions.next_session_id();
    state.metrics.sessions_started.inc();
    tracing::info!("realtime session {id}: connected");
    let (io, mut ends) = session_channels();
    ends.events = state.metrics.tap(ends.events);
    let TransportEnds {
        input,
        playout,
        events,
        status: _,
    } = ends;
    let mut link = Link { socket, sent: 0 };
    let ended = match MicInput::new(MicSender::new(input)) {
        Ok(mic) => {
            let session = tokio::spawn(run_conversation(state.clone(), io));
            let ended = converse(
                &state,
                &mut link,
                id,
                mic,
                ReplyOutput::new(playout),
                events,
            )
            .await;
            // The feed is dropped: the session ends as if the caller had left.
            let _ = session.await;
            ended
        }
        Err(e) => format!("the input resampler could not be made: {e}"),
    };
    link.close(&ended).await;
    drop(slot);
    tracing::info!("realtime session {id}: ended ({ended})");
    super::super::memory::give_back().await;
    if let Some(spare) = &state.spare
        && state.sessions.live() == 0
    {
        spare.refill();
    }
}

/// The session itself: its engines (an error event when they cannot be had), then the call up
/// to its maximum length.
async fn run_conversation(state: Arc<AppState>, io: SessionIo) {
    let started = Instant::now();
    let limits = &state.options.admission;
    let deadline = tokio::time::Instant::now() + limits.max_call_length;
    let note = |kind| SessionEvent {
        at: 0,
        wall_ms: started.elapsed().as_secs_f64() * 1000.0,
        kind,
    };
    let replier = match load_replier(&state, None).await {
        Ok(replier) => replier,
        Err(e) => {
            engines_failed(&state, &io.events, started, e.to_string()).await;
            return;
        }
    };
    let ready_after_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _ = io
        .events
        .send(note(SessionEventKind::Ready { ready_after_ms }))
        .await;
    let config = state.config.agent_config();
    run_call(replier, config, io, deadline, limits.max_call_length).await;
}

/// The loop; returns why it ended.
async fn converse(
    state: &AppState,
    link: &mut Link,
    id: u64,
    mut mic: MicInput,
    mut reply: ReplyOutput,
    mut events: tokio::sync::mpsc::Receiver<SessionEvent>,
) -> String {
    let mut stopping = state.sessions.stopping();
    let mut conversation = Conversation::new(id);
    let created = events::session("session.created", &conversation.settings);
    if let Err(Gone(why)) = link.send(created).await {
        return why.to_owned();
    }
    let mut tick = tokio::time::interval(PERIOD);
    let outcome: Result<String, Gone> = loop {
        tokio::select! {
            message = link.socket.recv() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        let refused = ProtocolError::invalid(
                            "binary_not_supported",
                            "client events are JSON text messages",
                        );
                        if let Err(gone) = link.send(refused.to_event()).await { break Err(gone); }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break Ok("the client closed the socket".into()),
                    Some(Err(e)) => break Ok(format!("the socket failed: {e}")),
                };
                let answers = conversation.on_client(text.as_str(), &mut mic);
                if let Err(gone) = send_all(link, answers).await { break Err(gone); }
            }
            _ = tick.tick() => {
                if conversation.ready && !mic.feed_period() {
                    break Ok("the session ended".into());
                }
                let Some(speech) = reply.next_period() else {
                    break Ok("the session ended".into());
                };
                if let (false, Some(current)) = (speech.is_empty(), &conversation.current) {
                    let delta = events::audio(&current.ids, Some(pcm::encode_pcm16(speech)));
                    if let Err(gone) = link.send(delta).await { break Err(gone); }
                }
            }
            event = events.recv() => {
                let Some(event) = event else { break Ok("the session ended".into()) };
                let answers = conversation.on_session(event.kind);
                if let Err(gone) = send_all(link, answers).await { break Err(gone); }
            }
            _ = stopping.changed() => break Ok("the server is stopping".into()),
        }
    };
    // What the session said last (an engine that failed) still reaches the client.
    while let Ok(event) = events.try_recv() {
        if let SessionEventKind::EngineFailed { .. } | SessionEventKind::Ending { .. } = event.kind
        {
            let answers = conversation.on_session(event.kind);
            if send_all(link, answers).await.is_err() {
                break;
            }
        }
    }
    if mic.gaps() > 0 {
        tracing::info!(
            "realtime session {id}: {} frames fed as silence (session behind)",
            mic.gaps()
        );
    }
    match outcome {
        Ok(why) => why,
        Err(Gone(why)) => why.to_owned(),
    }
}

async fn send_all(link: &mut Link, events: Vec<Value>) -> Result<(), Gone> {
    for event in events {
        link.send(event).await?;
    }
    Ok(())
}

impl Conversation {
    fn new(id: u64) -> Self {
        Self {
            settings: SessionSettings::new(id),
            next_id: 0,
            speaking: None,
            committed: None,
            user_items: HashMap::new(),
            last_item: None,
            current: None,
            ready: false,
        }
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_duplex_{}", self.next_id)
    }

    fn server_vad(&self) -> bool {
        self.settings.turn_detection == TurnDetection::Server
    }

    /// Carries out one client message; returns the events that answer it.
    fn on_client(&mut self, text: &str, mic: &mut MicInput) -> Vec<Value> {
        let received = match events::parse(text) {
            Ok(received) => received,
            Err(error) => return vec![error.to_event()],
        };
        let about = received.event_id;
        let refuse = |error: ProtocolError| vec![error.about(about.clone()).to_event()];
        match received.event {
            ClientEvent::SessionUpdate(session) => match self.settings.update(&session) {
                Ok(()) => vec![events::session("session.updated", &self.settings)],
                Err(error) => refuse(error),
            },
            ClientEvent::Append(audio) => {
                let bytes = pcm::decoded_len(&audio);
                if bytes > MAX_APPEND_BYTES {
                    return refuse(
                        ProtocolError::invalid(
                            "audio_too_large",
                            format!(
                                "an append may carry at most {MAX_APPEND_BYTES} bytes of audio, this one {bytes}; send the audio in smaller appends"
                            ),
                        )
                        .param("audio"),
                    );
                }
                let samples = match pcm::decode_pcm16(&audio) {
                    Ok(samples) => samples,
                    Err(e) => {
                        return refuse(
                            ProtocolError::invalid("invalid_audio", e.to_string()).param("audio"),
                        );
                    }
                };
                match mic.append(&samples, !self.server_vad()) {
                    Ok(()) => Vec::new(),
                    Err(_) => refuse(ProtocolError::invalid(
                        "input_audio_buffer_full",
                        "the input buffer holds its maximum of 60 s of audio not yet heard; send audio no faster than real time (or commit it)",
                    )),
                }
            }
            ClientEvent::Commit if self.server_vad() => refuse(ProtocolError::invalid(
                "commit_with_server_vad",
                "with server_vad turn detection the server commits each turn itself; set turn_detection to null to commit",
            )),
            ClientEvent::Commit => {
                if mic.commit() == 0 {
                    return refuse(ProtocolError::invalid(
                        "input_audio_buffer_commit_empty",
                        "there is no audio to commit",
                    ));
                }
                let item = self.new_id("item");
                let event = events::committed(&item, self.last_item.as_deref());
                self.last_item = Some(item.clone());
                self.committed = Some(item);
                vec![event]
            }
            ClientEvent::Clear => {
                mic.clear();
                vec![events::cleared()]
            }
            ClientEvent::ResponseCreate if self.committed.is_some() || self.current.is_some() => {
                // The reply to the committed audio comes on its own, when the session has
                // heard its end.
                Vec::new()
            }
            ClientEvent::ResponseCreate => refuse(ProtocolError::invalid(
                "unsupported_event",
                "duplex replies to each user turn on its own; response.create without newly committed audio is not supported yet",
            )),
            ClientEvent::ResponseCancel => match self.current.take() {
                Some(current) => {
                    // Its audio and words are no longer sent (the session plays them out
                    // unheard: its history keeps them as heard).
                    vec![events::response_done(&current.ids, Ending::Cancelled, "")]
                }
                None => refuse(ProtocolError::invalid(
                    "response_cancel_not_active",
                    "there is no response in progress to cancel",
                )),
            },
            ClientEvent::NotYet(kind) => refuse(ProtocolError::invalid(
                "unsupported_event",
                format!("{kind} is not supported by duplex yet"),
            )),
        }
    }

    /// Turns one session event into the protocol's.
    fn on_session(&mut self, event: SessionEventKind) -> Vec<Value> {
        match event {
            SessionEventKind::Ready { .. } => {
                self.ready = true;
                Vec::new()
            }
            SessionEventKind::Agent(agent) => self.on_agent(agent),
            SessionEventKind::EngineFailed { error, severity } => {
                let code = match severity {
                    Severity::Fatal => "engine_failed",
                    _ => "engine_error",
                };
                vec![ProtocolError::server(code, error).to_event()]
            }
            SessionEventKind::Ending { ending } => {
                vec![ProtocolError::server("session_ending", ending).to_event()]
            }
            _ => Vec::new(),
        }
    }

    fn on_agent(&mut self, event: AgentEvent) -> Vec<Value> {
        match event {
            AgentEvent::UserSpeechStart { at } => {
                let item = match &self.speaking {
                    Some((item, _)) => item.clone(),
                    None => {
                        let item = self.new_id("item");
                        self.speaking = Some((item.clone(), at));
                        item
                    }
                };
                if self.server_vad() {
                    vec![events::speech_started(&item, at / SAMPLES_PER_MS)]
                } else {
                    Vec::new()
                }
            }
            AgentEvent::UserSpeechEnd { at } => match (&self.speaking, self.server_vad()) {
                (Some((item, _)), true) => vec![events::speech_stopped(item, at / SAMPLES_PER_MS)],
                _ => Vec::new(),
            },
            AgentEvent::EndOfTurn {
                turn, speech_end, ..
            } => {
                let mut out = Vec::new();
                let spoken = self.speaking.take();
                let seconds = spoken.as_ref().map_or(0.0, |(_, start)| {
                    speech_end.saturating_sub(*start) as f64 / 16_000.0
                });
                let item = match self.committed.take() {
                    Some(item) => item,
                    None => {
                        let item = spoken.map_or_else(|| self.new_id("item"), |(item, _)| item);
                        out.push(events::committed(&item, self.last_item.as_deref()));
                        item
                    }
                };
                self.user_items.insert(turn, (item, seconds));
                let ids = ResponseIds {
                    response_id: self.new_id("resp"),
                    item_id: self.new_id("item"),
                };
                self.last_item = Some(ids.item_id.clone());
                out.push(events::response_created(&ids));
                out.push(events::output_item_added(&ids));
                self.current = Some(Current {
                    turn,
                    ids,
                    spoke: false,
                });
                out
            }
            AgentEvent::UserText { turn, text, .. } => match self.user_items.remove(&turn) {
                Some((item, seconds)) => {
                    vec![events::transcription_completed(&item, &text, seconds)]
                }
                None => Vec::new(),
            },
            AgentEvent::ReplyChunk { turn, text, .. } => match self.current.as_mut() {
                Some(current) if current.turn == turn && !text.trim().is_empty() => {
                    let delta = if current.spoke {
                        format!(" {}", text.trim())
                    } else {
                        text.trim().to_owned()
                    };
                    current.spoke = true;
                    vec![events::transcript_delta(&current.ids, &delta)]
                }
                _ => Vec::new(),
            },
            AgentEvent::AssistantText {
                turn,
                text,
                interrupted,
                ..
            } => self.finish(turn, &text, interrupted),
            AgentEvent::ReplyAbandoned { turn, .. } => self.finish(turn, "", true),
            _ => Vec::new(),
        }
    }

    /// The end of the reply to `turn`, with what was heard of it.
    fn finish(&mut self, turn: TurnId, heard: &str, interrupted: bool) -> Vec<Value> {
        let Some(current) = self.current.take_if(|c| c.turn == turn) else {
            return Vec::new();
        };
        let ending = if interrupted {
            Ending::Interrupted
        } else {
            Ending::Completed
        };
        vec![
            events::audio(&current.ids, None),
            events::transcript_done(&current.ids, heard),
            events::response_done(&current.ids, ending, heard),
        ]
    }
}
