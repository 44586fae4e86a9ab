//! The Realtime WebSocket as a session transport, beside the WebRTC link and the desktop pump:
//! the client's appended audio (PCM16 at 24 kHz) resampled to the session's 16 kHz and handed
//! on as 20 ms frames on the session's own clock, and the reply's audio pulled from the session's
//! playout at 24 kHz one period at a time, so that the playback ledger counts what was sent.
//!
//! # The input clock
//!
//! The session's clock is its input samples, and its turn-taking needs them to keep coming (the
//! silence after speech is what ends a turn). A Realtime client streams its microphone at its
//! own pace, in appends of any size, and may stop. So the socket feeds the session one frame
//! every 20 ms of wall time from the audio it has buffered, and silence when none is buffered:
//! like a microphone, which never stops. After running dry it waits for [`PREBUFFER_FRAMES`] of
//! audio before feeding it again, so that the jitter of a client streaming in real time does not
//! cut its speech into pieces; audio buffered beyond [`CATCH_UP_FRAMES`] (a client that sends
//! faster than real time, or whose clock runs fast) is fed faster, up to [`MAX_FRAMES_PER_TICK`]
//! frames a period.

use std::collections::VecDeque;

use super::events::WIRE_RATE;
use crate::audio::stream::StreamResampler;
use crate::transport::mic_gap::{Handed, MicSender};
use crate::transport::playout::{PlayoutEnds, ReplyPlayout};

/// The session's input rate.
const SESSION_RATE: u32 = 16_000;

/// One frame at the session's rate: 20 ms.
pub const FRAME: usize = 320;

/// The period of the feed and of the reply's playout.
pub const PERIOD: std::time::Duration = std::time::Duration::from_millis(20);

/// Audio buffered before feeding resumes after the buffer ran dry: 100 ms.
const PREBUFFER_FRAMES: usize = 5;

/// Audio buffered beyond which it is fed faster than real time: 200 ms.
const CATCH_UP_FRAMES: usize = 10;

/// The most frames fed in one period (catching up at 4x real time).
const MAX_FRAMES_PER_TICK: usize = 4;

/// The most audio the socket buffers (fed or waiting for a commit): 60 s at 16 kHz. An append
/// beyond it is refused.
pub const MAX_BUFFERED: usize = 60 * SESSION_RATE as usize;

/// The client's audio on its way to the session.
pub struct MicInput {
    resampler: StreamResampler,
    /// Audio to feed, at 16 kHz.
    ready: VecDeque<f32>,
    /// Audio waiting for a commit (client turn detection), at 16 kHz.
    uncommitted: Vec<f32>,
    /// Whether the feed is running (else it waits for the prebuffer).
    flowing: bool,
    mic: MicSender,
    /// Frames the session could not take at once (fed as owed silence later).
    gaps: u64,
}

/// Why an append was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferFull;

impl MicInput {
    /// The input of a session whose input queue is `mic`.
    pub fn new(mic: MicSender) -> Result<Self, crate::audio::AudioError> {
        Ok(Self {
            resampler: StreamResampler::new(WIRE_RATE, SESSION_RATE)?,
            ready: VecDeque::new(),
            uncommitted: Vec::new(),
            flowing: false,
            mic,
            gaps: 0,
        })
    }

    /// Audio buffered now, fed or waiting for a commit, in samples at 16 kHz.
    pub fn buffered(&self) -> usize {
        self.ready.len() + self.uncommitted.len()
    }

    /// Takes `samples` (at 24 kHz): to feed now, or (`hold`) to keep until a commit.
    pub fn append(&mut self, samples: &[f32], hold: bool) -> Result<(), BufferFull> {
        let incoming = samples.len() * SESSION_RATE as usize / WIRE_RATE as usize;
        if self.buffered() + incoming > MAX_BUFFERED {
            return Err(BufferFull);
        }
        let mut out = Vec::with_capacity(incoming + 1);
        self.resampler.process(samples, &mut out);
        if hold {
            self.uncommitted.extend(out);
        } else {
            self.ready.extend(out);
        }
        Ok(())
    }

    /// Moves the audio waiting for a commit to the feed; returns its length in samples.
    pub fn commit(&mut self) -> usize {
        let n = self.uncommitted.len();
        self.ready.extend(self.uncommitted.drain(..));
        // Committed audio is whole: no prebuffer wait for it.
        self.flowing = true;
        n
    }

    /// Drops the audio not yet fed.
    pub fn clear(&mut self) {
        self.uncommitted.clear();
        self.ready.clear();
        self.flowing = false;
    }

    /// Feeds this period's frames to the session; false once the session is gone.
    pub fn feed_period(&mut self) -> bool {
        let frames = self.ready.len() / FRAME;
        if !self.flowing && frames >= PREBUFFER_FRAMES {
            self.flowing = true;
        }
        let count = if !self.flowing {
            0
        } else if frames > CATCH_UP_FRAMES {
            (frames - CATCH_UP_FRAMES).clamp(1, MAX_FRAMES_PER_TICK)
        } else {
            1
        };
        if count == 0 {
            return self.hand(vec![0.0; FRAME]);
        }
        for _ in 0..count {
            let take = self.ready.len().min(FRAME);
            let mut frame: Vec<f32> = self.ready.drain(..take).collect();
            if take < FRAME {
                // Ran dry: the rest of the frame is silence, and the feed waits to refill.
                frame.resize(FRAME, 0.0);
                self.flowing = false;
            }
            if !self.hand(frame) {
                return false;
            }
        }
        true
    }

    fn hand(&mut self, frame: Vec<f32>) -> bool {
        match self.mic.send(frame) {
            Handed::Taken => true,
            Handed::Gap => {
                self.gaps += 1;
                true
            }
            Handed::Closed => false,
        }
    }

    /// Frames the session could not take when they were fed.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }
}

/// The reply's audio on its way to the client, at 24 kHz.
pub struct ReplyOutput {
    playout: ReplyPlayout,
    period: Vec<f32>,
}

impl ReplyOutput {
    /// The output of a session's playout ends.
    pub fn new(ends: PlayoutEnds) -> Self {
        Self {
            playout: ReplyPlayout::new(WIRE_RATE, ends),
            period: vec![0.0; WIRE_RATE as usize * PERIOD.as_millis() as usize / 1000],
        }
    }

    /// The speech of the next period (empty where nothing plays), counted as played once taken;
    /// `None` once the session has ended and everything was taken.
    pub fn next_period(&mut self) -> Option<&[f32]> {
        let n = self.playout.next_period(&mut self.period)?;
        Some(&self.period[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::TransportIn;
    use tokio::sync::mpsc;

    fn fed(rx: &mut mpsc::Receiver<TransportIn>) -> Vec<Vec<f32>> {
        let mut frames = Vec::new();
        while let Ok(TransportIn::Audio(frame)) = rx.try_recv() {
            frames.push(frame);
        }
        frames
    }

    #[test]
    fn silence_is_fed_until_the_prebuffer_fills_then_the_audio_in_whole_frames() {
        let (tx, mut rx) = mpsc::channel(64);
        let mut input = MicInput::new(MicSender::new(tx)).unwrap();
        // 60 ms at 24 kHz: less than the prebuffer.
        input.append(&[0.5; 1440], false).unwrap();
        assert!(input.feed_period());
        let first = fed(&mut rx);
        assert_eq!(first.len(), 1);
        assert!(first[0].iter().all(|&s| s == 0.0));
        // 300 ms more: over the prebuffer and the catch-up mark.
        input.append(&[0.5; 7200], false).unwrap();
        assert!(input.feed_period());
        let next = fed(&mut rx);
        assert!(
            next.len() > 1 && next.len() <= MAX_FRAMES_PER_TICK,
            "{}",
            next.len()
        );
        assert!(next.iter().all(|f| f.len() == FRAME));
    }

    #[test]
    fn held_audio_waits_for_the_commit_and_a_full_buffer_refuses_appends() {
        let (tx, mut rx) = mpsc::channel(64);
        let mut input = MicInput::new(MicSender::new(tx)).unwrap();
        input.append(&[0.5; 4800], true).unwrap();
        input.feed_period();
        assert!(fed(&mut rx)[0].iter().all(|&s| s == 0.0));
        assert!(input.commit() > 3000);
        input.feed_period();
        assert!(fed(&mut rx)[0].iter().any(|&s| s != 0.0));
        let too_much = vec![0.0; MAX_BUFFERED * 2];
        assert_eq!(input.append(&too_much, false), Err(BufferFull));
    }
}
