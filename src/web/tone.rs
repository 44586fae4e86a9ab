//! A measurement tool, not a conversation: a "session" that answers every utterance with a
//! fixed 440 Hz tone a fixed time after the caller's last voiced frame. Served with
//! `duplex serve --measure-tone-after-ms N`, it lets the page measure the transport's own
//! round trip (its measured latency minus N); the real conversation never uses it.

use std::time::Duration;

use crate::audio::PIPELINE_RATE;
use duplex_core::agent::TurnId;
use duplex_core::playback::ChunkId;

use crate::runtime::{PlayChunk, SessionIo, TransportIn, TransportOut};

/// A sample counts as voice above this level: the page's latency meter uses the same default,
/// so both ends agree on where the caller stopped.
pub const LOUD: f32 = 0.02;

/// Length of the tone.
const TONE: Duration = Duration::from_millis(400);

/// The tone's amplitude.
const TONE_LEVEL: f32 = 0.5;

/// The tone's pitch.
const TONE_HZ: f32 = 440.0;

/// `lead` samples of silence, then the tone.
fn tone_after(lead: usize) -> Vec<f32> {
    let n = (TONE.as_secs_f32() * PIPELINE_RATE as f32) as usize;
    let mut out = vec![0.0; lead];
    out.extend((0..n).map(|i| {
        TONE_LEVEL * (i as f32 * TONE_HZ * std::f32::consts::TAU / PIPELINE_RATE as f32).sin()
    }));
    out
}

/// Runs until the transport closes the input. The tone is queued one frame ahead of its
/// deadline, led by the silence that puts its first sample exactly `after` past the last loud
/// input sample.
pub async fn run_tone_probe(after: Duration, mut io: SessionIo) {
    let after_samples = (after.as_secs_f64() * f64::from(PIPELINE_RATE)) as u64;
    let mut heard = 0u64;
    let mut last_loud: Option<u64> = None;
    let mut tones = 0;
    while let Some(message) = io.input.recv().await {
        let TransportIn::Audio(frame) = message;
        if let Some(i) = frame.iter().rposition(|s| s.abs() > LOUD) {
            last_loud = Some(heard + i as u64 + 1);
        }
        heard += frame.len() as u64;
        let Some(end) = last_loud else { continue };
        let deadline = end + after_samples;
        // Queue it while the deadline is within the next frame (or already passed).
        if heard + frame.len() as u64 > deadline {
            last_loud = None;
            tones += 1;
            let lead = deadline.saturating_sub(heard) as usize;
            let tone = PlayChunk {
                epoch: 0,
                id: ChunkId {
                    turn: TurnId(tones),
                    chunk: 0,
                },
                rate: PIPELINE_RATE,
                samples: tone_after(lead),
            };
            if io.output.send(TransportOut::Play(tone)).await.is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tone's first loud sample lands exactly `after` past the last loud input sample.
    #[tokio::test]
    async fn tone_starts_exactly_after_the_last_loud_sample() {
        let (io, ends) = crate::runtime::session_channels();
        let in_tx = ends.input;
        let mut out_rx = ends.playout.commands;
        let probe = tokio::spawn(run_tone_probe(Duration::from_millis(100), io));
        let mut frame = vec![0.5; 320];
        frame[200..].fill(0.0); // last loud sample: index 199
        in_tx.send(TransportIn::Audio(frame)).await.unwrap();
        let mut sent = 320u64;
        let mut played_at = None;
        while played_at.is_none() && sent < 16_000 {
            in_tx
                .send(TransportIn::Audio(vec![0.0; 320]))
                .await
                .unwrap();
            tokio::task::yield_now().await;
            if let Ok(TransportOut::Play(tone)) = out_rx.try_recv() {
                let lead = tone.samples.iter().position(|s| s.abs() > 0.0).unwrap() as u64;
                played_at = Some(sent + 320 + lead);
            }
            sent += 320;
        }
        drop(in_tx);
        probe.await.unwrap();
        // Last loud sample ends at 200; 100 ms later is sample 1800. The tone's first sample is
        // 0 (a sine), so its first non-zero sample is one later.
        assert_eq!(played_at, Some(1_800 + 1));
    }
}
