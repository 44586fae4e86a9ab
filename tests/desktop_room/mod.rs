//! A conversation with the real models in the simulated room of
//! `duplex::transport::desktop::loopback`: the desktop transport's own loop, rings, rate
//! conversion and echo canceller, with the agent's voice coming back into the microphone through
//! an acoustic path. Shared by `tests/desktop_echo.rs` and `benches/aec.rs`.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use duplex::aec::{Aec3, EchoCanceller};
use duplex::agent::AgentEvent;
use duplex::asr::WhisperModel;
use duplex::audio::load_pipeline_audio;
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::runtime::{SessionEvent, SessionEventKind, load_local_engines};
use duplex::transport::desktop::loopback::{Room, RoomConfig, RoomRecording, simulated_device};
use duplex::transport::desktop::pump::{TalkSetup, talk_over};
use duplex::transport::desktop::{DesktopError, TalkReport};

/// One room at a time in a test process: a room runs the real models in real time, and two at
/// once on a 2-core machine (the test harness runs a file's tests in parallel) make both too
/// slow to keep to the speech they hear.
static ONE_ROOM: Mutex<()> = Mutex::new(());

/// A running conversation in a simulated room.
pub struct RoomSession {
    /// Held until the session finishes (see [`ONE_ROOM`]).
    _room_turn: MutexGuard<'static, ()>,
    pub room: Room,
    events: Receiver<SessionEvent>,
    pub seen: Vec<AgentEvent>,
    stop: Arc<AtomicBool>,
    talk: JoinHandle<Result<TalkReport, DesktopError>>,
}

/// The agent's events, its report and what the room heard.
pub struct RoomOutcome {
    pub events: Vec<AgentEvent>,
    pub report: TalkReport,
    pub recording: RoomRecording,
}

impl RoomSession {
    /// Loads the real engines and starts talking in a room of `config`, with or without AEC.
    pub fn start(config: RoomConfig, aec: bool) -> Self {
        Self::start_with(config, aec, Config::default())
    }

    /// Like [`start`](Self::start), with these settings.
    pub fn start_with(config: RoomConfig, aec: bool, settings: Config) -> Self {
        let room_turn = ONE_ROOM
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let whisper = WhisperModel::load(&settings.models, &settings.asr).expect("whisper");
        let engines = load_local_engines(&settings, &whisper).expect("engines load");
        let (room, link) = simulated_device(config);
        let (tx, events) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let setup = TalkSetup {
            agent: settings.agent_config(),
            aec: aec.then(|| Box::new(Aec3::new()) as Box<dyn EchoCanceller>),
            stop: stop.clone(),
            stop_on_signals: false,
            on_event: Box::new(move |e: &SessionEvent| {
                let _ = tx.send(e.clone());
            }),
        };
        let talk = std::thread::spawn(move || talk_over(engines, link, setup));
        Self {
            _room_turn: room_turn,
            room,
            events,
            seen: Vec::new(),
            stop,
            talk,
        }
    }

    /// The user says a fixture; returns the room sample where it starts.
    pub fn say(&self, fixture: &str) -> u64 {
        self.say_samples(&load_pipeline_audio(&fixture_path(fixture)).expect("fixture"))
    }

    /// The user says `speech` (16 kHz); returns the room sample where it starts.
    pub fn say_samples(&self, speech: &[f32]) -> u64 {
        self.room.say(speech).expect("resampled")
    }

    /// Waits up to `timeout` for an agent event matching `wanted`; every event is kept in `seen`.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&AgentEvent) -> bool,
    ) -> Option<AgentEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.events.recv_timeout(left) {
                Ok(SessionEvent {
                    kind: SessionEventKind::Agent(event),
                    ..
                }) => {
                    println!("{}", serde_json::to_string(&event).unwrap_or_default());
                    self.seen.push(event.clone());
                    if wanted(&event) {
                        return Some(event);
                    }
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Keeps listening for `duration`, collecting events.
    pub fn listen(&mut self, duration: Duration) {
        let _ = self.wait_for(duration, |_| false);
    }

    /// Ends the conversation.
    pub fn finish(mut self) -> RoomOutcome {
        self.stop.store(true, Ordering::SeqCst);
        let report = self
            .talk
            .join()
            .expect("the transport thread")
            .expect("the transport ran");
        while let Ok(e) = self.events.try_recv() {
            if let SessionEventKind::Agent(event) = e.kind {
                self.seen.push(event);
            }
        }
        let recording = self.room.stop();
        RoomOutcome {
            events: self.seen,
            report,
            recording,
        }
    }
}

/// Root-mean-square level in dBFS.
pub fn rms_db(x: &[f32]) -> f64 {
    let mean = x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * mean.max(1e-12).log10()
}
