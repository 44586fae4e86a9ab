//! Opening the microphone and speaker streams with cpal around the callbacks of
//! [`super::callbacks`]. A stream error (device unplugged, sound server gone) is passed to the
//! transport through a bounded channel and ends the conversation with a clear message; buffer
//! under- and overruns (xruns), from which the device recovers by itself, are only counted.

use cpal::SampleFormat;
use cpal::traits::{DeviceTrait, StreamTrait};

use super::DesktopError;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::callbacks::{CaptureCallback, PlaybackCallback, PlaybackShared};
use super::device::{ChosenFormat, Direction, choose_device_format, find_device};
use super::link::{DeviceFormat, DeviceLink, device_link};

/// Running streams; dropping this stops them.
pub struct DeviceStreams {
    _input: cpal::Stream,
    _output: cpal::Stream,
    /// The microphone's name.
    pub input_name: String,
    /// The speaker's name.
    pub output_name: String,
    /// The formats in use.
    pub format: DeviceFormat,
}

/// The devices chosen for a conversation and their formats, checked but not yet opened.
pub struct SelectedDevices {
    mic: cpal::Device,
    speaker: cpal::Device,
    mic_format: ChosenFormat,
    speaker_format: ChosenFormat,
}

/// Finds the default devices (or the named ones) and chooses their formats; fails early, with
/// the fix named, when one is missing or unusable.
pub fn select_devices(
    input: Option<&str>,
    output: Option<&str>,
) -> Result<SelectedDevices, DesktopError> {
    let mic = find_device(Direction::Input, input)?;
    let speaker = find_device(Direction::Output, output)?;
    let mic_format = choose_device_format(&mic, Direction::Input)?;
    let speaker_format = choose_device_format(&speaker, Direction::Output)?;
    Ok(SelectedDevices {
        mic,
        speaker,
        mic_format,
        speaker_format,
    })
}

/// Opens the selected devices and starts both streams.
pub fn open_devices(
    selected: SelectedDevices,
) -> Result<(DeviceStreams, DeviceLink), DesktopError> {
    let SelectedDevices {
        mic,
        speaker,
        mic_format,
        speaker_format,
    } = selected;
    let format = DeviceFormat {
        input_rate: mic_format.config.sample_rate,
        input_channels: mic_format.config.channels,
        output_rate: speaker_format.config.sample_rate,
        output_channels: speaker_format.config.channels,
    };
    let (callbacks, link) = device_link(format);
    let input_errors = report_errors("input", callbacks.errors.clone(), link.shared.clone());
    let output_errors = report_errors("output", callbacks.errors, link.shared.clone());
    let input_stream = build_input(&mic, mic_format, callbacks.capture, input_errors)?;
    let output_stream = build_output(&speaker, speaker_format, callbacks.playback, output_errors)?;
    for (stream, kind, device) in [
        (&input_stream, "input", &mic),
        (&output_stream, "output", &speaker),
    ] {
        stream.play().map_err(|e| DesktopError::Stream {
            kind,
            name: device.to_string(),
            detail: e.to_string(),
        })?;
    }
    Ok((
        DeviceStreams {
            _input: input_stream,
            _output: output_stream,
            input_name: mic.to_string(),
            output_name: speaker.to_string(),
            format,
        },
        link,
    ))
}

/// An error callback that counts xruns and hands any other error to the transport without
/// blocking.
fn report_errors(
    kind: &'static str,
    errors: std::sync::mpsc::SyncSender<String>,
    shared: Arc<PlaybackShared>,
) -> impl FnMut(cpal::Error) + Send + 'static {
    move |e| match e.kind() {
        cpal::ErrorKind::Xrun | cpal::ErrorKind::RealtimeDenied => {
            shared.xruns.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            let _ = errors.try_send(format!("{kind} stream: {e}"));
        }
    }
}

macro_rules! dispatch_format {
    ($format:expr, $build:ident) => {
        match $format {
            SampleFormat::F32 => $build!(f32),
            SampleFormat::I16 => $build!(i16),
            SampleFormat::I32 => $build!(i32),
            SampleFormat::U16 => $build!(u16),
            SampleFormat::U8 => $build!(u8),
            other => Err(format!("sample type {other} is not handled")),
        }
    };
}

fn build_input(
    device: &cpal::Device,
    chosen: ChosenFormat,
    callback: CaptureCallback,
    errors: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, DesktopError> {
    let mut callback = callback;
    macro_rules! build {
        ($t:ty) => {
            device
                .build_input_stream::<$t, _, _>(
                    chosen.config,
                    move |data: &[$t], _| callback.on_input(data),
                    errors,
                    None,
                )
                .map_err(|e| e.to_string())
        };
    }
    dispatch_format!(chosen.sample_format, build).map_err(|detail| DesktopError::Stream {
        kind: "input",
        name: device.to_string(),
        detail,
    })
}

fn build_output(
    device: &cpal::Device,
    chosen: ChosenFormat,
    callback: PlaybackCallback,
    errors: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, DesktopError> {
    let mut callback = callback;
    macro_rules! build {
        ($t:ty) => {
            device
                .build_output_stream::<$t, _, _>(
                    chosen.config,
                    move |data: &mut [$t], _| callback.on_output(data),
                    errors,
                    None,
                )
                .map_err(|e| e.to_string())
        };
    }
    dispatch_format!(chosen.sample_format, build).map_err(|detail| DesktopError::Stream {
        kind: "output",
        name: device.to_string(),
        detail,
    })
}
