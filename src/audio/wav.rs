//! WAV files: reads PCM WAV (8 to 48 kHz, any channel count, integer or float samples) and
//! writes 16-bit mono WAV.

use std::path::Path;

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use super::AudioError;

/// Decoded WAV contents, interleaved f32 in [-1, 1].
#[derive(Debug, Clone)]
pub struct WavAudio {
    /// Interleaved samples.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
}

impl WavAudio {
    /// Averages the channels into one.
    pub fn to_mono(&self) -> Vec<f32> {
        let channels = usize::from(self.channels.max(1));
        if channels == 1 {
            return self.samples.clone();
        }
        self.samples
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() / channels as f32)
            .collect()
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.channels.max(1)) / f64::from(self.sample_rate)
    }
}

/// Reads a PCM WAV file.
pub fn read_wav(path: &Path) -> Result<WavAudio, AudioError> {
    let not_wav = |e: hound::Error| match e {
        hound::Error::IoError(source) => AudioError::Open {
            path: path.to_owned(),
            source,
        },
        other => AudioError::NotWav {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    };
    let mut reader = WavReader::open(path).map_err(not_wav)?;
    let spec = reader.spec();
    if !(8_000..=48_000).contains(&spec.sample_rate) {
        return Err(AudioError::UnsupportedRate {
            path: path.to_owned(),
            rate: spec.sample_rate,
        });
    }
    if spec.channels == 0 {
        return Err(AudioError::NotWav {
            path: path.to_owned(),
            detail: "zero channels".into(),
        });
    }
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(not_wav)?,
        (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(not_wav)?
        }
        (format, bits) => {
            return Err(AudioError::UnsupportedFormat {
                path: path.to_owned(),
                bits,
                format: if format == SampleFormat::Float {
                    "float"
                } else {
                    "integer"
                },
            });
        }
    };
    if samples.len() < usize::from(spec.channels) {
        return Err(AudioError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(WavAudio {
        samples,
        sample_rate: spec.sample_rate,
        channels: spec.channels,
    })
}

/// Writes mono f32 samples as a 16-bit PCM WAV.
pub fn write_wav(path: &Path, samples: &[f32], sample_rate: u32) -> Result<(), AudioError> {
    let fail = |e: hound::Error| AudioError::Write {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let spec = WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let mut writer = WavWriter::create(path, spec).map_err(fail)?;
    for &s in samples {
        writer
            .write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .map_err(fail)?;
    }
    writer.finalize().map_err(fail)
}
