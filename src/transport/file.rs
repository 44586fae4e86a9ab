//! The file transport: feeds a recording to a session in 20 ms frames, at real-time pace
//! (absolute deadlines, no drift) or as fast as the engines allow, and writes the agent's speech
//! on the same timeline as the input: each reply at the time it would have been heard. A
//! conversation may be stopped early ([`converse_until`]): the input stops there, the session
//! ends and joins its engine threads, and what was heard so far is returned.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::playout::ReplyPlayout;
use crate::agent::AgentConfig;
use crate::audio::{FRAME_SAMPLES, PIPELINE_RATE};
use crate::playback::ChunkId;
use crate::runtime::{
    Engines, SessionEvent, TransportEnds, TransportIn, run_session, session_channels,
};

/// The rate of the agent's speech in the output: Piper voices' own, so it passes unchanged.
pub const OUTPUT_RATE: u32 = 22_050;

/// Output samples per 20 ms input frame.
const OUTPUT_FRAME: usize = OUTPUT_RATE as usize / 50;

/// How the recording is fed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// One frame every 20 ms of wall clock, as a microphone would deliver it.
    RealTime,
    /// Each frame as soon as the engines are idle: the timeline is as if they cost nothing.
    Fast,
}

/// What a conversation over a file produced.
pub struct Conversation {
    /// The agent's speech on the input's timeline (at `output_rate`), silence elsewhere; it runs
    /// on past the input's end while a reply was still being heard.
    pub output: Vec<f32>,
    /// The output's sample rate ([`OUTPUT_RATE`]).
    pub output_rate: u32,
    /// Everything the session recorded.
    pub events: Vec<SessionEvent>,
    /// Where each reply chunk began in `output` (its first sample), in the order played.
    pub chunk_starts: Vec<(ChunkId, usize)>,
}

/// Longest extra listening after the input ends, waiting for the last reply to finish.
const MAX_TAIL_S: u64 = 30;

/// Runs one conversation over `input` (16 kHz mono). Blocks until it is over.
pub fn converse(config: AgentConfig, engines: Engines, input: &[f32], pace: Pace) -> Conversation {
    converse_until(config, engines, input, pace, &AtomicBool::new(false))
}

/// As [`converse`], but once `stop` is set (checked every frame) the input ends there: the
/// session ends as if the caller had left (its engine threads joined) and the conversation so
/// far is returned, its output as long as the input fed.
pub fn converse_until(
    config: AgentConfig,
    engines: Engines,
    input: &[f32],
    pace: Pace,
    stop: &AtomicBool,
) -> Conversation {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    runtime.block_on(converse_async(config, engines, input, pace, stop))
}

async fn converse_async(
    config: AgentConfig,
    engines: Engines,
    input: &[f32],
    pace: Pace,
    stop: &AtomicBool,
) -> Conversation {
    let (io, ends) = session_channels();
    let TransportEnds {
        input: in_tx,
        playout,
        events: mut ev_rx,
        status,
    } = ends;
    let mut playout = ReplyPlayout::new(OUTPUT_RATE, playout);
    let session = tokio::spawn(run_session(config, engines, io));
    let recorder = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(e) = ev_rx.recv().await {
            events.push(e);
        }
        events
    });

    let frame_time =
        Duration::from_micros(1_000_000 * FRAME_SAMPLES as u64 / u64::from(PIPELINE_RATE));
    let tail_frames = MAX_TAIL_S as usize * PIPELINE_RATE as usize / FRAME_SAMPLES;
    let input_frames = input.len().div_ceil(FRAME_SAMPLES);
    let mut output = Vec::with_capacity(input.len() * OUTPUT_FRAME / FRAME_SAMPLES);
    let mut period = [0.0f32; OUTPUT_FRAME];
    let mut chunk_starts = Vec::new();
    let start = tokio::time::Instant::now();
    let silence = [0.0f32; FRAME_SAMPLES];
    let mut fed = input_frames;
    for i in 0..input_frames + tail_frames {
        if stop.load(Ordering::SeqCst) {
            fed = fed.min(i);
            break;
        }
        match pace {
            Pace::RealTime => tokio::time::sleep_until(start + frame_time * i as u32).await,
            Pace::Fast => {
                while status.in_flight.load(Ordering::SeqCst) > 0 {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
        }
        let frame = input
            .get(i * FRAME_SAMPLES..)
            .map(|rest| &rest[..rest.len().min(FRAME_SAMPLES)])
            .unwrap_or(&silence);
        let mut frame = frame.to_vec();
        frame.resize(FRAME_SAMPLES, 0.0);
        if in_tx.send(TransportIn::Audio(frame)).await.is_err() {
            break;
        }
        if pace == Pace::Fast {
            // Let the session handle this frame, and the engines answer, before time moves on.
            while status.frames_handled.load(Ordering::SeqCst) <= i as u64
                || status.in_flight.load(Ordering::SeqCst) > 0
            {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
        if playout.next_period(&mut period).is_none() {
            break;
        }
        output.extend_from_slice(&period);
        if let Some(mark) = playout.progress().mark
            && chunk_starts.last().is_none_or(|(id, _)| *id != mark.id)
        {
            let played = (mark.played as usize).min(period.len());
            chunk_starts.push((mark.id, output.len() - played));
        }
        let input_over = i + 1 >= input_frames;
        if input_over && playout.is_idle() && !status.busy.load(Ordering::SeqCst) {
            break;
        }
    }
    drop(in_tx);
    let _ = session.await;
    let events = recorder.await.unwrap_or_default();
    let input_len = (input.len() * OUTPUT_FRAME / FRAME_SAMPLES).min(fed * OUTPUT_FRAME);
    output.resize(output.len().max(input_len), 0.0);
    Conversation {
        output,
        output_rate: OUTPUT_RATE,
        events,
        chunk_starts,
    }
}
