//! Pairs what the speakers played with what the microphone heard, as both arrive from a device.
//!
//! Both streams run on the device's clock, so they advance together. Before each microphone block
//! the canceller is given every played block that has arrived: a played sample always reaches the
//! canceller before its echo does (the echo comes back only after the output and input latencies
//! and the acoustic path), which is what a causal canceller needs. A far-end backlog longer than
//! [`MAX_FAR_BACKLOG_BLOCKS`] (the output started before the input) is dropped oldest first.

use std::collections::VecDeque;

use super::{AEC_BLOCK, EchoCanceller};

/// Far-end blocks kept waiting for the microphone: 0.5 s. Older ones are dropped.
pub const MAX_FAR_BACKLOG_BLOCKS: usize = 50;

/// Feeds an [`EchoCanceller`] from the two sides of a device, or passes the microphone through
/// when there is none (`--no-aec`).
pub struct EchoAligner {
    aec: Option<Box<dyn EchoCanceller>>,
    far: VecDeque<f32>,
    near: VecDeque<f32>,
    far_block: [f32; AEC_BLOCK],
    near_block: [f32; AEC_BLOCK],
    far_dropped: u64,
}

impl EchoAligner {
    /// An aligner around `aec` (`None`: no cancellation).
    pub fn new(aec: Option<Box<dyn EchoCanceller>>) -> Self {
        Self {
            aec,
            far: VecDeque::with_capacity((MAX_FAR_BACKLOG_BLOCKS + 4) * AEC_BLOCK),
            near: VecDeque::with_capacity(8 * AEC_BLOCK),
            far_block: [0.0; AEC_BLOCK],
            near_block: [0.0; AEC_BLOCK],
            far_dropped: 0,
        }
    }

    /// Whether a canceller is running.
    pub fn is_cancelling(&self) -> bool {
        self.aec.is_some()
    }

    /// Far-end samples dropped because the microphone lagged too far behind.
    pub fn far_dropped(&self) -> u64 {
        self.far_dropped
    }

    /// Queues samples that were played (16 kHz, silence included).
    pub fn push_far(&mut self, samples: &[f32]) {
        if self.aec.is_some() {
            self.far.extend(samples.iter().copied());
        }
    }

    /// Queues microphone samples (16 kHz) and appends the cleaned ones to `out` (whole blocks;
    /// a partial block waits for the next call).
    pub fn push_near(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        let Some(aec) = self.aec.as_mut() else {
            out.extend_from_slice(samples);
            return;
        };
        self.near.extend(samples.iter().copied());
        while self.near.len() >= AEC_BLOCK {
            let excess = self
                .far
                .len()
                .saturating_sub(MAX_FAR_BACKLOG_BLOCKS * AEC_BLOCK);
            let excess = excess.div_ceil(AEC_BLOCK) * AEC_BLOCK;
            if excess > 0 {
                let excess = excess.min(self.far.len());
                self.far.drain(..excess);
                self.far_dropped += excess as u64;
            }
            while self.far.len() >= AEC_BLOCK {
                for (dst, src) in self.far_block.iter_mut().zip(self.far.drain(..AEC_BLOCK)) {
                    *dst = src;
                }
                aec.far_end(&self.far_block);
            }
            for (dst, src) in self.near_block.iter_mut().zip(self.near.drain(..AEC_BLOCK)) {
                *dst = src;
            }
            aec.near_end(&mut self.near_block);
            out.extend_from_slice(&self.near_block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};

    /// Records the order of the calls it gets.
    struct Recorder(Arc<Mutex<String>>);

    impl EchoCanceller for Recorder {
        fn far_end(&mut self, _block: &[f32]) {
            self.0.lock().unwrap().push('f');
        }
        fn near_end(&mut self, block: &mut [f32]) {
            self.0.lock().unwrap().push('n');
            block.fill(1.0);
        }
    }

    #[test]
    fn without_a_canceller_the_microphone_passes_through() {
        let mut aligner = EchoAligner::new(None);
        let mut out = Vec::new();
        aligner.push_far(&[0.5; 100]);
        aligner.push_near(&[0.25; 100], &mut out);
        assert_eq!(out, vec![0.25; 100]);
    }

    #[test]
    fn whole_blocks_only_and_far_before_near() {
        let calls = Arc::new(Mutex::new(String::new()));
        let mut aligner = EchoAligner::new(Some(Box::new(Recorder(calls.clone()))));
        let mut out = Vec::new();
        aligner.push_far(&[0.0; 2 * AEC_BLOCK]);
        aligner.push_near(&[0.0; AEC_BLOCK + 10], &mut out);
        assert_eq!(out.len(), AEC_BLOCK);
        aligner.push_far(&[0.0; AEC_BLOCK]);
        aligner.push_near(&[0.0; AEC_BLOCK - 10], &mut out);
        assert_eq!(out, vec![1.0; 2 * AEC_BLOCK]);
        assert_eq!(*calls.lock().unwrap(), "ffnfn");
        assert_eq!(aligner.far_dropped(), 0);
    }

    #[test]
    fn a_long_far_backlog_is_dropped_oldest_first() {
        let calls = Arc::new(Mutex::new(String::new()));
        let mut aligner = EchoAligner::new(Some(Box::new(Recorder(calls))));
        let mut out = Vec::new();
        aligner.push_far(&vec![0.0; (MAX_FAR_BACKLOG_BLOCKS + 3) * AEC_BLOCK]);
        aligner.push_near(&[0.0; AEC_BLOCK], &mut out);
        assert_eq!(aligner.far_dropped(), 3 * AEC_BLOCK as u64);
    }
}
