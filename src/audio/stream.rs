//! Streaming sample-rate conversion of one continuous mono stream (rubato's FFT resampler,
//! 10 ms chunks): a device's microphone and played reference to the pipeline's 16 kHz (both
//! through the same kind of converter, so they keep their alignment), and each reply's voice to
//! a transport's rate, once, with no seam at chunk joins. Runs on a transport's thread, never on
//! the audio thread.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::AudioError;

/// Converts one continuous mono stream from one rate to another, chunk by chunk.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    chunk: usize,
    out: Vec<f32>,
}

impl StreamResampler {
    /// A converter from `from` Hz to `to` Hz (a pass-through when they are equal).
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        if from == to {
            return Ok(Self {
                inner: None,
                pending: Vec::new(),
                chunk: 0,
                out: Vec::new(),
            });
        }
        let chunk = (from as usize / 100).max(1);
        let inner = Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Input)
            .map_err(|e| AudioError::Resample {
                from,
                to,
                detail: e.to_string(),
            })?;
        let out = vec![0.0; inner.output_frames_max()];
        Ok(Self {
            inner: Some(inner),
            pending: Vec::with_capacity(4 * chunk),
            chunk,
            out,
        })
    }

    /// Converts `input` and appends what is ready to `output` (a partial chunk waits).
    pub fn process(&mut self, input: &[f32], output: &mut Vec<f32>) {
        let Some(inner) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            return;
        };
        self.pending.extend_from_slice(input);
        let mut used = 0;
        while self.pending.len() - used >= self.chunk {
            let chunk = &self.pending[used..used + self.chunk];
            used += self.chunk;
            let frames_out = self.out.len();
            let (Ok(buffer_in), Ok(mut buffer_out)) = (
                InterleavedSlice::new(chunk, 1, chunk.len()),
                InterleavedSlice::new_mut(&mut self.out[..], 1, frames_out),
            ) else {
                continue;
            };
            match inner.process_into_buffer(&buffer_in, &mut buffer_out, None) {
                Ok((_, n)) => output.extend_from_slice(&self.out[..n]),
                Err(e) => tracing::warn!("resampling failed, 10 ms of audio lost: {e}"),
            }
        }
        self.pending.drain(..used);
    }

    /// Ends the stream: pads the partial chunk with silence and pushes the converter's delay
    /// out, appending the last samples of the stream to `output`.
    pub fn finish(&mut self, output: &mut Vec<f32>) {
        let Some(inner) = self.inner.as_ref() else {
            return;
        };
        let delay = inner.output_delay();
        let before = output.len();
        let partial = self.pending.len();
        if partial > 0 {
            let zeros = vec![0.0; self.chunk - partial];
            self.process(&zeros, output);
        }
        while output.len() - before < delay + 1 {
            let zeros = vec![0.0; self.chunk];
            let had = output.len();
            self.process(&zeros, output);
            if output.len() == had {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_of_44k1_becomes_a_second_of_16k() {
        let mut r = StreamResampler::new(44_100, 16_000).unwrap();
        let mut out = Vec::new();
        for _ in 0..100 {
            r.process(&[0.1; 441], &mut out);
        }
        assert_eq!(out.len(), 16_000);
    }

    #[test]
    fn equal_rates_pass_through() {
        let mut r = StreamResampler::new(16_000, 16_000).unwrap();
        let mut out = Vec::new();
        r.process(&[0.5; 7], &mut out);
        assert_eq!(out, vec![0.5; 7]);
    }
}
