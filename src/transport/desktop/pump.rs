//! The desktop transport's loop, on the session's tokio runtime: every 10 ms it moves the
//! microphone (converted to 16 kHz, echo-cancelled) into the session in 20 ms frames, moves the
//! agent's speech (converted to the device rate) into the speaker ring, carries out barge-in
//! flushes through the flush epoch, and reports how much speech was actually played.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::convert::StreamResampler;
use super::link::DeviceLink;
use super::{DesktopError, TalkReport};
use crate::aec::{EchoAligner, EchoCanceller};
use crate::agent::AgentConfig;
use crate::audio::{FRAME_SAMPLES, PIPELINE_RATE, resample::resample};
use crate::runtime::{
    Engines, SessionEvent, TransportEnds, TransportIn, TransportOut, run_session, session_channels,
};

/// How often the loop runs: half a pipeline frame.
const TICK: Duration = Duration::from_millis(10);

/// What a desktop conversation needs besides the engines and the device.
pub struct TalkSetup {
    /// The agent's settings.
    pub agent: AgentConfig,
    /// The echo canceller (`None`: `--no-aec`).
    pub aec: Option<Box<dyn EchoCanceller>>,
    /// Set to end the conversation.
    pub stop: Arc<AtomicBool>,
    /// End on Ctrl-C or SIGTERM too.
    pub stop_on_signals: bool,
    /// Called with each event as it happens.
    pub on_event: Box<dyn FnMut(&SessionEvent) + Send>,
}

/// Runs a conversation over `link` until `stop` is set, a signal arrives (if asked) or the
/// device fails. Blocks.
pub fn talk_over(
    engines: Engines,
    link: DeviceLink,
    setup: TalkSetup,
) -> Result<TalkReport, DesktopError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .enable_io()
        .build()
        .map_err(DesktopError::Runtime)?;
    runtime.block_on(talk_async(engines, link, setup))
}

/// The transport's working state for the speaker side.
struct Speaker {
    /// Device-rate speech not yet in the ring.
    pending: VecDeque<f32>,
    /// 16 kHz samples queued by the session so far (the bound for `Played`).
    queued_16k: u64,
    epoch: u64,
    last_played: u64,
}

async fn talk_async(
    engines: Engines,
    mut link: DeviceLink,
    mut setup: TalkSetup,
) -> Result<TalkReport, DesktopError> {
    let format = link.format;
    let mut mic_resampler = StreamResampler::new(format.input_rate, PIPELINE_RATE)?;
    let mut ref_resampler = StreamResampler::new(format.output_rate, PIPELINE_RATE)?;
    let mut aligner = EchoAligner::new(setup.aec.take());

    let (io, ends) = session_channels();
    let TransportEnds {
        input: in_tx,
        output: mut out_rx,
        events: mut ev_rx,
        ..
    } = ends;
    let session = tokio::spawn(run_session(setup.agent.clone(), engines, io));
    let mut on_event = setup.on_event;
    let recorder = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(e) = ev_rx.recv().await {
            on_event(&e);
            events.push(e);
        }
        events
    });
    let signalled = Arc::new(AtomicBool::new(false));
    if setup.stop_on_signals {
        spawn_signal_watch(signalled.clone());
    }

    let mut report = TalkReport::default();
    let mut speaker = Speaker {
        pending: VecDeque::new(),
        queued_16k: 0,
        epoch: 0,
        last_played: 0,
    };
    let mut scratch = vec![0.0f32; 4096];
    let mut converted = Vec::with_capacity(4096);
    let mut cleaned = Vec::with_capacity(4096);
    let mut frame = Vec::with_capacity(FRAME_SAMPLES);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Ok(error) = link.errors.try_recv() {
            tracing::error!("audio device failed: {error}");
            report.device_error = Some(error);
            break;
        }
        if setup.stop.load(Ordering::SeqCst) || signalled.load(Ordering::SeqCst) {
            break;
        }
        if !drain_session_output(&mut out_rx, &mut link, &mut speaker)? {
            break;
        }
        feed_speaker(&mut link, &mut speaker);

        // The played reference first, so the canceller has it before the echo.
        converted.clear();
        loop {
            let n = link.reference.pop(&mut scratch);
            if n == 0 {
                break;
            }
            ref_resampler.process(&scratch[..n], &mut converted);
        }
        aligner.push_far(&converted);
        converted.clear();
        loop {
            let n = link.capture.pop(&mut scratch);
            if n == 0 {
                break;
            }
            mic_resampler.process(&scratch[..n], &mut converted);
        }
        cleaned.clear();
        aligner.push_near(&converted, &mut cleaned);
        for &s in &cleaned {
            frame.push(s);
            if frame.len() == FRAME_SAMPLES {
                let full = std::mem::replace(&mut frame, Vec::with_capacity(FRAME_SAMPLES));
                report.frames_sent += 1;
                match in_tx.try_send(TransportIn::Audio(full)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => report.frames_dropped += 1,
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
        }
        let played = played_16k(&link, &speaker);
        if played != speaker.last_played {
            speaker.last_played = played;
            if in_tx.send(TransportIn::Played(played)).await.is_err() {
                break;
            }
        }
    }
    drop(in_tx);
    let _ = session.await;
    report.events = recorder.await.unwrap_or_default();
    let shared = &link.shared;
    report.played_samples = speaker.last_played;
    report.underruns = shared.underruns.load(Ordering::Relaxed);
    report.overflow_samples = shared.overflows.load(Ordering::Relaxed);
    report.xruns = shared.xruns.load(Ordering::Relaxed);
    report.reference_dropped = aligner.far_dropped();
    report.flushes = speaker.epoch;
    Ok(report)
}

/// Takes every command the session has queued. Returns false when the session has ended.
fn drain_session_output(
    out_rx: &mut mpsc::Receiver<TransportOut>,
    link: &mut DeviceLink,
    speaker: &mut Speaker,
) -> Result<bool, DesktopError> {
    loop {
        match out_rx.try_recv() {
            Ok(TransportOut::Play(samples)) => {
                speaker.queued_16k += samples.len() as u64;
                let rate = link.format.output_rate;
                let device = resample(&samples, PIPELINE_RATE, rate).map_err(|e| {
                    DesktopError::Resampler {
                        from: PIPELINE_RATE,
                        to: rate,
                        detail: e.to_string(),
                    }
                })?;
                speaker.pending.extend(device);
            }
            Ok(TransportOut::Flush) => {
                speaker.pending.clear();
                speaker.epoch += 1;
                link.shared
                    .flush_epoch
                    .store(speaker.epoch, Ordering::Release);
                // Everything queued is dropped: what was played is all that counts now.
                speaker.queued_16k = played_16k(link, speaker).max(speaker.last_played);
            }
            Err(mpsc::error::TryRecvError::Empty) => return Ok(true),
            Err(mpsc::error::TryRecvError::Disconnected) => return Ok(false),
        }
    }
}

/// Moves pending speech into the speaker ring, once the callback has carried out the last flush.
fn feed_speaker(link: &mut DeviceLink, speaker: &mut Speaker) {
    let shared = &link.shared;
    if shared.flush_done.load(Ordering::Acquire) == speaker.epoch {
        let (a, b) = speaker.pending.as_slices();
        let mut pushed = link.playback.push(a);
        if pushed == a.len() {
            pushed += link.playback.push(b);
        }
        speaker.pending.drain(..pushed);
    }
    shared
        .backlog
        .store(speaker.pending.len() as u64, Ordering::Release);
}

/// Speech played so far, in 16 kHz samples, never more than was queued.
fn played_16k(link: &DeviceLink, speaker: &Speaker) -> u64 {
    let device = link.shared.played.load(Ordering::Acquire);
    let rate = u64::from(link.format.output_rate);
    let at_16k = device * u64::from(PIPELINE_RATE) / rate;
    at_16k.min(speaker.queued_16k).max(speaker.last_played)
}

fn spawn_signal_watch(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        flag.store(true, Ordering::SeqCst);
    });
}
