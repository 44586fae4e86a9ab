//! The bodies of the device callbacks, as plain functions over sample slices. They only copy
//! between the device buffer and lock-free rings, with scratch space allocated up front: no
//! allocation, no lock, no logging, so they are safe on a real-time audio thread (the
//! `desktop_callbacks` test counts allocations to prove it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cpal::{FromSample, Sample};

use crate::audio::ring::{SampleConsumer, SampleProducer};

/// The largest device buffer handled in one pass; larger ones are handled in several.
pub const MAX_CALLBACK_FRAMES: usize = 8192;

/// Counters and commands shared between the transport and the output callback.
#[derive(Debug, Default)]
pub struct PlaybackShared {
    /// Bumped by the transport to flush or pause: the callback drops everything in its ring.
    pub discard_epoch: AtomicU64,
    /// The last epoch the callback has acted on; the transport queues new speech only once this
    /// equals `discard_epoch`, so a discard never eats the next reply.
    pub discard_done: AtomicU64,
    /// Device-rate samples of speech taken from the ring and played.
    pub played: AtomicU64,
    /// Samples the transport holds that are not yet in the ring (so a short ring is an underrun).
    pub backlog: AtomicU64,
    /// Callbacks that played silence for lack of queued speech while more was waiting.
    pub underruns: AtomicU64,
    /// Samples of the capture or reference rings lost because the transport fell behind.
    pub overflows: AtomicU64,
    /// Buffer under- or overruns the device reported (it recovers from them by itself).
    pub xruns: AtomicU64,
    /// Bumped by the transport when the user goes on over a backchannel: the callback drops
    /// what is left of it in its ring at once.
    pub backchannel_stop_epoch: AtomicU64,
}

/// The input callback's state: downmixes each frame to mono and queues it.
pub struct CaptureCallback {
    ring: SampleProducer,
    channels: usize,
    scratch: Vec<f32>,
    shared: Arc<PlaybackShared>,
}

impl CaptureCallback {
    /// A callback for a device with `channels` interleaved channels, writing into `ring`.
    pub fn new(ring: SampleProducer, channels: u16, shared: Arc<PlaybackShared>) -> Self {
        Self {
            ring,
            channels: usize::from(channels.max(1)),
            scratch: vec![0.0; MAX_CALLBACK_FRAMES],
            shared,
        }
    }

    /// Handles one device buffer (interleaved).
    pub fn on_input<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let scale = 1.0 / self.channels as f32;
        for block in data.chunks(MAX_CALLBACK_FRAMES * self.channels) {
            let frames = block.len() / self.channels;
            for (mono, frame) in self.scratch[..frames]
                .iter_mut()
                .zip(block.chunks_exact(self.channels))
            {
                *mono = frame.iter().map(|s| f32::from_sample(*s)).sum::<f32>() * scale;
            }
            let pushed = self.ring.push(&self.scratch[..frames]);
            if pushed < frames {
                self.shared
                    .overflows
                    .fetch_add((frames - pushed) as u64, Ordering::Relaxed);
            }
        }
    }
}

/// The output callback's state: plays queued speech (or silence) with any backchannel mixed in,
/// and records what it played as the echo canceller's reference (so the canceller removes the
/// agent's "mm-hm" from the microphone like its speech).
pub struct PlaybackCallback {
    ring: SampleConsumer,
    backchannel: SampleConsumer,
    reference: SampleProducer,
    channels: usize,
    scratch: Vec<f32>,
    aside: Vec<f32>,
    seen_epoch: u64,
    seen_backchannel_stop: u64,
    shared: Arc<PlaybackShared>,
}

impl PlaybackCallback {
    /// A callback for a device with `channels` interleaved channels, playing speech from `ring`
    /// with `backchannel` mixed in (not counted as played speech), and writing every played
    /// sample (silence included) into `reference`.
    pub fn new(
        ring: SampleConsumer,
        backchannel: SampleConsumer,
        reference: SampleProducer,
        channels: u16,
        shared: Arc<PlaybackShared>,
    ) -> Self {
        Self {
            ring,
            backchannel,
            reference,
            channels: usize::from(channels.max(1)),
            scratch: vec![0.0; MAX_CALLBACK_FRAMES],
            aside: vec![0.0; MAX_CALLBACK_FRAMES],
            seen_epoch: 0,
            seen_backchannel_stop: 0,
            shared,
        }
    }

    /// Discards carried out so far (the discard epoch last seen).
    pub fn discards(&self) -> u64 {
        self.seen_epoch
    }

    /// Fills one device buffer (interleaved).
    pub fn on_output<T>(&mut self, data: &mut [T])
    where
        T: Sample + FromSample<f32>,
    {
        let epoch = self.shared.discard_epoch.load(Ordering::Acquire);
        if epoch != self.seen_epoch {
            while self.ring.pop(&mut self.scratch) > 0 {}
            self.seen_epoch = epoch;
            self.shared.discard_done.store(epoch, Ordering::Release);
        }
        let stop = self.shared.backchannel_stop_epoch.load(Ordering::Acquire);
        if stop != self.seen_backchannel_stop {
            while self.backchannel.pop(&mut self.aside) > 0 {}
            self.seen_backchannel_stop = stop;
        }
        for block in data.chunks_mut(MAX_CALLBACK_FRAMES * self.channels) {
            let frames = block.len() / self.channels;
            let got = self.ring.pop(&mut self.scratch[..frames]);
            self.scratch[got..frames].fill(0.0);
            if got < frames && self.shared.backlog.load(Ordering::Acquire) > 0 {
                self.shared.underruns.fetch_add(1, Ordering::Relaxed);
            }
            self.shared.played.fetch_add(got as u64, Ordering::Release);
            let aside = self.backchannel.pop(&mut self.aside[..frames]);
            for (out, b) in self.scratch[..aside].iter_mut().zip(&self.aside[..aside]) {
                *out = (*out + b).clamp(-1.0, 1.0);
            }
            for (frame, mono) in block
                .chunks_exact_mut(self.channels)
                .zip(&self.scratch[..frames])
            {
                frame.fill(T::from_sample(*mono));
            }
            let pushed = self.reference.push(&self.scratch[..frames]);
            if pushed < frames {
                self.shared
                    .overflows
                    .fetch_add((frames - pushed) as u64, Ordering::Relaxed);
            }
        }
    }
}
