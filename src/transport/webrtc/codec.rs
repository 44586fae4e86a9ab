//! Opus at 48 kHz (libopus through audiopus) and the conversion between its 20 ms packets and
//! the pipeline's 16 kHz frames: the microphone side decodes then resamples down with a
//! streaming rubato FFT resampler; the speaker side resamples each reply chunk up with
//! [`crate::audio::resample::resample`] and encodes 960-sample frames.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Channels, MutSignals, SampleRate};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::WebRtcError;
use crate::audio::PIPELINE_RATE;

/// Opus's RTP clock and the rate both codec ends run at.
pub const OPUS_RATE: u32 = 48_000;

/// Samples in one 20 ms Opus frame at 48 kHz.
pub const OPUS_FRAME: usize = 960;

/// Longest Opus packet duration (120 ms) in 48 kHz samples: the decoder's output buffer.
const MAX_PACKET_SAMPLES: usize = 5_760;

/// Largest encoded 20 ms packet we produce (libopus recommends 4000 bytes as a safe bound).
const MAX_ENCODED_BYTES: usize = 4_000;

/// Decodes the browser's Opus packets into 16 kHz mono samples.
pub struct MicDecoder {
    decoder: Decoder,
    resampler: Fft<f32>,
    pending: Vec<f32>,
    decoded: Vec<f32>,
}

impl MicDecoder {
    /// A mono decoder at 48 kHz followed by a 48 → 16 kHz resampler.
    pub fn new() -> Result<Self, WebRtcError> {
        let decoder = Decoder::new(SampleRate::Hz48000, Channels::Mono)
            .map_err(|e| WebRtcError::Codec(format!("opus decoder: {e}")))?;
        let resampler = Fft::<f32>::new(
            OPUS_RATE as usize,
            PIPELINE_RATE as usize,
            OPUS_FRAME,
            1,
            FixedSync::Input,
        )
        .map_err(|e| WebRtcError::Codec(format!("resampler 48 -> 16 kHz: {e}")))?;
        Ok(Self {
            decoder,
            resampler,
            pending: Vec::with_capacity(MAX_PACKET_SAMPLES * 2),
            decoded: vec![0.0; MAX_PACKET_SAMPLES],
        })
    }

    /// Decodes one RTP payload; returns the 16 kHz samples it completes (320 per 20 ms).
    pub fn decode(&mut self, payload: &[u8]) -> Result<Vec<f32>, WebRtcError> {
        if payload.is_empty() {
            return Ok(Vec::new());
        }
        let packet = Packet::try_from(payload)
            .map_err(|e| WebRtcError::Codec(format!("opus packet: {e}")))?;
        let output = MutSignals::try_from(&mut self.decoded)
            .map_err(|e| WebRtcError::Codec(format!("opus buffer: {e}")))?;
        let n = self
            .decoder
            .decode_float(Some(packet), output, false)
            .map_err(|e| WebRtcError::Codec(format!("opus decode: {e}")))?;
        self.pending.extend_from_slice(&self.decoded[..n]);
        let mut out = Vec::with_capacity(n / 3);
        while self.pending.len() >= OPUS_FRAME {
            let input = InterleavedSlice::new(&self.pending[..OPUS_FRAME], 1, OPUS_FRAME)
                .map_err(|e| WebRtcError::Codec(format!("resampler input: {e}")))?;
            let resampled = self
                .resampler
                .process(&input, None)
                .map_err(|e| WebRtcError::Codec(format!("resample 48 -> 16 kHz: {e}")))?;
            out.extend(resampled.take_data());
            self.pending.drain(..OPUS_FRAME);
        }
        Ok(out)
    }
}

/// Encodes 48 kHz mono frames of the agent's speech as Opus.
pub struct SpeakerEncoder {
    encoder: Encoder,
    buffer: Vec<u8>,
}

impl SpeakerEncoder {
    /// A mono VoIP encoder at 48 kHz.
    pub fn new() -> Result<Self, WebRtcError> {
        let encoder = Encoder::new(SampleRate::Hz48000, Channels::Mono, Application::Voip)
            .map_err(|e| WebRtcError::Codec(format!("opus encoder: {e}")))?;
        Ok(Self {
            encoder,
            buffer: vec![0; MAX_ENCODED_BYTES],
        })
    }

    /// Encodes one 20 ms frame (960 samples at 48 kHz).
    pub fn encode(&mut self, frame: &[f32]) -> Result<Vec<u8>, WebRtcError> {
        let n = self
            .encoder
            .encode_float(frame, &mut self.buffer)
            .map_err(|e| WebRtcError::Codec(format!("opus encode: {e}")))?;
        Ok(self.buffer[..n].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 440 Hz tone survives encode → decode → resample with its level and its length.
    #[test]
    fn tone_round_trips_through_opus_at_the_pipeline_rate() {
        let mut encoder = SpeakerEncoder::new().unwrap();
        let mut decoder = MicDecoder::new().unwrap();
        let tone: Vec<f32> = (0..OPUS_FRAME * 50)
            .map(|i| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / OPUS_RATE as f32).sin())
            .collect();
        let mut out = Vec::new();
        for frame in tone.chunks(OPUS_FRAME) {
            let packet = encoder.encode(frame).unwrap();
            out.extend(decoder.decode(&packet).unwrap());
        }
        // 1 s in, 1 s out at a third of the rate (the resampler's delay holds back < one frame).
        assert!(out.len().abs_diff(50 * 320) < 320, "{} samples", out.len());
        let tail = &out[out.len() / 2..];
        let rms = (tail.iter().map(|s| s * s).sum::<f32>() / tail.len() as f32).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.05, "rms {rms}");
    }

    /// A hostile payload does not panic, and the decoder still decodes the next real packet.
    #[test]
    fn decoder_survives_a_garbage_payload() {
        let mut encoder = SpeakerEncoder::new().unwrap();
        let mut decoder = MicDecoder::new().unwrap();
        let _ = decoder.decode(&[0xff; 3]);
        let packet = encoder.encode(&[0.1; OPUS_FRAME]).unwrap();
        decoder.decode(&packet).unwrap();
    }
}
