//! End-of-turn policy: after a pause, the turn-end model's score decides how much more silence
//! to wait for before the agent takes the floor; a question in words said with a final rise
//! (the session's cue tracker measures it) waits less than other pauses scored incomplete.

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
    /// Silence to wait, counted from the speech end, when the score says not complete but the
    /// words are a question (the transcript ends in "?") said with a final rise: the voice and
    /// the words agree that the user asked something and now waits for the answer.
    pub question_wait_ms: u32,
    /// Confidence in the final rise (question intonation) needed for that.
    pub question_rise_confidence: f32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            complete_threshold: 0.5,
            complete_wait_ms: 0,
            incomplete_wait_ms: 1200,
            question_wait_ms: 600,
            question_rise_confidence: 0.6,
        }
    }
}

/// What is known of a pause when its end of turn is decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PauseEvidence<'a> {
    /// Where the speech ended.
    pub speech_end: u64,
    /// When the pause was detected.
    pub detected_at: u64,
    /// The turn-end model's score.
    pub probability: f32,
    /// Confidence that the speech ended in a rise (0 when not measured).
    pub rise: f32,
    /// The transcript, when it is in.
    pub transcript: Option<&'a str>,
}

impl EndpointConfig {
    /// When the turn ends, given the speech end, when the pause was detected, and the score.
    pub fn deadline(&self, speech_end: u64, detected_at: u64, probability: f32) -> u64 {
        self.decide(&PauseEvidence {
            speech_end,
            detected_at,
            probability,
            rise: 0.0,
            transcript: None,
        })
    }

    /// When the turn ends, given all that is known of the pause: a complete score ends it after
    /// `complete_wait_ms`; a question said with a final rise after `question_wait_ms` of
    /// silence; anything else after `incomplete_wait_ms`. A rise alone never shortens the
    /// wait: a speaker listing things or reading a long sentence rises at each comma.
    pub fn decide(&self, pause: &PauseEvidence<'_>) -> u64 {
        if pause.probability >= self.complete_threshold {
            return pause.detected_at + ms(self.complete_wait_ms);
        }
        let wait = if self.is_rising_question(pause) {
            self.question_wait_ms.min(self.incomplete_wait_ms)
        } else {
            self.incomplete_wait_ms
        };
        (pause.speech_end + ms(wait)).max(pause.detected_at)
    }

    /// Whether the pause follows a question in words and in voice.
    pub fn is_rising_question(&self, pause: &PauseEvidence<'_>) -> bool {
        pause.rise >= self.question_rise_confidence
            && pause
                .transcript
                .is_some_and(|t| t.trim_end().ends_with('?'))
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

    #[test]
    fn a_question_said_rising_waits_less_but_a_rise_alone_does_not() {
        let c = EndpointConfig::default();
        let pause = |rise, transcript| PauseEvidence {
            speech_end: 16_000,
            detected_at: 19_200,
            probability: 0.2,
            rise,
            transcript,
        };
        assert_eq!(
            c.decide(&pause(0.9, Some("You're coming tomorrow?"))),
            16_000 + ms(600)
        );
        // A rise at a comma, a question in words said flat, or no transcript yet: the full wait.
        for (rise, text) in [
            (0.9, Some("I bought apples,")),
            (0.9, Some("I bought apples.")),
            (0.2, Some("You're coming tomorrow?")),
            (0.9, None),
        ] {
            assert_eq!(c.decide(&pause(rise, text)), 16_000 + ms(1200), "{text:?}");
        }
        // A complete score needs nothing else.
        let complete = PauseEvidence {
            probability: 0.9,
            ..pause(0.0, None)
        };
        assert_eq!(c.decide(&complete), 19_200);
    }
}
