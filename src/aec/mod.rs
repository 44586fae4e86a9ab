//! Acoustic echo cancellation: removes the agent's own voice, as the microphone hears it from the
//! speakers, before voice activity detection. The canceller sits behind [`EchoCanceller`] (10 ms
//! blocks at 16 kHz), so it can be tested alone on WAV files; [`EchoAligner`] pairs the played
//! samples (the far end, the reference) with the microphone samples (the near end) as both
//! arrive from the device.

mod aec3;
mod aligner;

pub use aec3::Aec3;
pub use aligner::EchoAligner;

/// The rate the canceller runs at: the pipeline's.
pub const AEC_RATE: u32 = crate::audio::PIPELINE_RATE;

/// Samples in one canceller block: 10 ms at 16 kHz.
pub const AEC_BLOCK: usize = 160;

/// An acoustic echo canceller over 10 ms blocks of 16 kHz mono.
pub trait EchoCanceller: Send {
    /// Feeds one block of what the speakers played ([`AEC_BLOCK`] samples).
    fn far_end(&mut self, block: &[f32]);
    /// Removes the echo of the far end from one microphone block ([`AEC_BLOCK`] samples), in
    /// place.
    fn near_end(&mut self, block: &mut [f32]);
}

/// Runs a canceller over whole recordings: `far` was played while `near` was recorded (same
/// length or not; the shorter one is padded with silence). Returns the cleaned near end.
pub fn cancel_recording(aec: &mut dyn EchoCanceller, far: &[f32], near: &[f32]) -> Vec<f32> {
    let blocks = far.len().max(near.len()).div_ceil(AEC_BLOCK);
    let mut out = Vec::with_capacity(blocks * AEC_BLOCK);
    let mut far_block = [0.0f32; AEC_BLOCK];
    let mut near_block = [0.0f32; AEC_BLOCK];
    for b in 0..blocks {
        copy_padded(far, b * AEC_BLOCK, &mut far_block);
        copy_padded(near, b * AEC_BLOCK, &mut near_block);
        aec.far_end(&far_block);
        aec.near_end(&mut near_block);
        out.extend_from_slice(&near_block);
    }
    out.truncate(near.len());
    out
}

fn copy_padded(from: &[f32], start: usize, block: &mut [f32; AEC_BLOCK]) {
    block.fill(0.0);
    if let Some(rest) = from.get(start..) {
        let n = rest.len().min(AEC_BLOCK);
        block[..n].copy_from_slice(&rest[..n]);
    }
}

/// Echo return loss enhancement in dB: how much quieter the echo is after cancellation
/// (`echo` alone at the microphone versus what the canceller left of it).
pub fn erle_db(echo: &[f32], residual: &[f32]) -> f64 {
    let energy = |x: &[f32]| x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
    let n = echo.len().min(residual.len());
    10.0 * (energy(&echo[..n]) / energy(&residual[..n]).max(1e-12)).log10()
}

/// A simulated acoustic path from a speaker to a microphone, for tests and benches: a gain, a
/// delay, a gentle low-pass (a small loudspeaker) and one weaker reflection off a wall.
#[derive(Debug, Clone, Copy)]
pub struct EchoPath {
    /// Gain of the direct path in dB (e.g. -6).
    pub gain_db: f32,
    /// Delay of the direct path in milliseconds.
    pub delay_ms: f32,
    /// Extra delay of the reflection in milliseconds.
    pub reflection_ms: f32,
    /// Gain of the reflection relative to the direct path, in dB.
    pub reflection_db: f32,
}

impl Default for EchoPath {
    fn default() -> Self {
        Self {
            gain_db: -6.0,
            delay_ms: 30.0,
            reflection_ms: 12.0,
            reflection_db: -10.0,
        }
    }
}

impl EchoPath {
    /// What a microphone hears of `played` (at `rate` Hz) through this path.
    pub fn apply(&self, played: &[f32], rate: u32) -> Vec<f32> {
        let mut filter = EchoFilter::new(*self, rate);
        played.iter().map(|&s| filter.next(s)).collect()
    }
}

/// The streaming form of [`EchoPath`]: one sample in, one sample out.
#[derive(Debug, Clone)]
pub struct EchoFilter {
    history: Vec<f32>,
    pos: usize,
    direct: usize,
    reflected: usize,
    gain: f32,
    reflection_gain: f32,
    lowpass: f32,
}

impl EchoFilter {
    /// A filter for `path` at `rate` Hz.
    pub fn new(path: EchoPath, rate: u32) -> Self {
        let samples = |ms: f32| (ms * rate as f32 / 1000.0).round() as usize;
        let direct = samples(path.delay_ms);
        let reflected = direct + samples(path.reflection_ms);
        let gain = 10f32.powf(path.gain_db / 20.0);
        Self {
            history: vec![0.0; reflected + 1],
            pos: 0,
            direct,
            reflected,
            gain,
            reflection_gain: gain * 10f32.powf(path.reflection_db / 20.0),
            lowpass: 0.0,
        }
    }

    /// The microphone's sample for the next played sample.
    pub fn next(&mut self, played: f32) -> f32 {
        let len = self.history.len();
        self.history[self.pos] = played;
        let at = |back: usize| self.history[(self.pos + len - back) % len];
        let direct = at(self.direct);
        let reflected = at(self.reflected);
        self.pos = (self.pos + 1) % len;
        self.lowpass = 0.6 * self.lowpass + 0.4 * direct;
        self.gain * self.lowpass + self.reflection_gain * reflected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aec3_removes_most_of_the_echo() {
        // Real speech as the far end: the canceller's delay estimator needs a broadband signal.
        let path = crate::fixtures::fixture_path("jfk.wav");
        let far = crate::audio::load_pipeline_audio(&path).expect("jfk.wav fixture");
        let echo = EchoPath::default().apply(&far, AEC_RATE);
        let residual = cancel_recording(&mut Aec3::new(), &far, &echo);
        let second = AEC_RATE as usize;
        let erle = erle_db(&echo[second..], &residual[second..]);
        assert!(erle > 20.0, "ERLE {erle:.1} dB");
    }

    #[test]
    fn the_echo_path_delays_and_attenuates() {
        let mut impulse = vec![0.0f32; 1600];
        impulse[0] = 1.0;
        let heard = EchoPath::default().apply(&impulse, AEC_RATE);
        let first = heard.iter().position(|s| s.abs() > 1e-6).unwrap();
        assert_eq!(first, 480, "30 ms at 16 kHz");
        assert!(heard.iter().all(|s| s.abs() <= 0.5));
    }
}
