//! The desktop transport (`duplex talk`): the conversation on the computer's own microphone and
//! speakers through cpal, full duplex, with the agent's own voice cancelled from the microphone.
//!
//! - [`device`]: finding devices by name, listing them, choosing a stream format.
//! - [`callbacks`]: the audio-thread code, plain functions over slices (no allocation or lock).
//! - [`link`]: the rings and atomics joining the callbacks to the transport.
//! - [`streams`]: opening the cpal streams around the callbacks.
//! - [`pump`]: the transport loop (rate conversion, echo cancellation, flush, playback count).
//! - [`loopback`]: a simulated room (speaker → echo path → microphone) driving the same
//!   callbacks and loop without cpal, for tests and benches.

pub mod callbacks;
pub mod device;
pub mod link;
pub mod loopback;
pub mod pump;
pub mod streams;

use crate::runtime::SessionEvent;

/// Errors of the desktop transport; each says what the user can do.
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    /// The audio system could not be reached.
    #[error(
        "cannot list audio devices ({detail}); is a sound server or ALSA device available? Try `duplex devices`"
    )]
    Host {
        /// What cpal said.
        detail: String,
    },
    /// No device of this kind.
    #[error(
        "no {kind} device found; connect one (or start PulseAudio/PipeWire), or name one with --{kind} (see `duplex devices`)"
    )]
    NoDevice {
        /// "input" or "output".
        kind: &'static str,
    },
    /// No device with that name.
    #[error("no {kind} device named {name:?}; `duplex devices` lists them: {available}")]
    NotFound {
        /// "input" or "output".
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names there are.
        available: String,
    },
    /// The device cannot be reached.
    #[error(
        "the {kind} device {name:?} is not available ({detail}); is it connected, and is the sound server (PulseAudio/PipeWire) running? `duplex devices` lists what is there"
    )]
    Unavailable {
        /// "input" or "output".
        kind: &'static str,
        /// The device.
        name: String,
        /// What cpal said.
        detail: String,
    },
    /// The device offers no format this transport can use.
    #[error(
        "the {kind} device {name:?} offers no usable format ({detail}); pick another with --{kind} (see `duplex devices`)"
    )]
    NoFormat {
        /// "input" or "output".
        kind: &'static str,
        /// The device.
        name: String,
        /// What it offers or what failed.
        detail: String,
    },
    /// Opening or starting a stream failed.
    #[error(
        "cannot open the {kind} stream on {name:?}: {detail}; is the device in use or unplugged? (see `duplex devices`)"
    )]
    Stream {
        /// "input" or "output".
        kind: &'static str,
        /// The device.
        name: String,
        /// What cpal said.
        detail: String,
    },
    /// A sample-rate converter could not be built.
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    /// The async runtime could not start.
    #[error("cannot start the session's runtime: {0}")]
    Runtime(std::io::Error),
}

/// What a desktop conversation did.
#[derive(Debug, Default)]
pub struct TalkReport {
    /// Everything the session recorded.
    pub events: Vec<SessionEvent>,
    /// 20 ms frames sent to the session.
    pub frames_sent: u64,
    /// Frames the session was too far behind to take: each reached it as silence of its length.
    pub frames_dropped: u64,
    /// Speech played, in device-rate samples.
    pub played_samples: u64,
    /// Output callbacks that found the ring short while speech was waiting.
    pub underruns: u64,
    /// Device samples lost from the microphone or reference rings (transport too slow).
    pub overflow_samples: u64,
    /// Reference samples dropped by the echo aligner (output far ahead of input).
    pub reference_dropped: u64,
    /// Buffer under- or overruns the device reported and recovered from.
    pub xruns: u64,
    /// Barge-in flushes carried out.
    pub flushes: u64,
    /// Why the conversation ended early, if the device failed.
    pub device_error: Option<String>,
}
