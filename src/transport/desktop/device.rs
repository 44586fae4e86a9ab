//! Finding audio devices (the default ones, or by name), listing them with the formats they
//! offer, and choosing the stream format: mono at 48 kHz (or 44.1 kHz), the rates sound cards and
//! sound servers run at natively, else whatever the device has (any rate and channel count is
//! converted by the transport). Asking for 16 kHz directly made ALSA's PulseAudio plugin spin a
//! whole core in the capture thread (measured: 80 % of a core at 16 kHz, under 1 % at 48 kHz);
//! converting 48 kHz to 16 kHz in the transport costs far less.

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{
    BufferSize, SampleFormat, StreamConfig, SupportedBufferSize, SupportedStreamConfigRange,
};

use super::DesktopError;
use crate::audio::PIPELINE_RATE;

/// Device buffer length in milliseconds (1024 frames at 16 kHz, 3072 at 48 kHz: shorter periods
/// were unreliable through ALSA's PulseAudio plugin, and the default delivered nothing for 1.5 s).
pub const PERIOD_MS: u32 = 64;

/// Rates tried, best first.
const RATE_PREFERENCE: [u32; 4] = [48_000, 44_100, PIPELINE_RATE, 32_000];

/// Which way a device is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A microphone.
    Input,
    /// Speakers.
    Output,
}

impl Direction {
    /// "input" or "output", as in the command-line flags.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }
}

/// The format chosen for one stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChosenFormat {
    /// Rate, channels and buffer size.
    pub config: StreamConfig,
    /// Sample type.
    pub sample_format: SampleFormat,
}

/// One device as `duplex devices` shows it.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// Its description.
    pub name: String,
    /// Its host's id for it (what `--input`/`--output` take, as does the name).
    pub id: String,
    /// Whether it is the default microphone.
    pub default_input: bool,
    /// Whether it is the default speaker.
    pub default_output: bool,
    /// Input formats, e.g. "2 ch, 44100-48000 Hz, i16".
    pub inputs: Vec<String>,
    /// Output formats.
    pub outputs: Vec<String>,
}

/// The host's id of a device (e.g. ALSA's "default", "pulse", "hw:CARD=PCH,DEV=0").
pub fn device_id(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_owned())
        .unwrap_or_else(|_| device.to_string())
}

fn host_error(e: impl std::fmt::Display) -> DesktopError {
    DesktopError::Host {
        detail: e.to_string(),
    }
}

/// Every device of the default host with its formats.
pub fn list_devices() -> Result<Vec<DeviceInfo>, DesktopError> {
    let host = cpal::default_host();
    let default_in = host.default_input_device().map(|d| device_id(&d));
    let default_out = host.default_output_device().map(|d| device_id(&d));
    let describe = |ranges: Vec<SupportedStreamConfigRange>| summarize_ranges(&ranges);
    Ok(host
        .devices()
        .map_err(host_error)?
        .map(|d| {
            let name = d.to_string();
            let id = device_id(&d);
            DeviceInfo {
                default_input: default_in.as_deref() == Some(id.as_str()),
                default_output: default_out.as_deref() == Some(id.as_str()),
                id,
                inputs: describe(
                    d.supported_input_configs()
                        .map_or(Vec::new(), Vec::from_iter),
                ),
                outputs: describe(
                    d.supported_output_configs()
                        .map_or(Vec::new(), Vec::from_iter),
                ),
                name,
            }
        })
        .collect())
}

/// The offered formats in a few lines: one per rate range, with the channel counts and sample
/// types offered at it, e.g. "1-2 ch, 44100-48000 Hz: i16 f32".
pub fn summarize_ranges(ranges: &[SupportedStreamConfigRange]) -> Vec<String> {
    /// Rate range, fewest and most channels, sample types.
    type Group = ((u32, u32), u16, u16, Vec<String>);
    let mut groups: Vec<Group> = Vec::new();
    for r in ranges {
        let key = (r.min_sample_rate(), r.max_sample_rate());
        let format = r.sample_format().to_string();
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => {
                g.1 = g.1.min(r.channels());
                g.2 = g.2.max(r.channels());
                if !g.3.contains(&format) {
                    g.3.push(format);
                }
            }
            None => groups.push((key, r.channels(), r.channels(), vec![format])),
        }
    }
    groups
        .into_iter()
        .map(|((min, max), lo, hi, formats)| {
            let channels = if lo == hi {
                format!("{lo} ch")
            } else {
                format!("{lo}-{hi} ch")
            };
            let rates = if min == max {
                format!("{min} Hz")
            } else {
                format!("{min}-{max} Hz")
            };
            format!("{channels}, {rates}: {}", formats.join(" "))
        })
        .collect()
}

/// "2 ch, 44100-48000 Hz, i16".
pub fn describe_range(r: &SupportedStreamConfigRange) -> String {
    let rates = if r.min_sample_rate() == r.max_sample_rate() {
        format!("{} Hz", r.min_sample_rate())
    } else {
        format!("{}-{} Hz", r.min_sample_rate(), r.max_sample_rate())
    };
    format!("{} ch, {rates}, {}", r.channels(), r.sample_format())
}

/// The default device for `direction`, or the one whose name is `name` (exact, else the only
/// one containing it, ignoring case).
pub fn find_device(direction: Direction, name: Option<&str>) -> Result<cpal::Device, DesktopError> {
    let host = cpal::default_host();
    let kind = direction.name();
    let Some(name) = name else {
        let device = match direction {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        };
        return device.ok_or(DesktopError::NoDevice { kind });
    };
    let devices: Vec<cpal::Device> = match direction {
        Direction::Input => host.input_devices().map_err(host_error)?.collect(),
        Direction::Output => host.output_devices().map_err(host_error)?.collect(),
    };
    let names: Vec<String> = devices.iter().map(|d| d.to_string()).collect();
    let ids: Vec<String> = devices.iter().map(device_id).collect();
    let wanted = name.to_lowercase();
    let exact = ids
        .iter()
        .position(|n| n == name)
        .or_else(|| names.iter().position(|n| n == name));
    let partial: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].to_lowercase().contains(&wanted))
        .collect();
    let index = exact.or(if partial.len() == 1 {
        Some(partial[0])
    } else {
        None
    });
    match index {
        Some(i) => Ok(devices
            .into_iter()
            .nth(i)
            .expect("index from the same list")),
        None => Err(DesktopError::NotFound {
            kind,
            name: name.to_owned(),
            available: if names.is_empty() {
                "none".into()
            } else {
                ids.join(", ")
            },
        }),
    }
}

/// Picks the stream format for `device`.
pub fn choose_device_format(
    device: &cpal::Device,
    direction: Direction,
) -> Result<ChosenFormat, DesktopError> {
    let kind = direction.name();
    let fail = |detail: String| DesktopError::NoFormat {
        kind,
        name: device.to_string(),
        detail,
    };
    let ranges: Vec<SupportedStreamConfigRange> = match direction {
        Direction::Input => device.supported_input_configs().map(Vec::from_iter),
        Direction::Output => device.supported_output_configs().map(Vec::from_iter),
    }
    .map_err(|e| match e.kind() {
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable => {
            DesktopError::Unavailable {
                kind,
                name: device.to_string(),
                detail: e.to_string(),
            }
        }
        _ => fail(e.to_string()),
    })?;
    choose_format(&ranges).ok_or_else(|| {
        let offered: Vec<String> = ranges.iter().map(describe_range).collect();
        fail(format!(
            "it offers {}; supported sample types: f32, i16, i32, u16, u8",
            if offered.is_empty() {
                "nothing".into()
            } else {
                offered.join("; ")
            }
        ))
    })
}

/// Rank of a sample type (lower is better); `None` for types the transport does not handle.
fn format_rank(format: SampleFormat) -> Option<u8> {
    match format {
        SampleFormat::F32 => Some(0),
        SampleFormat::I16 => Some(1),
        SampleFormat::I32 => Some(2),
        SampleFormat::U16 => Some(3),
        SampleFormat::U8 => Some(4),
        _ => None,
    }
}

/// Chooses among the offered ranges: a handled sample type, the preferred rate (48 kHz, else
/// 44.1, 16, 32 kHz, else the highest), the fewest channels, then the better sample type.
pub fn choose_format(ranges: &[SupportedStreamConfigRange]) -> Option<ChosenFormat> {
    let rate_for = |r: &SupportedStreamConfigRange| -> (usize, u32) {
        RATE_PREFERENCE
            .iter()
            .position(|&rate| r.min_sample_rate() <= rate && rate <= r.max_sample_rate())
            .map(|i| (i, RATE_PREFERENCE[i]))
            .unwrap_or((RATE_PREFERENCE.len(), r.max_sample_rate()))
    };
    let best = ranges
        .iter()
        .filter(|r| r.channels() > 0 && r.max_sample_rate() > 0)
        .filter_map(|r| format_rank(r.sample_format()).map(|rank| (r, rank)))
        .min_by_key(|(r, rank)| (rate_for(r).0, r.channels(), *rank))?
        .0;
    let rate = rate_for(best).1;
    let period = rate * PERIOD_MS / 1000;
    let period = match best.buffer_size() {
        SupportedBufferSize::Range { min, max } => period.clamp(*min, (*max).max(*min)),
        SupportedBufferSize::Unknown => period,
    };
    Some(ChosenFormat {
        config: StreamConfig {
            channels: best.channels(),
            sample_rate: rate,
            buffer_size: BufferSize::Fixed(period),
        },
        sample_format: best.sample_format(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(ch: u16, min: u32, max: u32, f: SampleFormat) -> SupportedStreamConfigRange {
        SupportedStreamConfigRange::new(ch, min, max, SupportedBufferSize::Unknown, f)
    }

    #[test]
    fn forty_eight_khz_mono_is_taken_when_offered() {
        let chosen = choose_format(&[
            range(2, 8_000, 192_000, SampleFormat::F32),
            range(1, 8_000, 192_000, SampleFormat::I16),
        ])
        .unwrap();
        assert_eq!(chosen.config.sample_rate, 48_000);
        assert_eq!(chosen.config.channels, 1);
        assert_eq!(chosen.config.buffer_size, BufferSize::Fixed(3072));
        assert_eq!(chosen.sample_format, SampleFormat::I16);
    }

    #[test]
    fn a_device_with_only_44k1_stereo_gets_44k1_stereo() {
        let chosen = choose_format(&[range(2, 44_100, 44_100, SampleFormat::I16)]).unwrap();
        assert_eq!(chosen.config.sample_rate, 44_100);
        assert_eq!(chosen.config.channels, 2);
        assert_eq!(chosen.sample_format, SampleFormat::I16);
    }

    #[test]
    fn sixteen_khz_is_taken_when_it_is_all_there_is() {
        let chosen = choose_format(&[range(1, 16_000, 16_000, SampleFormat::F32)]).unwrap();
        assert_eq!(chosen.config.sample_rate, 16_000);
        assert_eq!(chosen.config.buffer_size, BufferSize::Fixed(1024));
    }

    #[test]
    fn unhandled_sample_types_leave_nothing_to_choose() {
        assert!(choose_format(&[range(2, 48_000, 48_000, SampleFormat::F64)]).is_none());
        assert!(choose_format(&[]).is_none());
    }
}
