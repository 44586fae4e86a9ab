//! The outgoing queue of agent speech at 48 kHz: reply chunks go in (16 kHz, resampled up),
//! one 20 ms frame comes out per pacer tick (silence when empty), a flush drops everything
//! queued at once, and the count of 16 kHz samples actually sent is what the session is told
//! was played.

use std::collections::VecDeque;

use super::WebRtcError;
use super::codec::{OPUS_FRAME, OPUS_RATE};
use crate::audio::PIPELINE_RATE;
use crate::audio::resample::resample;

/// 48 kHz samples per 16 kHz sample.
const UPSAMPLE: u64 = (OPUS_RATE / PIPELINE_RATE) as u64;

/// Agent speech waiting to be sent, and how much was sent.
#[derive(Default)]
pub struct PlayoutQueue {
    queued: VecDeque<f32>,
    sent_48k: u64,
}

impl PlayoutQueue {
    /// Queues 16 kHz speech after whatever is queued.
    pub fn push(&mut self, samples_16k: &[f32]) -> Result<(), WebRtcError> {
        let up = resample(samples_16k, PIPELINE_RATE, OPUS_RATE)
            .map_err(|e| WebRtcError::Codec(e.to_string()))?;
        self.queued.extend(up);
        Ok(())
    }

    /// Drops everything queued.
    pub fn flush(&mut self) {
        self.queued.clear();
    }

    /// Whether speech is waiting.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// The next 20 ms frame to send: queued speech, padded with silence.
    pub fn next_frame(&mut self) -> [f32; OPUS_FRAME] {
        let mut frame = [0.0; OPUS_FRAME];
        let n = self.queued.len().min(OPUS_FRAME);
        for (slot, s) in frame.iter_mut().zip(self.queued.drain(..n)) {
            *slot = s;
        }
        self.sent_48k += n as u64;
        frame
    }

    /// Speech sent so far, in 16 kHz samples (what [`crate::runtime::TransportIn::Played`]
    /// counts).
    pub fn played_16k(&self) -> u64 {
        self.sent_48k / UPSAMPLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn played_counts_only_what_was_sent_and_flush_drops_the_rest() {
        let mut q = PlayoutQueue::default();
        q.push(&vec![0.3; 1600]).unwrap(); // 100 ms
        for _ in 0..2 {
            let frame = q.next_frame();
            assert!(frame.iter().all(|s| s.abs() > 0.1), "speech in the frame");
        }
        assert_eq!(q.played_16k(), 640);
        q.flush();
        assert!(q.is_empty());
        let frame = q.next_frame();
        assert!(frame.iter().all(|&s| s == 0.0), "silence after a flush");
        assert_eq!(q.played_16k(), 640);
    }

    #[test]
    fn a_partial_last_frame_is_padded_with_silence() {
        let mut q = PlayoutQueue::default();
        q.push(&vec![0.3; 400]).unwrap(); // 25 ms: one full frame and a quarter
        q.next_frame();
        let frame = q.next_frame();
        assert!(frame[..200].iter().all(|s| s.abs() > 0.1));
        assert!(frame[300..].iter().all(|&s| s == 0.0));
        assert_eq!(q.played_16k(), 400);
    }
}
