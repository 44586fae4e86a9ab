//! What goes into and comes out of the conversation core.

use serde::Serialize;

use super::tool_calls::{ToolCall, ToolCallId, ToolOutcome, ToolResult};
use crate::playback::PlaybackProgress;

/// Id of one assistant turn (one reply). Every effect of a turn carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TurnId(pub u64);

/// Id of one request for an engine result (a transcript or a turn-end score).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RequestId(pub u64);

/// Something that happened, fed to [`super::Agent::handle`] with the current input position.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Microphone samples that follow the previous ones (16 kHz mono, normally 20 ms).
    Audio(Vec<f32>),
    /// Speech probability of the 512-sample chunk that starts at `start`.
    Vad {
        /// First sample of the chunk.
        start: u64,
        /// Probability of speech.
        probability: f32,
    },
    /// Probability that the user's turn is complete, answering [`Output::ScoreTurn`].
    TurnScore {
        /// The request answered.
        request: RequestId,
        /// Probability in [0, 1].
        probability: f32,
    },
    /// Confidence that the paused speech ends in a rise (question intonation), answering
    /// [`Output::MeasureRise`]; it counts only when it comes before the score.
    PauseRise {
        /// The pause's score request.
        request: RequestId,
        /// Confidence in [0, 1].
        confidence: f32,
    },
    /// Text of the user's speech, answering [`Output::Transcribe`].
    Transcript {
        /// The request answered.
        request: RequestId,
        /// What was said.
        text: String,
    },
    /// How the user spoke in the turn (the confident non-verbal cues as a short note for the
    /// model; empty if none), answering [`Output::DescribeCues`]. With
    /// [`AgentConfig::cue_notes`](super::AgentConfig::cue_notes) the turn's [`Output::Generate`]
    /// waits for it and carries the note after the user's words.
    CueNote {
        /// The turn.
        turn: TurnId,
        /// The note.
        note: String,
    },
    /// Text streamed by the language model for a turn.
    LlmToken {
        /// The turn.
        turn: TurnId,
        /// The token's text.
        text: String,
    },
    /// The language model finished the turn's reply.
    LlmDone {
        /// The turn.
        turn: TurnId,
        /// Whether it broke off on a failure (the model's worker died mid-reply) rather than
        /// finishing.
        failed: bool,
    },
    /// The turn's reply, as it is generated, asked for a tool call, now complete (the runtime
    /// keeps the call's text out of speech). Sent before the generation's [`Input::LlmDone`]; a
    /// call for a turn whose generation was cancelled is ignored, never run.
    ToolCall {
        /// The turn whose generation asked for it.
        turn: TurnId,
        /// The call.
        call: ToolCall,
    },
    /// How a call asked for by [`Output::RunTool`] ended (a cancelled one may answer
    /// [`ToolOutcome::Cancelled`] or nothing: the core has recorded it already).
    ToolDone {
        /// The call.
        id: ToolCallId,
        /// Its outcome.
        outcome: ToolOutcome,
    },
    /// The chunk requested by [`Output::Synthesize`] is synthesized. The caller keeps its audio
    /// until [`Output::Play`] names it: speech never passes through the core, whose ledger
    /// needs only the chunk's id and text (how much of it was played, the transport's report
    /// says in its own samples).
    Synthesized {
        /// The turn.
        turn: TurnId,
        /// Index of the chunk within the turn.
        chunk: u32,
    },
    /// Nothing new: time has reached `now` (lets deadlines fire between audio frames).
    Tick,
    /// The transport's latest playback report: how far into which chunk it has played, and
    /// how many flushes it has carried out (see [`crate::playback`]).
    Played(PlaybackProgress),
}

/// An effect for the caller to carry out, or an event to record.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Transcribe this user speech; answer with [`Input::Transcript`].
    Transcribe {
        /// Tag for the answer.
        request: RequestId,
        /// 16 kHz speech.
        audio: Vec<f32>,
    },
    /// Measure how far the user's speech so far ends in a rise, for the pause whose score is
    /// `request`; answer with [`Input::PauseRise`] before the score. It comes just before that
    /// pause's [`Output::ScoreTurn`].
    MeasureRise {
        /// The pause's score request.
        request: RequestId,
    },
    /// Score whether the user's turn is complete; answer with [`Input::TurnScore`].
    ScoreTurn {
        /// Tag for the answer.
        request: RequestId,
        /// The most recent user audio (up to 8 s), 16 kHz.
        audio: Vec<f32>,
    },
    /// Judge how the user spoke in the turn that ends with these words (its non-verbal cues,
    /// and the reply's pace that follows them); answer with [`Input::CueNote`]. It comes just
    /// before the turn's [`Output::Generate`].
    DescribeCues {
        /// The new turn.
        turn: TurnId,
        /// What the user said.
        user_text: String,
    },
    /// Generate a reply to the user's words; stream [`Input::LlmToken`] then [`Input::LlmDone`].
    Generate {
        /// The new turn.
        turn: TurnId,
        /// What the user said, and the turn's cue note after it when
        /// [`AgentConfig::cue_notes`](super::AgentConfig::cue_notes) is on and there is one.
        user_text: String,
    },
    /// Run this tool call; answer with [`Input::ToolDone`] (the runtime enforces the tool's
    /// time limit and answers [`ToolOutcome::TimedOut`]).
    RunTool {
        /// The reply that asked for it.
        turn: TurnId,
        /// The call.
        call: ToolCall,
    },
    /// Stop this running call (the user took the floor and it has no side effects); its result
    /// is already recorded as cancelled, and a late answer is ignored.
    CancelTool {
        /// The call.
        id: ToolCallId,
    },
    /// Go on with the turn's reply: its generation asked for tool calls, and these are their
    /// results (the history has them too, from the [`AgentEvent::ToolResult`] events just
    /// before). Stream [`Input::LlmToken`] then [`Input::LlmDone`] as for [`Output::Generate`];
    /// no new user message.
    GenerateAfterTools {
        /// The turn, which goes on.
        turn: TurnId,
        /// The round's calls and their outcomes, in the order they ended.
        results: Vec<ToolResult>,
    },
    /// Say this short listener sound now, at low level, beside whatever plays (no answer
    /// expected; see `backchannel`).
    Backchannel {
        /// The words ("mm-hm").
        text: String,
    },
    /// Stop a backchannel that may still be playing (the user went on).
    StopBackchannel,
    /// Synthesize a chunk of the reply; answer with [`Input::Synthesized`].
    Synthesize {
        /// The turn.
        turn: TurnId,
        /// Index of the chunk within the turn.
        chunk: u32,
        /// Text to speak.
        text: String,
    },
    /// Queue this chunk's audio (kept by the caller since its [`Input::Synthesized`]) for
    /// playback after whatever is queued.
    Play {
        /// The turn.
        turn: TurnId,
        /// Index of the chunk within the turn.
        chunk: u32,
    },
    /// Drop all queued playback now; the transport's report carries `epoch` once it has.
    Flush {
        /// The flush's number (1, 2, ...).
        epoch: u64,
    },
    /// Hold playback: an odd `epoch` pauses it at once, keeping the reply (rewound to the start
    /// of the word it cut); the next, even, epoch resumes it. The transport acts on the latest.
    Hold {
        /// The hold's number (1, 2, ...); odd pauses, even resumes.
        epoch: u64,
    },
    /// Stop every engine working for this turn; later results for it are ignored.
    Cancel(TurnId),
    /// Stop working on this request: its answer is no longer wanted (a late one is ignored).
    Abandon(RequestId),
    /// Something worth recording happened.
    Event(AgentEvent),
}

/// Milestones of a conversation, with their input sample time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The user started speaking.
    UserSpeechStart {
        /// Input sample of the speech start.
        at: u64,
    },
    /// The user paused; the turn may be over.
    UserSpeechEnd {
        /// Input sample where the speech stopped.
        at: u64,
    },
    /// The turn-end model scored the pause.
    TurnScored {
        /// When the score arrived.
        at: u64,
        /// Its probability that the turn is complete.
        probability: f32,
        /// The confidence that the speech ended in a rise, as the session measured it.
        rise: f32,
    },
    /// The user's turn is over; a reply starts.
    EndOfTurn {
        /// The reply's turn.
        turn: TurnId,
        /// When the decision was taken.
        at: u64,
        /// Where the user's speech ended.
        speech_end: u64,
    },
    /// The user's words.
    UserText {
        /// The reply's turn.
        turn: TurnId,
        /// When the transcript was used.
        at: u64,
        /// The words.
        text: String,
    },
    /// The first token of the reply arrived.
    FirstToken {
        /// The turn.
        turn: TurnId,
        /// When.
        at: u64,
    },
    /// The first audio of the reply was sent to playback.
    FirstAudio {
        /// The turn.
        turn: TurnId,
        /// When.
        at: u64,
    },
    /// A chunk of the reply went to playback (after the previous ones).
    ReplyChunk {
        /// The turn.
        turn: TurnId,
        /// Index of the chunk within the turn.
        chunk: u32,
        /// When.
        at: u64,
        /// Its words.
        text: String,
    },
    /// The agent said a backchannel at an inner pause of the user's turn.
    Backchannel {
        /// When.
        at: u64,
        /// Its words.
        text: String,
    },
    /// The reply is over; `text` is what the user heard.
    AssistantText {
        /// The turn.
        turn: TurnId,
        /// When.
        at: u64,
        /// The words actually played.
        text: String,
        /// Whether the user interrupted it.
        interrupted: bool,
        /// What the user said over it to let it go on ("mm-hm", "right"), in order.
        acknowledged: Vec<String>,
        /// Whether it broke off because the language model failed mid-reply.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        broke_off: bool,
    },
    /// The reply asked for a tool call (recorded in the history with the reply).
    ToolCall {
        /// The reply.
        turn: TurnId,
        /// When.
        at: u64,
        /// The call's id.
        id: ToolCallId,
        /// The tool.
        name: String,
        /// Its arguments (a JSON object as text).
        arguments: String,
        /// Whether it has side effects.
        side_effects: bool,
    },
    /// A tool call ended, or was cancelled or refused (recorded in the history after its call).
    ToolResult {
        /// The reply that asked for the call.
        turn: TurnId,
        /// When the result was recorded.
        at: u64,
        /// The call's id.
        id: ToolCallId,
        /// The tool.
        name: String,
        /// How it ended.
        outcome: ToolOutcome,
        /// From the request to run it to its outcome (or its cancellation), in milliseconds of
        /// input time.
        duration_ms: u64,
        /// The reply that tells it: the call's own, or the next one when the outcome came after
        /// its reply was cut; none when nobody will (cancelled, refused, or the conversation
        /// ended first).
        told_in: Option<TurnId>,
    },
    /// The user made a sound over the reply: playback paused while it is judged.
    PlaybackPaused {
        /// The reply.
        turn: TurnId,
        /// When playback was asked to pause.
        at: u64,
        /// Where the sound began.
        speech_start: u64,
    },
    /// What the sound over the reply turned out to be; the reply resumes unless it was an
    /// interruption.
    OverlapJudged {
        /// The reply.
        turn: TurnId,
        /// When.
        at: u64,
        /// The decision.
        decision: OverlapDecision,
        /// Its transcript, where one was needed.
        text: String,
    },
    /// The user resumed before the reply was heard: the reply was dropped, the turn goes on.
    ReplyAbandoned {
        /// The dropped turn.
        turn: TurnId,
        /// When.
        at: u64,
    },
}

/// What a sound over the agent's voice was judged to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapDecision {
    /// The user takes the floor: the reply is cut where it paused.
    Interruption,
    /// The user acknowledged ("mm-hm"): the reply resumes and the history notes it.
    Backchannel,
    /// Not speech, or too short to be: the reply resumes with nothing lost.
    FalseAlarm,
}
