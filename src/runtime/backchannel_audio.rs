//! The speech of backchannels ("mm-hm"): each one's words are synthesized once, at a listener's
//! low level, and kept for the rest of the session; the one the agent asks for is sent when its
//! speech is ready, unless the agent has stopped it first.

use std::collections::HashMap;

/// A backchannel's level against the reply voice (about -10 dB: a listener's "mm-hm" is quiet).
const BACKCHANNEL_GAIN: f32 = 0.3;

/// Backchannels' speech by their words, and the one wanted now.
#[derive(Default)]
pub(super) struct BackchannelAudio {
    /// Speech by words, once synthesized: rate, samples at the low level.
    speech: HashMap<String, (u32, Vec<f32>)>,
    /// The backchannel asked for and not yet sent or stopped.
    wanted: Option<String>,
}

impl BackchannelAudio {
    /// The agent asks for a backchannel; true when its speech must be synthesized first.
    pub(super) fn want(&mut self, text: String) -> bool {
        let known = self.speech.contains_key(&text);
        self.wanted = Some(text);
        !known
    }

    /// The agent stopped the backchannel: one still being synthesized is not sent.
    pub(super) fn stop(&mut self) {
        self.wanted = None;
    }

    /// Keeps synthesized speech for `text`, at the low level.
    pub(super) fn keep(&mut self, text: String, rate: u32, samples: &[f32]) {
        let quiet = samples.iter().map(|s| s * BACKCHANNEL_GAIN).collect();
        self.speech.insert(text, (rate, quiet));
    }

    /// Takes the wanted backchannel, with its speech (rate, samples) if it is ready; a wanted
    /// one whose speech is not ready is given up.
    pub(super) fn take_wanted(&mut self) -> Option<(u32, Vec<f32>)> {
        let text = self.wanted.take()?;
        self.speech.get(&text).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backchannel_is_synthesized_once_and_sent_quiet_unless_stopped() {
        let mut audio = BackchannelAudio::default();
        assert!(audio.want("mm-hm".into()), "first time: synthesize");
        audio.keep("mm-hm".into(), 22_050, &[1.0, -0.5]);
        assert_eq!(
            audio.take_wanted(),
            Some((22_050, vec![BACKCHANNEL_GAIN, -0.5 * BACKCHANNEL_GAIN]))
        );
        assert_eq!(audio.take_wanted(), None, "sent once");
        assert!(!audio.want("mm-hm".into()), "known: no synthesis");
        audio.stop();
        assert_eq!(audio.take_wanted(), None, "stopped before it was sent");
    }
}
