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
    let bytes = std::fs::read(path).map_err(|source| AudioError::Open {
        path: path.to_owned(),
        source,
    })?;
    parse_wav(&bytes, path)
}

/// Decodes a PCM WAV held in memory (untrusted bytes: any input is an `Ok` or an error, never
/// a panic). `origin` names it in errors: the file it came from, or a label.
pub fn parse_wav(bytes: &[u8], origin: &Path) -> Result<WavAudio, AudioError> {
    let not_wav = |e: hound::Error| AudioError::NotWav {
        path: origin.to_owned(),
        detail: e.to_string(),
    };
    let mut reader = WavReader::new(bytes).map_err(not_wav)?;
    let spec = reader.spec();
    if !(8_000..=48_000).contains(&spec.sample_rate) {
        return Err(AudioError::UnsupportedRate {
            path: origin.to_owned(),
            rate: spec.sample_rate,
        });
    }
    if spec.channels == 0 {
        return Err(AudioError::NotWav {
            path: origin.to_owned(),
            detail: "zero channels".into(),
        });
    }
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => {
            let samples: Vec<f32> = reader
                .samples::<f32>()
                .collect::<Result<_, _>>()
                .map_err(not_wav)?;
            if samples.iter().any(|s| !s.is_finite()) {
                return Err(AudioError::NotWav {
                    path: origin.to_owned(),
                    detail: "a float sample is NaN or infinite".into(),
                });
            }
            // Float WAV may go past full scale; clipped to [-1, 1] as an integer WAV's samples are.
            samples.into_iter().map(|s| s.clamp(-1.0, 1.0)).collect()
        }
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
                path: origin.to_owned(),
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
            path: origin.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A mono 22.05 kHz 32-bit float WAV (the header of the input `fuzz/fuzz_targets/wav.rs`
    /// found) holding `samples`.
    fn float_wav(samples: &[f32]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut bytes = b"RIFF".to_vec();
        bytes.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(
            b"WAVEfmt \x10\0\0\0\x03\0\x01\0\x22\x56\0\0\x88\x58\x01\0\x04\0\x20\0data",
        );
        bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&data);
        bytes
    }

    #[test]
    fn float_samples_past_full_scale_are_clipped() {
        // Found by the `wav` fuzz target: a float sample of 140.875 came out as is, past the
        // [-1, 1] that `WavAudio` promises.
        let over = f32::from_le_bytes([0x00, 0xe0, 0x0c, 0x43]);
        assert_eq!(over, 140.875);
        let wav = parse_wav(&float_wav(&[0.25, over, -3.0]), Path::new("over.wav")).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (22_050, 1));
        assert_eq!(wav.samples, [0.25, 1.0, -1.0]);
    }

    #[test]
    fn a_float_wav_with_nan_or_infinity_is_refused() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let err = parse_wav(&float_wav(&[0.5, bad]), Path::new("bad.wav")).unwrap_err();
            assert!(
                matches!(err, AudioError::NotWav { ref detail, .. } if detail.contains("NaN")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_truncated_header_is_an_error() {
        let whole = float_wav(&[0.5]);
        for len in 0..44 {
            assert!(
                parse_wav(&whole[..len], Path::new("cut.wav")).is_err(),
                "{len} bytes"
            );
        }
    }
}
