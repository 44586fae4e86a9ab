//! The desktop transport's loop, on the session's tokio runtime: every 10 ms it moves the
//! microphone (converted to 16 kHz, echo-cancelled) into the session in 20 ms frames, moves the
//! agent's speech (converted to the device rate) into the speaker ring, carries out barge-in
//! flushes and pauses through the discard epoch, passes backchannels to the callback's own ring,
//! and reports how much speech was actually played.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::link::DeviceLink;
use super::{DesktopError, TalkReport};
use crate::aec::{EchoAligner, EchoCanceller};
use crate::agent::AgentConfig;
use crate::audio::stream::StreamResampler;
use crate::audio::{FRAME_SAMPLES, PIPELINE_RATE};
use crate::runtime::{Engines, SessionEvent, TransportEnds, run_session, session_channels};
use crate::transport::mic_gap::{Handed, MicSender};
use crate::transport::playout::{Command, ReplyPlayout};

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

/// Device-rate samples moved into the speaker ring at a time: 10 ms, so that the reply's
/// converter gives up its tail only when speech is really about to run out.
pub fn ring_period(rate: u32) -> usize {
    (rate as usize / 100).max(1)
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
        playout,
        events: mut ev_rx,
        ..
    } = ends;
    let mut mic = MicSender::new(in_tx);
    let mut playout = ReplyPlayout::new(format.output_rate, playout);
    let mut period = vec![0.0f32; ring_period(format.output_rate)];
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
        if !serve_playout(&mut playout, &mut link, &mut period) {
            break;
        }

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
                // A frame the session is too far behind to take becomes silence of its length.
                match mic.send(full) {
                    Handed::Taken => {}
                    Handed::Gap => report.frames_dropped += 1,
                    Handed::Closed => break,
                }
            }
        }
        playout.confirm(link.shared.played.load(Ordering::Acquire));
    }
    drop(mic);
    let _ = session.await;
    report.events = recorder.await.unwrap_or_default();
    let shared = &link.shared;
    report.played_samples = shared.played.load(Ordering::Acquire);
    report.underruns = shared.underruns.load(Ordering::Relaxed);
    report.overflow_samples = shared.overflows.load(Ordering::Relaxed);
    report.xruns = shared.xruns.load(Ordering::Relaxed);
    report.reference_dropped = aligner.far_dropped();
    report.flushes = playout.flushes();
    Ok(report)
}

/// Carries out the session's playback commands on the device: a flush or a pause raises the
/// callback's discard epoch and completes once the callback has dropped the ring (the true played
/// count is then known); reply audio moves into the ring one period at a time while no discard
/// is pending (none while paused). Returns false when the session has ended.
pub fn serve_playout(
    playout: &mut ReplyPlayout,
    link: &mut DeviceLink,
    period: &mut [f32],
) -> bool {
    let shared = &link.shared;
    loop {
        match playout.take_commands() {
            Command::Idle => break,
            Command::Closed => return false,
            Command::Discard => {
                let asked = *link.discard_asked.get_or_insert_with(|| {
                    // Ask the callback to drop its ring at its next buffer.
                    let epoch = shared.discard_epoch.load(Ordering::Acquire) + 1;
                    shared.discard_epoch.store(epoch, Ordering::Release);
                    shared.backlog.store(0, Ordering::Release);
                    epoch
                });
                if shared.discard_done.load(Ordering::Acquire) < asked {
                    return true; // the callback carries it out at its next buffer
                }
                link.discard_asked = None;
                playout.complete_discard(shared.played.load(Ordering::Acquire));
            }
        }
    }
    while link.playback.vacant() >= period.len() {
        let n = playout.pull_speech(period);
        if n == 0 {
            break;
        }
        link.playback.push(&period[..n]);
    }
    // A backchannel goes to its own short ring, mixed in by the callback beside the speech; a
    // stop makes the callback drop what is left of it there.
    shared
        .backchannel_stop_epoch
        .store(playout.backchannel_stops(), Ordering::Release);
    loop {
        let room = link.backchannel.vacant().min(period.len());
        let n = playout.pull_backchannel(&mut period[..room]);
        if n == 0 {
            break;
        }
        link.backchannel.push(&period[..n]);
    }
    shared
        .backlog
        .store(playout.queued_samples() as u64, Ordering::Release);
    true
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
