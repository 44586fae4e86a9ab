//! End-of-turn policy: after a pause, the turn-end model's score decides how much more silence
//! to wait for before the agent takes the floor.

use serde::{Deserialize, Serialize};

use super::ms;

/// Thresholds of the end-of-turn decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// A score at or above this says the turn is complete.
    pub complete_threshold: f32,
    /// Silence to wait, after the pause is detected, when the turn is complete.
    pub complete_wait_ms: u32,
    /// Silence to wait, counted from the speech end, when the score says not complete.
    pub incomplete_wait_ms: u32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            complete_threshold: 0.5,
            complete_wait_ms: 0,
            incomplete_wait_ms: 1200,
        }
    }
}

impl EndpointConfig {
    /// When the turn ends, given the speech end, when the pause was detected, and the score.
    pub fn deadline(&self, speech_end: u64, detected_at: u64, probability: f32) -> u64 {
        if probability >= self.complete_threshold {
            detected_at + ms(self.complete_wait_ms)
        } else {
            (speech_end + ms(self.incomplete_wait_ms)).max(detected_at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_turns_end_sooner_than_incomplete_ones() {
        let c = EndpointConfig::default();
        assert_eq!(c.deadline(16_000, 19_200, 0.9), 19_200);
        assert_eq!(c.deadline(16_000, 19_200, 0.1), 16_000 + ms(1200));
    }
}
