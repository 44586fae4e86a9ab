//! The two halves of a full-duplex device: the callback side (given to cpal, or to the simulated
//! room of [`super::loopback`]) and the transport side ([`DeviceLink`]), joined by four lock-free
//! rings (microphone, speaker, backchannel, played reference) and a few atomics.

use std::sync::Arc;
use std::sync::mpsc;

use super::callbacks::{CaptureCallback, PlaybackCallback, PlaybackShared};
use crate::audio::ring::{SampleConsumer, SampleProducer, sample_ring};

/// Seconds of microphone audio (and of played reference) the rings hold if the transport stalls.
const CAPTURE_RING_S: usize = 2;

/// Seconds of speech queued in the speaker ring ahead of the device; the rest waits on the
/// transport side (a flush drops both).
const PLAYBACK_RING_S: usize = 1;

/// Milliseconds of backchannel queued ahead of the device: short, so that one stops within that
/// when the user goes on.
const BACKCHANNEL_RING_MS: usize = 50;

/// Stream errors reported by the device (unplugged, daemon gone): at most this many wait to be
/// read; later ones are dropped (the first already ends the session).
pub const DEVICE_ERROR_CAPACITY: usize = 8;

/// The rates and channel counts of an opened device pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceFormat {
    /// Microphone rate in Hz.
    pub input_rate: u32,
    /// Microphone channels.
    pub input_channels: u16,
    /// Speaker rate in Hz.
    pub output_rate: u32,
    /// Speaker channels.
    pub output_channels: u16,
}

/// The transport's side of a device.
pub struct DeviceLink {
    /// The rates and channels.
    pub format: DeviceFormat,
    /// Microphone samples (mono, input rate).
    pub capture: SampleConsumer,
    /// Speech to play (mono, output rate).
    pub playback: SampleProducer,
    /// A backchannel to mix in (mono, output rate), not counted as played speech.
    pub backchannel: SampleProducer,
    /// What the speaker played, silence included (mono, output rate).
    pub reference: SampleConsumer,
    /// Counters and the discard epoch shared with the output callback.
    pub shared: Arc<PlaybackShared>,
    /// The discard epoch asked of the callback and not yet seen done.
    pub discard_asked: Option<u64>,
    /// Stream errors from the device.
    pub errors: mpsc::Receiver<String>,
}

/// The callback side of a device.
pub struct DeviceCallbacks {
    /// For the input stream.
    pub capture: CaptureCallback,
    /// For the output stream.
    pub playback: PlaybackCallback,
    /// Where stream errors go (`try_send`: never blocks).
    pub errors: mpsc::SyncSender<String>,
}

/// Creates both halves for a device of `format`.
pub fn device_link(format: DeviceFormat) -> (DeviceCallbacks, DeviceLink) {
    let shared = Arc::new(PlaybackShared::default());
    let (cap_tx, cap_rx) = sample_ring(CAPTURE_RING_S * format.input_rate as usize);
    let (play_tx, play_rx) = sample_ring(PLAYBACK_RING_S * format.output_rate as usize);
    let (aside_tx, aside_rx) =
        sample_ring(BACKCHANNEL_RING_MS * format.output_rate as usize / 1000);
    let (ref_tx, ref_rx) = sample_ring(CAPTURE_RING_S * format.output_rate as usize);
    let (err_tx, err_rx) = mpsc::sync_channel(DEVICE_ERROR_CAPACITY);
    let callbacks = DeviceCallbacks {
        capture: CaptureCallback::new(cap_tx, format.input_channels, shared.clone()),
        playback: PlaybackCallback::new(
            play_rx,
            aside_rx,
            ref_tx,
            format.output_channels,
            shared.clone(),
        ),
        errors: err_tx,
    };
    let link = DeviceLink {
        format,
        capture: cap_rx,
        playback: play_tx,
        backchannel: aside_tx,
        reference: ref_rx,
        shared,
        discard_asked: None,
        errors: err_rx,
    };
    (callbacks, link)
}
