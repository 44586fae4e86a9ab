//! Streaming segmenter: speech probabilities per chunk in, speech start and end events out.
//! Pure logic with hysteresis, minimum speech and minimum silence; positions are sample indices.

use super::{PIPELINE_RATE, VAD_CHUNK, VadConfig};

/// A stretch of speech, in samples of the 16 kHz input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SpeechSegment {
    /// First sample of speech (padding included).
    pub start: u64,
    /// One past the last sample of speech (padding included).
    pub end: u64,
}

impl SpeechSegment {
    /// Start time in seconds.
    pub fn start_s(&self) -> f64 {
        self.start as f64 / f64::from(PIPELINE_RATE)
    }

    /// End time in seconds.
    pub fn end_s(&self) -> f64 {
        self.end as f64 / f64::from(PIPELINE_RATE)
    }
}

/// What the segmenter reports after a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at this sample (not yet known to last the minimum).
    SpeechStart(u64),
    /// Speech that lasted at least the minimum ended after enough silence.
    SpeechEnd(SpeechSegment),
    /// Speech that began ended before the minimum duration: it is discarded.
    Discarded(SpeechSegment),
}

/// Turns per-chunk probabilities into speech segments.
#[derive(Debug, Clone)]
pub struct Segmenter {
    config: VadConfig,
    /// Start of the current speech (raw, unpadded), if in speech.
    speech_start: Option<u64>,
    /// Where the current run of silence inside speech began.
    silence_start: Option<u64>,
    /// End of the previous segment (padding does not overlap it).
    last_end: u64,
}

fn ms_to_samples(ms: u32) -> u64 {
    u64::from(ms) * u64::from(PIPELINE_RATE) / 1000
}

impl Segmenter {
    /// A segmenter with the given thresholds.
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            speech_start: None,
            silence_start: None,
            last_end: 0,
        }
    }

    /// Whether speech is in progress.
    pub fn in_speech(&self) -> bool {
        self.speech_start.is_some()
    }

    /// Feeds the probability of the chunk starting at sample `start`.
    pub fn push(&mut self, start: u64, prob: f32) -> Option<VadEvent> {
        let end = start + VAD_CHUNK as u64;
        match self.speech_start {
            None if prob >= self.config.threshold => {
                self.speech_start = Some(start);
                self.silence_start = None;
                let pad = ms_to_samples(self.config.speech_pad_ms);
                Some(VadEvent::SpeechStart(
                    start.saturating_sub(pad).max(self.last_end),
                ))
            }
            None => None,
            Some(_) if prob >= self.config.threshold => {
                self.silence_start = None;
                None
            }
            Some(_) if prob < self.config.neg_threshold => {
                let silence_start = *self.silence_start.get_or_insert(start);
                if end - silence_start >= ms_to_samples(self.config.min_silence_ms) {
                    Some(self.close(silence_start))
                } else {
                    None
                }
            }
            Some(_) => None,
        }
    }

    /// Ends the stream at sample `total`; returns a final segment if speech was in progress and
    /// long enough.
    pub fn finish(&mut self, total: u64) -> Option<SpeechSegment> {
        self.speech_start?;
        let end = self.silence_start.unwrap_or(total).min(total);
        match self.close(end) {
            VadEvent::SpeechEnd(segment) => Some(segment),
            _ => None,
        }
    }

    fn close(&mut self, raw_end: u64) -> VadEvent {
        let raw_start = self.speech_start.take().expect("closing while in speech");
        self.silence_start = None;
        let pad = ms_to_samples(self.config.speech_pad_ms);
        let segment = SpeechSegment {
            start: raw_start.saturating_sub(pad).max(self.last_end),
            end: raw_end + pad,
        };
        if raw_end - raw_start >= ms_to_samples(self.config.min_speech_ms) {
            self.last_end = segment.end;
            VadEvent::SpeechEnd(segment)
        } else {
            VadEvent::Discarded(segment)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(probs: &[f32]) -> Vec<VadEvent> {
        let mut s = Segmenter::new(VadConfig::default());
        probs
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| s.push((i * VAD_CHUNK) as u64, p))
            .collect()
    }

    #[test]
    fn speech_then_silence_gives_one_padded_segment() {
        // 10 speech chunks (320 ms), then 4 silent chunks (128 ms >= 100 ms).
        let mut probs = vec![0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9];
        probs.extend([0.1, 0.1, 0.1, 0.1]);
        let events = run(&probs);
        let pad = 480;
        assert_eq!(events[0], VadEvent::SpeechStart(512 - pad));
        assert_eq!(
            events[1],
            VadEvent::SpeechEnd(SpeechSegment {
                start: 512 - pad,
                end: 11 * 512 + pad
            })
        );
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn short_blip_is_discarded() {
        let events = run(&[0.9, 0.9, 0.1, 0.1, 0.1, 0.1]);
        assert!(matches!(events[1], VadEvent::Discarded(_)));
    }

    #[test]
    fn hysteresis_keeps_speech_through_middling_probabilities() {
        let mut probs = vec![0.9; 10];
        probs.extend([0.4; 10]);
        assert_eq!(run(&probs).len(), 1, "0.4 is above the neg threshold");
    }

    #[test]
    fn short_pause_does_not_split() {
        let mut probs = vec![0.9; 10];
        probs.extend([0.1, 0.1]); // 64 ms < 100 ms
        probs.extend([0.9; 10]);
        assert_eq!(run(&probs).len(), 1);
    }
}
