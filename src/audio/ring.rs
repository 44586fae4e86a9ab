//! Lock-free single-producer single-consumer ring buffers of samples (ringbuf), the only thing
//! shared between an audio producer (file reader, device callback, network peer) and the pipeline.
//! Push and pop never allocate or lock, so they are safe on a real-time audio thread.

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Capacity of the capture ring: 2 s at 16 kHz. When full, the producer's newest samples are
/// dropped and counted (the pipeline is stalled; old audio is kept so nothing said is cut mid-word).
pub const CAPTURE_RING_SAMPLES: usize = 32_000;

/// The writing end of a sample ring.
pub struct SampleProducer {
    inner: HeapProd<f32>,
    dropped: u64,
}

/// The reading end of a sample ring.
pub struct SampleConsumer {
    inner: HeapCons<f32>,
}

/// Creates a ring holding up to `capacity` samples.
pub fn sample_ring(capacity: usize) -> (SampleProducer, SampleConsumer) {
    let (prod, cons) = HeapRb::<f32>::new(capacity).split();
    (
        SampleProducer {
            inner: prod,
            dropped: 0,
        },
        SampleConsumer { inner: cons },
    )
}

impl SampleProducer {
    /// Pushes as many samples as fit; the rest are dropped and counted. Returns how many fit.
    pub fn push(&mut self, samples: &[f32]) -> usize {
        let pushed = self.inner.push_slice(samples);
        self.dropped += (samples.len() - pushed) as u64;
        pushed
    }

    /// Room left in the ring, in samples.
    pub fn vacant(&self) -> usize {
        self.inner.vacant_len()
    }

    /// Samples dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl SampleConsumer {
    /// Pops up to `out.len()` samples into `out`, returning how many were read.
    pub fn pop(&mut self, out: &mut [f32]) -> usize {
        self.inner.pop_slice(out)
    }

    /// Samples waiting to be read.
    pub fn available(&self) -> usize {
        self.inner.occupied_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_drops_newest_and_counts() {
        let (mut p, mut c) = sample_ring(4);
        assert_eq!(p.push(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 4);
        assert_eq!(p.dropped(), 2);
        let mut out = [0.0; 8];
        assert_eq!(c.pop(&mut out), 4);
        assert_eq!(&out[..4], &[1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn samples_cross_threads_in_order() {
        let (mut p, mut c) = sample_ring(64);
        let writer = std::thread::spawn(move || {
            let mut next = 0.0f32;
            while next < 1000.0 {
                if p.push(&[next]) == 1 {
                    next += 1.0;
                }
            }
        });
        let mut expected = 0.0f32;
        let mut buf = [0.0f32; 16];
        while expected < 1000.0 {
            let n = c.pop(&mut buf);
            for &s in &buf[..n] {
                assert_eq!(s, expected);
                expected += 1.0;
            }
        }
        writer.join().unwrap();
    }
}
