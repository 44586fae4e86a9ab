//! Audio core: WAV in and out, resampling to the pipeline rate, 20 ms frames, and the lock-free
//! ring buffers that carry samples between producers (files, devices, peers) and the pipeline.

pub mod resample;
pub mod ring;
pub mod stream;
pub mod wav;

pub use duplex_core::frames;
pub use duplex_core::{FRAME_SAMPLES, PIPELINE_RATE};

/// Errors reading or converting audio.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a readable PCM WAV.
    #[error(
        "{path} is not a readable PCM WAV file ({detail}); convert it, e.g. `sox IN -b 16 OUT.wav`"
    )]
    NotWav {
        /// The file.
        path: std::path::PathBuf,
        /// What the decoder said.
        detail: String,
    },
    /// The WAV holds no samples.
    #[error("{path} holds no audio samples")]
    Empty {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The sample rate is outside what the pipeline accepts.
    #[error(
        "{path} has sample rate {rate} Hz; supported: 8000 to 48000 Hz (resample it with `sox IN -r 16000 OUT.wav`)"
    )]
    UnsupportedRate {
        /// The file.
        path: std::path::PathBuf,
        /// Its rate.
        rate: u32,
    },
    /// The sample format is not one we decode.
    #[error(
        "{path} has {bits}-bit {format} samples; supported: 8/16/24/32-bit integer or 32-bit float PCM"
    )]
    UnsupportedFormat {
        /// The file.
        path: std::path::PathBuf,
        /// Bits per sample.
        bits: u16,
        /// "integer" or "float".
        format: &'static str,
    },
    /// Writing a WAV failed.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        detail: String,
    },
    /// The resampler could not be built or run.
    #[error("resampling from {from} Hz to {to} Hz failed: {detail}")]
    Resample {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// What rubato said.
        detail: String,
    },
}

/// Loads any supported WAV file as 16 kHz mono f32, the pipeline's format.
pub fn load_pipeline_audio(path: &std::path::Path) -> Result<Vec<f32>, AudioError> {
    let wav = wav::read_wav(path)?;
    let mono = wav.to_mono();
    resample::resample(&mono, wav.sample_rate, PIPELINE_RATE)
}
