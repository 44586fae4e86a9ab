//! Fixed-size frames over a sample buffer: the pipeline moves audio in 20 ms frames.

use crate::FRAME_SAMPLES;

/// Splits `samples` into 20 ms frames; the last partial frame is zero-padded.
pub fn frames(samples: &[f32]) -> impl Iterator<Item = [f32; FRAME_SAMPLES]> + '_ {
    samples.chunks(FRAME_SAMPLES).map(|chunk| {
        let mut frame = [0.0f32; FRAME_SAMPLES];
        frame[..chunk.len()].copy_from_slice(chunk);
        frame
    })
}

/// Regroups a stream of frames into fixed-size chunks of `N` samples (the VAD wants 512), keeping
/// the sample position of each chunk's first sample.
#[derive(Debug)]
pub struct Rechunker<const N: usize> {
    pending: Vec<f32>,
    next_start: u64,
}

impl<const N: usize> Default for Rechunker<N> {
    fn default() -> Self {
        Self {
            pending: Vec::with_capacity(2 * N),
            next_start: 0,
        }
    }
}

impl<const N: usize> Rechunker<N> {
    /// Appends samples and calls `emit(start, chunk)` for every complete chunk.
    pub fn push(&mut self, samples: &[f32], mut emit: impl FnMut(u64, &[f32; N])) {
        self.pending.extend_from_slice(samples);
        let mut used = 0;
        while self.pending.len() - used >= N {
            let chunk: &[f32; N] = self.pending[used..used + N]
                .try_into()
                .expect("slice has N samples");
            emit(self.next_start, chunk);
            self.next_start += N as u64;
            used += N;
        }
        self.pending.drain(..used);
    }

    /// Sample position of the next chunk's first sample.
    pub fn position(&self) -> u64 {
        self.next_start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_pad_the_last_one() {
        let samples = vec![1.0; FRAME_SAMPLES + 10];
        let out: Vec<_> = frames(&samples).collect();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1][9], 1.0);
        assert_eq!(out[1][10], 0.0);
    }

    #[test]
    fn rechunker_emits_whole_chunks_in_order() {
        let mut r = Rechunker::<4>::default();
        let mut got = Vec::new();
        r.push(&[1.0, 2.0, 3.0], |s, c| got.push((s, *c)));
        assert!(got.is_empty());
        r.push(&[4.0, 5.0, 6.0, 7.0, 8.0, 9.0], |s, c| got.push((s, *c)));
        assert_eq!(
            got,
            vec![(0, [1.0, 2.0, 3.0, 4.0]), (4, [5.0, 6.0, 7.0, 8.0])]
        );
        assert_eq!(r.position(), 8);
    }
}
