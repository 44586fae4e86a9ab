//! Opus at 48 kHz (libopus through audiopus) and the conversion between its 20 ms packets and
//! the pipeline's 16 kHz frames: the microphone side decodes then resamples down with a
//! streaming rubato FFT resampler; the speaker side resamples each reply chunk up with
//! [`crate::audio::resample::resample`] and encodes 960-sample frames. The decoder also plays
//! what the jitter buffer ([`super::jitter`]) makes of a gap: in-band FEC from the next packet,
//! libopus's PLC, or silence, each for the gap's exact duration.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Channels, MutSignals, SampleRate};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::WebRtcError;
use super::jitter::Play;
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
        let n = self.decode_into(Some(payload), MAX_PACKET_SAMPLES, false)?;
        self.pending.extend_from_slice(&self.decoded[..n]);
        self.resample_pending()
    }

    /// Plays what the jitter buffer handed out; returns the 16 kHz samples it completes.
    pub fn play(&mut self, play: &Play) -> Result<Vec<f32>, WebRtcError> {
        match play {
            Play::Packet(payload) => return self.decode(payload),
            Play::Fec { from, samples } => {
                let n = self.decode_into(Some(from), *samples as usize, true)?;
                self.pending.extend_from_slice(&self.decoded[..n]);
            }
            Play::Conceal(samples) => {
                let mut left = *samples as usize;
                while left > 0 {
                    let n = self.decode_into(None, left.min(MAX_PACKET_SAMPLES), false)?;
                    if n == 0 {
                        break;
                    }
                    self.pending.extend_from_slice(&self.decoded[..n]);
                    left = left.saturating_sub(n);
                }
            }
            Play::Silence(samples) => {
                let len = self.pending.len() + *samples as usize;
                self.pending.resize(len, 0.0);
            }
        }
        self.resample_pending()
    }

    /// Decodes `payload` (or conceals, without one) into the first `samples` of the buffer:
    /// `samples` is the most a packet may give, or exactly the duration to rebuild or conceal.
    fn decode_into(
        &mut self,
        payload: Option<&[u8]>,
        samples: usize,
        fec: bool,
    ) -> Result<usize, WebRtcError> {
        let packet = payload
            .map(Packet::try_from)
            .transpose()
            .map_err(|e| WebRtcError::Codec(format!("opus packet: {e}")))?;
        let output = MutSignals::try_from(&mut self.decoded[..samples])
            .map_err(|e| WebRtcError::Codec(format!("opus buffer: {e}")))?;
        self.decoder
            .decode_float(packet, output, fec)
            .map_err(|e| WebRtcError::Codec(format!("opus decode: {e}")))
    }

    /// Resamples the whole 20 ms frames decoded so far.
    fn resample_pending(&mut self) -> Result<Vec<f32>, WebRtcError> {
        let mut out = Vec::with_capacity(self.pending.len() / 3);
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

/// An Opus packet's duration in 48 kHz samples, from its TOC byte; `None` when malformed.
pub fn packet_samples(payload: &[u8]) -> Option<u32> {
    let packet = Packet::try_from(payload).ok()?;
    let samples = audiopus::packet::nb_samples(packet, SampleRate::Hz48000).ok()?;
    u32::try_from(samples).ok()
}

/// Whether an Opus packet carries in-band FEC (SILK's LBRR data) for the packet before it.
/// Only SILK and hybrid packets can; their first frame's range-coded data starts with one
/// voice-activity flag per SILK frame in it and then the LBRR flag, each coded with
/// probability 1/2, which the range coder writes as plain bits: the flag is a bit of the
/// frame's first byte (RFC 6716, sections 4.1 and 4.2.3).
pub fn carries_fec(payload: &[u8]) -> bool {
    let Some(&toc) = payload.first() else {
        return false;
    };
    let config = toc >> 3;
    let silk_frames = match config {
        // SILK-only, 10/20/40/60 ms: one SILK frame per 20 ms (at least one).
        0..=11 => [1, 1, 2, 3][usize::from(config & 3)],
        // Hybrid, 10/20 ms.
        12..=15 => 1,
        // CELT-only: no FEC.
        _ => return false,
    };
    // Where the first frame starts: after the TOC (one frame, or two of equal size), or after
    // the first frame's length (two frames of different sizes; 1 or 2 bytes).
    let start = match toc & 3 {
        0 | 1 => 1,
        2 => match payload.get(1) {
            Some(&len) if len < 252 => 2,
            Some(_) => 3,
            None => return false,
        },
        _ => return false,
    };
    payload
        .get(start)
        .is_some_and(|&first| first & (0x80 >> silk_frames) != 0)
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

    /// Turns on in-band FEC for an expected `loss_percent`, at a speech bitrate (SILK) where
    /// libopus adds it.
    #[cfg(test)]
    pub(crate) fn enable_fec(&mut self, loss_percent: u8) -> Result<(), WebRtcError> {
        let failed = |e: audiopus::Error| WebRtcError::Codec(format!("opus fec: {e}"));
        self.encoder
            .set_bitrate(audiopus::Bitrate::BitsPerSecond(24_000))
            .map_err(failed)?;
        self.encoder.set_inband_fec(true).map_err(failed)?;
        self.encoder
            .set_packet_loss_perc(loss_percent)
            .map_err(failed)
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
    use bytes::Bytes;

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

    /// A rising, pulsing tone: speech-like enough for libopus's SILK mode and its FEC.
    fn sweep(frames: usize) -> Vec<f32> {
        (0..OPUS_FRAME * frames)
            .map(|i| {
                let t = i as f32 / OPUS_RATE as f32;
                let pitch = 150.0 + 100.0 * t;
                let envelope = 0.2 + 0.15 * (t * 4.0 * std::f32::consts::TAU).sin();
                envelope * (t * pitch * std::f32::consts::TAU).sin()
            })
            .collect()
    }

    fn rms_error(a: &[f32], b: &[f32]) -> f32 {
        let sum: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        (sum / a.len() as f32).sqrt()
    }

    /// The FEC flag is read right: never set without FEC; with it, set exactly where the next
    /// packet's FEC rebuilds a lost one better than PLC (libopus adds none after a quiet frame
    /// or a mode switch, and decoding FEC that is not there gives PLC's samples).
    #[test]
    fn in_band_fec_is_detected_and_rebuilds_a_lost_packet() {
        let audio = sweep(50);
        let mut plain = SpeakerEncoder::new().unwrap();
        plain.enable_fec(0).unwrap();
        let mut with_fec = SpeakerEncoder::new().unwrap();
        with_fec.enable_fec(20).unwrap();
        let mut packets = Vec::new();
        for frame in audio.chunks(OPUS_FRAME) {
            assert!(!carries_fec(&plain.encode(frame).unwrap()));
            packets.push(with_fec.encode(frame).unwrap());
        }
        let with = packets.iter().filter(|p| carries_fec(p)).count();
        assert!(
            with > packets.len() / 2,
            "{with} of {} with FEC",
            packets.len()
        );
        assert_eq!(packet_samples(&packets[0]), Some(960));
        // Each packet lost in turn: rebuilt from the next one's FEC, and by PLC, against the
        // real thing. The flag must say which rebuilds are better than PLC's guess.
        for lost in 1..packets.len() - 1 {
            let next = Bytes::from(packets[lost + 1].clone());
            let mut outputs = Vec::new();
            for play in [
                Play::Packet(Bytes::from(packets[lost].clone())),
                Play::Fec {
                    from: next.clone(),
                    samples: 960,
                },
                Play::Conceal(960),
            ] {
                let mut decoder = MicDecoder::new().unwrap();
                for p in &packets[..lost] {
                    decoder.decode(p).unwrap();
                }
                let mut out = decoder.play(&play).unwrap();
                out.extend(decoder.decode(&next).unwrap());
                outputs.push(out);
            }
            let fec = rms_error(&outputs[0], &outputs[1]);
            let plc = rms_error(&outputs[0], &outputs[2]);
            if carries_fec(&next) {
                assert!(fec < plc / 2.0, "packet {lost}: fec error {fec}, plc {plc}");
            } else {
                // Without LBRR data libopus falls back to PLC: the same samples.
                assert!(
                    (fec - plc).abs() < 1e-6,
                    "packet {lost}: fec {fec}, plc {plc}"
                );
            }
        }
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
