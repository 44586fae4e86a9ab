//! One call's conversation (or tone probe) run up to the maximum call length, then a spoken
//! goodbye and the end of the call.
//!
//! The conversation runs on its own task with the link's channels, except its microphone input,
//! which passes through a relay here (a few frames more of buffer; when the session is behind,
//! the relay waits and the link's own queue decides what becomes of a frame, as without it).
//! At the limit the relay stops: the conversation ends as if the caller had left (its engines
//! are dropped, its memory kept). Then, in the session's own voice (its TTS engine, shared
//! through [`SharedVoice`]), the agent says a short goodbye on the link's playout, after a flush
//! of whatever reply was still queued; the page is told why the call ends (a
//! [`SessionEventKind::Ending`] event) and, once the goodbye has played, the link ends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::tone::run_tone_probe;
use crate::agent::{AgentConfig, TurnId};
use crate::cancel::CancelToken;
use crate::playback::{ChunkId, PlaybackProgress, is_pause};
use crate::runtime::{
    EngineError, Engines, PlayChunk, PlaybackControl, SessionEvent, SessionEventKind, SessionIo,
    Speak, TransportOut, run_session,
};

/// Microphone frames between the relay and the session (the link's own queue is before it).
const RELAY_CAPACITY: usize = 4;

/// How long past its own length the goodbye may take to play before the call ends anyway.
const GOODBYE_MARGIN: Duration = Duration::from_secs(2);

/// How long the link stays up after the last word (the reason sent, the goodbye's last packet
/// out): the page still has to receive the reason, and to play what its jitter buffer holds,
/// before the connection closes (closing at once drops data still queued to the page).
pub const ENDING_LINGER: Duration = Duration::from_secs(1);

/// The goodbye's place in the playback ledger: after every turn of the conversation.
const GOODBYE: ChunkId = ChunkId {
    turn: TurnId(u64::MAX),
    chunk: 0,
};

/// What answers one call.
pub enum Replier {
    /// The conversation engines.
    Agent(Box<Engines>),
    /// The measurement tone, this long after the caller stops.
    Tone(Duration),
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd {
    /// The caller left, the link went away, or the conversation ended on its own.
    Ended,
    /// It reached the maximum call length.
    LengthLimit,
}

/// A session's voice, shared between its TTS worker and this module's goodbye: one engine, used
/// by one of them at a time.
#[derive(Clone)]
pub struct SharedVoice {
    inner: Arc<Mutex<Box<dyn Speak>>>,
    rate: u32,
}

impl SharedVoice {
    /// Shares `voice`.
    pub fn new(voice: Box<dyn Speak>) -> Self {
        Self {
            rate: voice.rate(),
            inner: Arc::new(Mutex::new(voice)),
        }
    }

    fn voice(&self) -> std::sync::MutexGuard<'_, Box<dyn Speak>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Speak for SharedVoice {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn set_pace(&mut self, length_factor: f32) {
        self.voice().set_pace(length_factor);
    }

    fn speak(&mut self, text: &str, cancel: &CancelToken) -> Result<Vec<f32>, EngineError> {
        self.voice().speak(text, cancel)
    }
}

/// A length as said aloud and shown: "1 hour", "90 minutes", "3 seconds".
pub fn spoken_length(length: Duration) -> String {
    let secs = length.as_secs().max(1);
    let (n, unit) = if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// What the agent says at the limit.
fn goodbye_text(limit: Duration) -> String {
    format!(
        "I'm sorry, this call has reached its limit of {}. Thank you for talking with me. Goodbye!",
        spoken_length(limit)
    )
}

/// Runs `replier` on `link` until the call ends on its own or `deadline` passes (then the
/// goodbye, see the module doc); `limit` is the call length the deadline stands for.
pub async fn run_call(
    replier: Replier,
    config: AgentConfig,
    link: SessionIo,
    deadline: tokio::time::Instant,
    limit: Duration,
) -> CallEnd {
    let started = Instant::now();
    let SessionIo {
        input: mut from_link,
        output,
        control,
        progress,
        events,
        status,
    } = link;
    let (to_session, session_input) = mpsc::channel(RELAY_CAPACITY);
    let session_io = SessionIo {
        input: session_input,
        output: output.clone(),
        control: control.clone(),
        progress: progress.clone(),
        events: events.clone(),
        status,
    };
    let (voice, mut conversation) = match replier {
        Replier::Agent(engines) => {
            let engines = *engines;
            let voice = SharedVoice::new(engines.tts);
            let engines = Engines {
                tts: Box::new(voice.clone()),
                ..engines
            };
            let session = tokio::spawn(run_session(config, engines, session_io));
            (Some(voice), session)
        }
        Replier::Tone(after) => (None, tokio::spawn(run_tone_probe(after, session_io))),
    };
    let limit_reached = tokio::time::sleep_until(deadline);
    tokio::pin!(limit_reached);
    loop {
        tokio::select! {
            _ = &mut conversation => {
                release(voice).await;
                return CallEnd::Ended;
            }
            frame = from_link.recv() => match frame {
                // A session that is gone is seen by the arm above.
                Some(frame) => { let _ = to_session.send(frame).await; }
                None => {
                    drop(to_session);
                    let _ = conversation.await;
                    release(voice).await;
                    return CallEnd::Ended;
                }
            },
            () = &mut limit_reached => break,
        }
    }
    // The conversation ends as if the caller had left, while the goodbye is synthesized.
    drop(to_session);
    let goodbye = voice.map(|voice| {
        let text = goodbye_text(limit);
        tokio::task::spawn_blocking(move || {
            let mut voice = voice;
            let samples = voice.speak(&text, &CancelToken::new());
            (voice.rate, samples)
        })
    });
    let _ = conversation.await;
    let ending = format!(
        "this call reached its maximum length of {}",
        spoken_length(limit)
    );
    let event = SessionEvent {
        at: 0,
        wall_ms: started.elapsed().as_secs_f64() * 1000.0,
        kind: SessionEventKind::Ending { ending },
    };
    let _ = events.send(event).await;
    if let Some(goodbye) = goodbye {
        match goodbye.await {
            Ok((rate, Ok(samples))) => play(&output, &control, progress, rate, samples).await,
            Ok((_, Err(e))) => tracing::warn!("the goodbye could not be synthesized: {e}"),
            Err(e) => tracing::warn!("the goodbye's synthesis failed: {e}"),
        }
    }
    tokio::time::sleep(ENDING_LINGER).await;
    CallEnd::LengthLimit
}

/// Drops this module's share of the voice off the async workers (when the session has already
/// dropped its own, this drops the engine).
async fn release(voice: Option<SharedVoice>) {
    if let Some(voice) = voice {
        let _ = tokio::task::spawn_blocking(move || drop(voice)).await;
    }
}

/// Plays `samples` on the link after a flush of whatever was queued (and a resume, if playback
/// was paused), and waits until they have played, or their length and [`GOODBYE_MARGIN`] have
/// passed.
async fn play(
    output: &mpsc::Sender<TransportOut>,
    control: &PlaybackControl,
    mut progress: watch::Receiver<PlaybackProgress>,
    rate: u32,
    samples: Vec<f32>,
) {
    let (flush, hold) = control.latest();
    let epoch = flush + 1;
    control.flush(epoch);
    if is_pause(hold) {
        control.hold(hold + 1);
    }
    let length = Duration::from_secs_f64(samples.len() as f64 / f64::from(rate.max(1)));
    let chunk = PlayChunk {
        epoch,
        id: GOODBYE,
        rate,
        samples,
    };
    if output.send(TransportOut::Play(chunk)).await.is_err() {
        return; // the link is gone
    }
    let played = async {
        loop {
            if progress
                .borrow_and_update()
                .mark
                .is_some_and(|mark| mark.covers(GOODBYE))
            {
                return;
            }
            if progress.changed().await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(length + GOODBYE_MARGIN, played).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_said_in_their_largest_whole_unit() {
        assert_eq!(spoken_length(Duration::from_secs(3600)), "1 hour");
        assert_eq!(spoken_length(Duration::from_secs(7200)), "2 hours");
        assert_eq!(spoken_length(Duration::from_secs(5400)), "90 minutes");
        assert_eq!(spoken_length(Duration::from_secs(60)), "1 minute");
        assert_eq!(spoken_length(Duration::from_secs(4)), "4 seconds");
        assert_eq!(spoken_length(Duration::from_millis(10)), "1 second");
        assert!(goodbye_text(Duration::from_secs(3600)).contains("limit of 1 hour"));
    }
}
