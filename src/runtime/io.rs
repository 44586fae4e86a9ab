//! What passes between a session, its transport and its event recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use duplex_core::playback::{ChunkId, PlaybackProgress};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::engines::Severity;
use crate::agent::{AgentEvent, TurnId};

/// From the transport to the session.
#[derive(Debug)]
pub enum TransportIn {
    /// The next microphone samples (16 kHz mono, normally one 20 ms frame).
    Audio(Vec<f32>),
}

/// A chunk of reply audio for the transport.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayChunk {
    /// The flushes asked for before it was sent: a transport that has carried out a later flush
    /// drops it.
    pub epoch: u64,
    /// Its turn and index.
    pub id: ChunkId,
    /// Its sample rate (the voice's own).
    pub rate: u32,
    /// The speech.
    pub samples: Vec<f32>,
}

/// From the session to the transport (flushes go beside this queue, as an epoch).
#[derive(Debug)]
pub enum TransportOut {
    /// Queue this chunk after whatever is queued.
    Play(PlayChunk),
    /// Play this short listener sound now, mixed over whatever plays (it is not part of a
    /// reply, and stops when [`PlaybackControl::stop_backchannels`] is raised).
    Backchannel {
        /// Its sample rate.
        rate: u32,
        /// The sound, at its final level.
        samples: Vec<f32>,
    },
}

/// A recorded event: what happened, at which input sample, and when on the wall clock.
#[derive(Debug, Clone, Serialize)]
pub struct SessionEvent {
    /// Input sample position when it was recorded; `recorded_at` in JSON, because an agent
    /// event carries its own `at` (when it happened) beside it.
    #[serde(rename = "recorded_at")]
    pub at: u64,
    /// Milliseconds since the session started (wall clock, for metrics only).
    pub wall_ms: f64,
    /// What happened.
    #[serde(flatten)]
    pub kind: SessionEventKind,
}

/// What a [`SessionEvent`] records.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SessionEventKind {
    /// A milestone of the agent core.
    Agent(AgentEvent),
    /// Wall-clock cost of one engine job.
    Cost {
        /// The stage.
        stage: &'static str,
        /// The turn it served, if any.
        turn: Option<TurnId>,
        /// Milliseconds it took (for the LLM: to the first token).
        cost_ms: f64,
    },
    /// The session's engines are still being loaded (`duplex serve` sends it every few seconds
    /// until [`Ready`](Self::Ready), so that its page waits as long as a busy machine needs
    /// and gives up only when the server falls silent).
    Starting {
        /// Milliseconds since the browser's connection.
        starting_for_ms: f64,
    },
    /// The session's engines are loaded and it listens (`duplex serve` sends it; its page opens
    /// the microphone then).
    Ready {
        /// Milliseconds from the browser's connection to the engines being ready.
        ready_after_ms: f64,
    },
    /// The call is ending, and why (`duplex serve` sends it when a call reaches its maximum
    /// length; its page shows the reason).
    Ending {
        /// Why, as a phrase ("this call reached its maximum length of 1 hour").
        ending: String,
    },
    /// How the user spoke in a turn (its non-verbal cues), judged when it went to the model.
    Cues(super::cue_feed::TurnCueReport),
    /// An engine failed.
    EngineFailed {
        /// The error.
        error: String,
        /// Whether the engine is gone or only this job failed.
        severity: Severity,
    },
}

/// Shared counters a transport may read (e.g. to feed input only when the engines are idle).
#[derive(Debug, Default)]
pub struct SessionStatus {
    /// Engine jobs dispatched and not yet answered.
    pub in_flight: AtomicUsize,
    /// Whether a user turn or a reply is in progress.
    pub busy: AtomicBool,
    /// Audio messages fully handled (their effects dispatched).
    pub frames_handled: AtomicU64,
    /// Events dropped because the recorder fell far behind.
    pub events_dropped: AtomicU64,
}

/// The playback commands that must never wait behind queued audio: the latest flush and hold
/// epochs (see `duplex_core::playback`), raised by the session and read by the transport at each
/// period.
#[derive(Debug, Default)]
pub struct PlaybackControl {
    flush: AtomicU64,
    hold: AtomicU64,
    backchannel_stops: AtomicU64,
}

impl PlaybackControl {
    /// Stops any backchannel playing now (the user went on).
    pub fn stop_backchannels(&self) {
        self.backchannel_stops.fetch_add(1, Ordering::AcqRel);
    }

    /// How many backchannel stops were asked for.
    pub fn backchannel_stops(&self) -> u64 {
        self.backchannel_stops.load(Ordering::Acquire)
    }

    /// Asks for flush `epoch`.
    pub fn flush(&self, epoch: u64) {
        self.flush.store(epoch, Ordering::Release);
    }

    /// Asks for hold `epoch` (odd: pause, even: resume). A resume that follows a flush is
    /// stored after it, so a transport that reads it (through [`latest`](Self::latest)) also
    /// sees the flush, and never plays on the flushed reply.
    pub fn hold(&self, epoch: u64) {
        self.hold.store(epoch, Ordering::Release);
    }

    /// The latest `(flush, hold)` epochs: the hold is read first (see [`hold`](Self::hold)).
    pub fn latest(&self) -> (u64, u64) {
        let hold = self.hold.load(Ordering::Acquire);
        (self.flush.load(Ordering::Acquire), hold)
    }
}

/// The channels connecting a session to its transport and its event recorder.
pub struct SessionIo {
    /// Audio from the transport.
    pub input: mpsc::Receiver<TransportIn>,
    /// Reply audio to the transport.
    pub output: mpsc::Sender<TransportOut>,
    /// The flush and hold epochs the transport carries out (raised by the session).
    pub control: Arc<PlaybackControl>,
    /// The transport's playback report.
    pub progress: watch::Receiver<PlaybackProgress>,
    /// Events for the recorder.
    pub events: mpsc::Sender<SessionEvent>,
    /// Counters shared with the transport.
    pub status: Arc<SessionStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentEvent;

    #[test]
    fn an_event_s_json_has_each_key_once() {
        let event = SessionEvent {
            at: 3_200,
            wall_ms: 12.5,
            kind: SessionEventKind::Agent(AgentEvent::UserSpeechStart { at: 1_600 }),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json.matches("\"at\":").count(), 1, "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (value["at"].as_u64(), value["recorded_at"].as_u64()),
            (Some(1_600), Some(3_200))
        );
    }
}
