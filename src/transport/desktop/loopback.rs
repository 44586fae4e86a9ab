//! A simulated room for tests and benches: a thread that plays the role of the sound card at
//! real-time pace, calling the very callbacks cpal would call, with an acoustic path from the
//! speaker back into the microphone ([`EchoPath`]) and a user who speaks when told to. The
//! transport loop, the rings, the rate conversion and the echo canceller are the ones
//! `duplex talk` runs; only cpal is left out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::DesktopError;
use super::link::{DeviceCallbacks, DeviceFormat, DeviceLink, device_link};
use crate::aec::{EchoFilter, EchoPath};
use crate::audio::{PIPELINE_RATE, resample::resample};

/// How the simulated sound card looks.
#[derive(Debug, Clone, Copy)]
pub struct RoomConfig {
    /// Device rate of both streams.
    pub rate: u32,
    /// Channels of both streams.
    pub channels: u16,
    /// Frames per callback.
    pub period_frames: usize,
    /// The path from the speaker to the microphone (`None`: a headset, no echo).
    pub echo: Option<EchoPath>,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            rate: 48_000,
            channels: 2,
            period_frames: 960,
            echo: Some(EchoPath::default()),
        }
    }
}

/// Everything heard in the room, mono at the room's rate, on one timeline.
#[derive(Debug, Default, Clone)]
pub struct RoomRecording {
    /// What the speaker played.
    pub speaker: Vec<f32>,
    /// What the microphone got of it (the echo alone).
    pub echo: Vec<f32>,
    /// What the user said.
    pub user: Vec<f32>,
    /// The sample at which each flush or pause took effect in the speaker (the ring dropped).
    pub discards_at: Vec<u64>,
}

struct Shared {
    user: VecDeque<f32>,
    clock: u64,
    recording: RoomRecording,
}

/// A running simulated room.
pub struct Room {
    config: RoomConfig,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Creates the transport's side of a simulated device and starts the room around its callbacks.
pub fn simulated_device(config: RoomConfig) -> (Room, DeviceLink) {
    let format = DeviceFormat {
        input_rate: config.rate,
        input_channels: config.channels,
        output_rate: config.rate,
        output_channels: config.channels,
    };
    let (callbacks, link) = device_link(format);
    (Room::start(config, callbacks), link)
}

impl Room {
    fn start(config: RoomConfig, callbacks: DeviceCallbacks) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            user: VecDeque::new(),
            clock: 0,
            recording: RoomRecording::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("simulated-room".into())
                .spawn(move || run_room(config, callbacks, &shared, &stop))
                .expect("spawn the simulated room")
        };
        Self {
            config,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// The user says `speech` (16 kHz) after whatever they are still saying. Returns the room
    /// sample at which it starts.
    pub fn say(&self, speech: &[f32]) -> Result<u64, DesktopError> {
        let at_rate = resample(speech, PIPELINE_RATE, self.config.rate)?;
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let start = shared.clock + shared.user.len() as u64;
        shared.user.extend(at_rate);
        Ok(start)
    }

    /// Room samples elapsed.
    pub fn clock(&self) -> u64 {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clock
    }

    /// The room's rate.
    pub fn rate(&self) -> u32 {
        self.config.rate
    }

    /// Stops the room and returns what was heard.
    pub fn stop(mut self) -> RoomRecording {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut shared.recording)
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run_room(
    config: RoomConfig,
    mut callbacks: DeviceCallbacks,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
) {
    let channels = usize::from(config.channels.max(1));
    let frames = config.period_frames;
    let period = Duration::from_secs_f64(frames as f64 / f64::from(config.rate));
    let mut echo_filter = config.echo.map(|path| EchoFilter::new(path, config.rate));
    let mut out = vec![0.0f32; frames * channels];
    let mut mic = vec![0.0f32; frames * channels];
    let mut speaker = vec![0.0f32; frames];
    let mut echo = vec![0.0f32; frames];
    let mut user = vec![0.0f32; frames];
    let mut flushes = 0;
    let start = Instant::now();
    let mut tick = 0u32;
    while !stop.load(Ordering::SeqCst) {
        callbacks.playback.on_output(&mut out);
        for (i, frame) in out.chunks_exact(channels).enumerate() {
            speaker[i] = frame.iter().sum::<f32>() / channels as f32;
            echo[i] = echo_filter.as_mut().map_or(0.0, |f| f.next(speaker[i]));
        }
        let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
        for u in user.iter_mut() {
            *u = state.user.pop_front().unwrap_or(0.0);
        }
        for (i, frame) in mic.chunks_exact_mut(channels).enumerate() {
            frame.fill(echo[i] + user[i]);
        }
        if callbacks.playback.discards() != flushes {
            flushes = callbacks.playback.discards();
            let at = state.clock;
            state.recording.discards_at.push(at);
        }
        state.clock += frames as u64;
        state.recording.speaker.extend_from_slice(&speaker);
        state.recording.echo.extend_from_slice(&echo);
        state.recording.user.extend_from_slice(&user);
        drop(state);
        callbacks.capture.on_input(&mic);
        tick += 1;
        let deadline = start + period * tick;
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}
