//! WebRTC's Echo Canceller 3 through `sonora`, a pure-Rust port of WebRTC's audio processing
//! module: an adaptive filter with its own delay estimation and a residual echo suppressor. Only
//! the echo canceller and its high-pass filter are on (no noise suppression, no gain control: the
//! VAD and Whisper want the voice as it is).

use sonora::config::EchoCanceller as Aec3Config;
use sonora::{AudioProcessing, Config, StreamConfig};

use super::{AEC_BLOCK, AEC_RATE, EchoCanceller};

/// WebRTC AEC3 on 16 kHz mono.
pub struct Aec3 {
    apm: AudioProcessing,
    scratch: [f32; AEC_BLOCK],
}

impl Default for Aec3 {
    fn default() -> Self {
        Self::new()
    }
}

impl Aec3 {
    /// A fresh canceller (it converges within the first second of echo).
    pub fn new() -> Self {
        let stream = StreamConfig::new(AEC_RATE, 1);
        let apm = AudioProcessing::builder()
            .config(Config {
                echo_canceller: Some(Aec3Config::default()),
                ..Default::default()
            })
            .capture_config(stream)
            .render_config(stream)
            .build();
        Self {
            apm,
            scratch: [0.0; AEC_BLOCK],
        }
    }
}

impl EchoCanceller for Aec3 {
    fn far_end(&mut self, block: &[f32]) {
        // The render side only analyses the block; its output copy is discarded. The block size
        // is fixed by the trait, so an error here would be a bug: the block is then skipped.
        let _ = self
            .apm
            .process_render_f32(&[block], &mut [&mut self.scratch[..]]);
    }

    fn near_end(&mut self, block: &mut [f32]) {
        if self
            .apm
            .process_capture_f32(&[&block[..]], &mut [&mut self.scratch[..]])
            .is_ok()
        {
            block.copy_from_slice(&self.scratch);
        }
    }
}
