//! The Whisper-style log-mel front end of smart-turn v3: the last 8 s of 16 kHz audio, left-padded
//! with zeros, normalised to zero mean and unit variance, then a centred (reflect-padded) STFT
//! with a periodic Hann window (n_fft 400, hop 160), the power spectrum, 80 Slaney mel filters,
//! `log10` with a floor of 1e-10, the last frame dropped, a clamp to `max - 8` and `(x + 4) / 4`.
//!
//! This mirrors `transformers.WhisperFeatureExtractor` (feature size 80, chunk length 8 s) as
//! pipecat calls it for smart-turn. The window, the filter bank and the FFT plan are built once in
//! [`LogMel::new`]; [`LogMel::compute`] allocates nothing. Arithmetic is in `f64` like the
//! reference (numpy promotes to float64); the features come out as `f32`.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Sample rate the front end expects.
pub const SAMPLE_RATE: usize = 16_000;
/// FFT size and analysis window length (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms).
pub const HOP_LENGTH: usize = 160;
/// Number of mel bands.
pub const N_MELS: usize = 80;
/// Number of frequency bins of the real FFT.
pub const N_FREQS: usize = N_FFT / 2 + 1;
/// Samples the model looks at: the last 8 s.
pub const WINDOW_SAMPLES: usize = 8 * SAMPLE_RATE;
/// Frames produced for [`WINDOW_SAMPLES`] (801 centred frames, the last one dropped).
pub const N_FRAMES: usize = WINDOW_SAMPLES / HOP_LENGTH;
/// Length of a feature buffer: `N_MELS` rows of `N_FRAMES` values, row-major.
pub const FEATURES_LEN: usize = N_MELS * N_FRAMES;

/// Mel energies below this are raised to it before the logarithm.
const MEL_FLOOR: f64 = 1e-10;
/// Added to the variance before the waveform is normalised.
const NORM_EPS: f64 = 1e-7;
/// Log-mel values more than this many decades below the maximum are clamped.
const DYNAMIC_RANGE: f64 = 8.0;
/// Reflect padding on each side for centred frames.
const PAD: usize = N_FFT / 2;

/// Frequency where the Slaney mel scale turns from linear to logarithmic.
const MIN_LOG_HZ: f64 = 1000.0;
/// Mel value at [`MIN_LOG_HZ`] (200/3 Hz per mel below it).
const MIN_LOG_MEL: f64 = 15.0;
/// Hz per mel in the linear region.
const HZ_PER_MEL: f64 = 200.0 / 3.0;

/// Mels per natural-log step of frequency in the logarithmic region of the Slaney scale.
fn log_step() -> f64 {
    27.0 / 6.4f64.ln()
}

/// Converts hertz to mels on the Slaney scale (librosa's default, `htk=False`).
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() * log_step()
    } else {
        hz / HZ_PER_MEL
    }
}

/// Converts mels on the Slaney scale back to hertz.
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * ((mel - MIN_LOG_MEL) / log_step()).exp()
    } else {
        mel * HZ_PER_MEL
    }
}

/// One triangular mel filter, stored as its non-zero run of FFT-bin weights.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilter {
    /// Index of the FFT bin of the first weight.
    pub first_bin: usize,
    /// Weights of bins `first_bin..first_bin + weights.len()`.
    pub weights: Vec<f64>,
    /// Lower edge, centre and upper edge in hertz.
    pub edges_hz: [f64; 3],
}

impl MelFilter {
    /// The filter's energy for one power spectrum of `N_FREQS` bins.
    fn apply(&self, power: &[f64]) -> f64 {
        power[self.first_bin..self.first_bin + self.weights.len()]
            .iter()
            .zip(&self.weights)
            .map(|(p, w)| p * w)
            .sum()
    }

    /// The weight of FFT bin `bin` (zero outside the filter).
    pub fn weight(&self, bin: usize) -> f64 {
        bin.checked_sub(self.first_bin)
            .and_then(|i| self.weights.get(i))
            .copied()
            .unwrap_or(0.0)
    }
}

/// Builds `n_mels` Slaney-normalised triangular filters from 0 Hz to Nyquist over the bins of an
/// `n_fft`-point real FFT, as `librosa.filters.mel(sr, n_fft, n_mels)` does (Slaney mel scale,
/// `norm="slaney"`: each triangle scaled by `2 / (upper - lower)` so its area in Hz is 1).
pub fn mel_filter_bank(sample_rate: usize, n_fft: usize, n_mels: usize) -> Vec<MelFilter> {
    let n_freqs = n_fft / 2 + 1;
    let bin_hz = sample_rate as f64 / n_fft as f64;
    let mel_max = hz_to_mel(sample_rate as f64 / 2.0);
    let points: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_max * i as f64 / (n_mels + 1) as f64))
        .collect();
    points
        .windows(3)
        .map(|edge| {
            let (lower, centre, upper) = (edge[0], edge[1], edge[2]);
            let norm = 2.0 / (upper - lower);
            let dense: Vec<f64> = (0..n_freqs)
                .map(|k| {
                    let f = k as f64 * bin_hz;
                    let rising = (f - lower) / (centre - lower);
                    let falling = (upper - f) / (upper - centre);
                    rising.min(falling).max(0.0) * norm
                })
                .collect();
            let first = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let end = dense
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(first, |i| i + 1);
            MelFilter {
                first_bin: first,
                weights: dense[first..end].to_vec(),
                edges_hz: [lower, centre, upper],
            }
        })
        .collect()
}

/// A periodic Hann window of length `n`, like `torch.hann_window(n)`.
pub fn periodic_hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

/// The smart-turn log-mel front end, with its window, filters, FFT plan and buffers built once.
pub struct LogMel {
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    filters: Vec<MelFilter>,
    /// The normalised 8 s window with `PAD` reflected samples on each side (1 MiB, allocated at
    /// the first use, so that a turn model loaded ahead of a call holds none of it).
    signal: Vec<f64>,
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMel {
    /// Precomputes the Hann window, the 80 mel filters and the FFT plan.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        let frame = fft.make_input_vec();
        let spectrum = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        Self {
            fft,
            window: periodic_hann(N_FFT),
            filters: mel_filter_bank(SAMPLE_RATE, N_FFT, N_MELS),
            signal: Vec::new(),
            frame,
            spectrum,
            scratch,
            power: vec![0.0; N_FREQS],
        }
    }

    /// The mel filter bank in use.
    pub fn filters(&self) -> &[MelFilter] {
        &self.filters
    }

    /// Writes the features of the last 8 s of `audio` (16 kHz mono) into `out`, `N_MELS` rows of
    /// `N_FRAMES` values (row-major, the layout of the model's `[1, 80, 800]` input).
    ///
    /// # Panics
    ///
    /// If `out.len() != FEATURES_LEN`.
    pub fn compute(&mut self, audio: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), FEATURES_LEN, "feature buffer must hold 80 x 800");
        self.load_window(audio);
        let mut max = f64::NEG_INFINITY;
        for t in 0..N_FRAMES {
            let start = t * HOP_LENGTH;
            let samples = &self.signal[start..start + N_FFT];
            for ((dst, &x), &w) in self.frame.iter_mut().zip(samples).zip(&self.window) {
                *dst = x * w;
            }
            self.fft
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                .expect("FFT buffers are sized by the plan");
            for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
                *p = c.norm_sqr();
            }
            for (m, filter) in self.filters.iter().enumerate() {
                let log = filter.apply(&self.power).max(MEL_FLOOR).log10();
                max = max.max(log);
                out[m * N_FRAMES + t] = log as f32;
            }
        }
        let floor = (max - DYNAMIC_RANGE) as f32;
        for v in out.iter_mut() {
            *v = (v.max(floor) + 4.0) / 4.0;
        }
    }

    /// Fills `signal` with the last 8 s of `audio`, left-padded with zeros, normalised to zero
    /// mean and unit variance, and reflect-padded by `PAD` on both sides.
    fn load_window(&mut self, audio: &[f32]) {
        self.signal.resize(WINDOW_SAMPLES + 2 * PAD, 0.0);
        let tail = &audio[audio.len().saturating_sub(WINDOW_SAMPLES)..];
        let lead = WINDOW_SAMPLES - tail.len();
        let body = &mut self.signal[PAD..PAD + WINDOW_SAMPLES];
        body[..lead].fill(0.0);
        for (dst, &x) in body[lead..].iter_mut().zip(tail) {
            *dst = f64::from(x);
        }
        let n = WINDOW_SAMPLES as f64;
        let mean = body.iter().sum::<f64>() / n;
        let var = body.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let scale = 1.0 / (var + NORM_EPS).sqrt();
        for x in body.iter_mut() {
            *x = (*x - mean) * scale;
        }
        // numpy's "reflect": the edge sample itself is not repeated.
        for j in 0..PAD {
            self.signal[j] = self.signal[2 * PAD - j];
            let end = PAD + WINDOW_SAMPLES;
            self.signal[end + j] = self.signal[end - 2 - j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_is_linear_below_1_khz() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        for hz in [0.0, 100.0, 999.0, 1000.0, 2500.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
        }
    }

    #[test]
    fn filter_bank_has_80_nonnegative_slaney_triangles() {
        let filters = mel_filter_bank(SAMPLE_RATE, N_FFT, N_MELS);
        assert_eq!(filters.len(), 80);
        let bin_hz = SAMPLE_RATE as f64 / N_FFT as f64;
        for (m, f) in filters.iter().enumerate() {
            let [lower, centre, upper] = f.edges_hz;
            assert!(lower < centre && centre < upper, "filter {m}");
            assert!(!f.weights.is_empty(), "filter {m} covers no bin");
            assert!(f.weights.iter().all(|&w| w >= 0.0), "filter {m}");
            assert!(f.first_bin + f.weights.len() <= N_FREQS);
            // A triangle: rises to one peak, then falls.
            let peak = f
                .weights
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            assert!(f.weights[..=peak].windows(2).all(|w| w[0] <= w[1]));
            assert!(f.weights[peak..].windows(2).all(|w| w[0] >= w[1]));
            // Slaney normalisation: peak height 2 / width, so the continuous area is 1 Hz^-1 * Hz.
            let height = 2.0 / (upper - lower);
            assert!(f.weights[peak] <= height * (1.0 + 1e-12), "filter {m}");
            // Where the triangle spans many bins, the sampled area is close to 1 too.
            if upper - lower > 8.0 * bin_hz {
                let area: f64 = f.weights.iter().sum::<f64>() * bin_hz;
                assert!((area - 1.0).abs() < 0.02, "filter {m}: area {area}");
            }
            // Neighbouring filters meet at each other's centres.
            if m > 0 {
                assert!((filters[m - 1].edges_hz[1] - lower).abs() < 1e-9);
            }
        }
        assert_eq!(filters[0].edges_hz[0], 0.0);
        assert!((filters[79].edges_hz[2] - 8000.0).abs() < 1e-6);
    }

    #[test]
    fn first_filter_matches_librosa() {
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1] (also Whisper's mel_80 asset).
        let filters = mel_filter_bank(SAMPLE_RATE, N_FFT, N_MELS);
        assert_eq!(filters[0].first_bin, 1);
        assert!((filters[0].weight(1) - 0.024_862).abs() < 1e-6);
        assert_eq!(filters[0].weight(0), 0.0);
    }

    #[test]
    fn hann_window_is_periodic() {
        let w = periodic_hann(N_FFT);
        assert_eq!(w.len(), 400);
        assert_eq!(w[0], 0.0);
        assert!((w[200] - 1.0).abs() < 1e-15);
        assert!((w[100] - 0.5).abs() < 1e-12 && (w[300] - 0.5).abs() < 1e-12);
        assert!((w[1] - w[399]).abs() < 1e-15);
    }

    #[test]
    fn eight_seconds_give_800_frames_in_range() {
        assert_eq!(N_FRAMES, 800);
        let audio: Vec<f32> = (0..WINDOW_SAMPLES)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.3)
            .collect();
        let mut mel = LogMel::new();
        let mut out = vec![f32::NAN; FEATURES_LEN];
        mel.compute(&audio, &mut out);
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let min = out.iter().copied().fold(f32::INFINITY, f32::min);
        assert!(out.iter().all(|v| v.is_finite()));
        assert!(
            max - min <= 2.0 + 1e-6,
            "range {min}..{max} exceeds 8 decades / 4"
        );
    }

    #[test]
    fn silence_and_empty_input_are_finite() {
        let mut mel = LogMel::new();
        let mut out = vec![0.0; FEATURES_LEN];
        for audio in [vec![], vec![0.0f32; 1000]] {
            mel.compute(&audio, &mut out);
            assert!(
                out.iter().all(|&v| v == -1.5),
                "log10(1e-10) -> (-10 + 4) / 4"
            );
        }
    }

    #[test]
    fn a_pure_tone_lands_in_its_mel_band() {
        let mut mel = LogMel::new();
        let mut out = vec![0.0; FEATURES_LEN];
        // A tone at a filter's centre frequency, where its neighbours' weights are zero.
        for band in [10, 26, 40, 55, 70, 78] {
            let hz = mel.filters()[band].edges_hz[1];
            let audio: Vec<f32> = (0..WINDOW_SAMPLES)
                .map(|i| {
                    let t = i as f64 / SAMPLE_RATE as f64;
                    (0.1 * (2.0 * std::f64::consts::PI * hz * t).sin()) as f32
                })
                .collect();
            mel.compute(&audio, &mut out);
            let band_sum = |m: usize| out[m * N_FRAMES..(m + 1) * N_FRAMES].iter().sum::<f32>();
            let loudest = (0..N_MELS)
                .max_by(|&a, &b| band_sum(a).total_cmp(&band_sum(b)))
                .unwrap();
            assert_eq!(loudest, band, "{hz:.0} Hz");
        }
        // 1 kHz is mel 15, just below the centre of band 26 (mel 15.06).
        let audio: Vec<f32> = (0..WINDOW_SAMPLES)
            .map(|i| (0.1 * (2.0 * std::f64::consts::PI * i as f64 / 16.0).sin()) as f32)
            .collect();
        mel.compute(&audio, &mut out);
        let frame = 400;
        let loudest = (0..N_MELS)
            .max_by(|&a, &b| out[a * N_FRAMES + frame].total_cmp(&out[b * N_FRAMES + frame]))
            .unwrap();
        assert_eq!(loudest, 26);
    }

    #[test]
    fn only_the_last_eight_seconds_count() {
        let mut mel = LogMel::new();
        let tone: Vec<f32> = (0..WINDOW_SAMPLES)
            .map(|i| (i as f32 * 0.37).sin() * 0.2)
            .collect();
        let mut longer = vec![0.5f32; 3000];
        longer.extend_from_slice(&tone);
        let (mut a, mut b) = (vec![0.0; FEATURES_LEN], vec![0.0; FEATURES_LEN]);
        mel.compute(&tone, &mut a);
        mel.compute(&longer, &mut b);
        assert_eq!(a, b);
    }
}
