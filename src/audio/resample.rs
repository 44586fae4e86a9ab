//! Sample-rate conversion with rubato's synchronous FFT resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::AudioError;

/// Input chunk size for whole-buffer resampling.
const CHUNK_FRAMES: usize = 1024;

/// Resamples a whole mono buffer from `from` Hz to `to` Hz, keeping its timeline (the resampler's
/// delay is trimmed, so sample `i` of the input lands at `i * to / from` in the output).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let fail = |detail: String| AudioError::Resample { from, to, detail };
    let mut resampler = Fft::<f32>::new(
        from as usize,
        to as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Input,
    )
    .map_err(|e| fail(e.to_string()))?;
    let input =
        InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| fail(e.to_string()))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| fail(e.to_string()))?;
    Ok(output.take_data())
}
