//! Sound over the agent's voice, in two stages. At the first voiced moment playback pauses
//! (the reply is held where it stopped); then the sound is judged:
//!
//! - speech that goes on past `interrupt_after_ms`, or whose words take the floor, is an
//!   interruption: the reply is flushed, cut to the words heard, and the user has the floor;
//! - a sound too short to be speech (the VAD discards it), or one with no words in its
//!   transcript (a cough, a click), is a false alarm: playback resumes, nothing lost;
//! - a backchannel ("mm-hm", "right", "I see") resumes the reply too, and is noted with it.
//!
//! Sound that starts again before the transcript of what came before is back, or within
//! [`REJOIN_MS`] of a sound that let the reply go on, is judged as one with it ("front" ...
//! "left" is two words that take the floor, not two acknowledgements). A sound still going on
//! when the reply ends is the user's next turn.

use super::core::Agent;
use super::io::{AgentEvent, Output, OverlapDecision, RequestId};
use super::ms;
use crate::playback::is_pause;
use crate::text::{Overlap, classify_overlap};

/// A sound that starts this soon after the end of one that let the reply go on is judged
/// together with it.
const REJOIN_MS: u32 = 1000;

/// A sound over the agent's voice being judged.
#[derive(Debug, Clone, Copy)]
pub(super) struct Barge {
    /// Where the sound began.
    pub start: u64,
    /// Samples of it the VAD scored as speech.
    pub voiced: u64,
    /// Once the VAD closed it: where it ended, and the request for its transcript (awaited).
    pub ended: Option<(u64, RequestId)>,
}

impl Agent {
    /// The VAD heard speech start at `at` while the agent is audible: pause, then judge.
    pub(super) fn overlap_start(&mut self, at: u64) {
        if let Some(earlier) = self.barge.as_mut() {
            // The sound ended and was being transcribed, and goes on: it is judged as one, from
            // its first start (its voiced time adds up towards the interruption limit).
            if let Some((_, request)) = earlier.ended.take() {
                self.emit(Output::Abandon(request));
            }
            return;
        }
        // Soon after a sound that let the reply go on: judged together with it.
        let mut start = at;
        if let Some((earlier, end, acknowledged)) = self.last_overlap.take()
            && at <= end + ms(REJOIN_MS)
        {
            start = earlier;
            if acknowledged && let Some(reply) = self.reply.as_mut() {
                reply.acknowledged.pop();
            }
        }
        self.barge = Some(Barge {
            start,
            voiced: 0,
            ended: None,
        });
        self.set_hold(true);
        if let Some(turn) = self.current_turn() {
            self.event(AgentEvent::PlaybackPaused {
                turn,
                at: self.now,
                speech_start: at,
            });
        }
    }

    /// Counts the voiced time of the sound; long speech interrupts whatever it says.
    pub(super) fn overlap_vad(&mut self, voiced_samples: u64) {
        let Some(barge) = self.barge.as_mut().filter(|b| b.ended.is_none()) else {
            return;
        };
        barge.voiced += voiced_samples;
        if barge.voiced >= ms(self.config.turns.interrupt_after_ms) {
            let start = barge.start;
            self.interrupt(start, None);
        }
    }

    /// The sound ended at `speech_end`: transcribe it to judge it. False if there was none.
    pub(super) fn overlap_end(&mut self, speech_end: u64) -> bool {
        let Some(start) = self.barge.map(|b| b.start) else {
            return false;
        };
        let request = self.request_id();
        let from = start.saturating_sub(ms(self.config.turns.preroll_ms));
        let audio = self.audio_between(from, self.now);
        self.emit(Output::Transcribe { request, audio });
        // If the sound takes the floor, it is the start of the user's utterance.
        self.said.clear();
        self.said.requested_to = self.now;
        if let Some(barge) = self.barge.as_mut() {
            barge.ended = Some((speech_end, request));
        }
        true
    }

    /// The VAD discarded the sound as too short for speech: a false alarm.
    pub(super) fn overlap_discarded(&mut self) {
        if let Some(barge) = self.barge.filter(|b| b.ended.is_none()) {
            self.barge = None;
            self.resume(&barge, OverlapDecision::FalseAlarm, String::new());
        }
    }

    /// The transcript of the sound: its words decide. False if it was not the sound's.
    pub(super) fn overlap_transcript(&mut self, request: RequestId, text: &str) -> bool {
        let Some(barge) = self
            .barge
            .filter(|b| b.ended.is_some_and(|(_, r)| r == request))
        else {
            return false;
        };
        let speech_end = barge.ended.map_or(self.now, |(end, _)| end);
        self.barge = None;
        match classify_overlap(text) {
            Overlap::Backchannel => {
                self.resume(&barge, OverlapDecision::Backchannel, text.trim().into())
            }
            Overlap::NotSpeech => {
                self.resume(&barge, OverlapDecision::FalseAlarm, text.trim().into())
            }
            Overlap::Words => {
                self.interrupt(barge.start, Some((request, text.to_owned(), speech_end)));
            }
        }
        true
    }

    /// The reply ended (played to its end) while a sound over it was being judged: the sound is
    /// the user's next turn.
    pub(super) fn overlap_outlived_reply(&mut self) {
        self.last_overlap = None;
        let Some(barge) = self.barge.take() else {
            return;
        };
        self.set_hold(false);
        let utterance_start = barge.start.saturating_sub(ms(self.config.turns.preroll_ms));
        match barge.ended {
            Some((speech_end, request)) => {
                self.early_transcript = Some((request, None));
                self.pause(utterance_start, speech_end);
            }
            _ => self.user_speaking_from(utterance_start),
        }
    }

    /// Playback resumes after a sound that does not take the floor.
    fn resume(&mut self, barge: &Barge, decision: OverlapDecision, text: String) {
        self.set_hold(false);
        let Some(turn) = self.current_turn() else {
            return;
        };
        let acknowledged = decision == OverlapDecision::Backchannel;
        if acknowledged && let Some(reply) = self.reply.as_mut() {
            reply.acknowledged.push(text.clone());
        }
        let end = barge.ended.map_or(self.now, |(end, _)| end);
        self.last_overlap = Some((barge.start, end, acknowledged));
        self.event(AgentEvent::OverlapJudged {
            turn,
            at: self.now,
            decision,
            text,
        });
        // Tool results that came in meanwhile go to the model now.
        self.maybe_follow_up();
    }

    /// The user takes the floor: stop the reply where it paused, cut it to the words heard, and
    /// let the user's speech from `speech_start` be their turn. With `words` (the transcript
    /// request, its text, and where the speech ended), the turn is already spoken: it goes on to
    /// the end-of-turn decision with that transcript.
    fn interrupt(&mut self, speech_start: u64, words: Option<(RequestId, String, u64)>) {
        self.barge = None;
        self.last_overlap = None;
        let Some(reply) = self.reply.take() else {
            self.set_hold(false);
            return;
        };
        let epoch = self.playout.flush();
        self.emit(Output::Flush { epoch });
        self.set_hold(false);
        self.emit(Output::Cancel(reply.turn));
        self.tools_reply_cut(reply.turn);
        let text = words
            .as_ref()
            .map(|(_, t, _)| t.clone())
            .unwrap_or_default();
        self.event(AgentEvent::OverlapJudged {
            turn: reply.turn,
            at: self.now,
            decision: OverlapDecision::Interruption,
            text,
        });
        self.cuts_pending
            .push_back((reply.turn, epoch, reply.acknowledged));
        self.finish_cuts(false);
        let utterance_start = speech_start.saturating_sub(ms(self.config.turns.preroll_ms));
        match words {
            Some((request, text, speech_end)) => {
                self.early_transcript = Some((request, Some(text)));
                self.pause(utterance_start, speech_end);
            }
            None => self.user_speaking_from(utterance_start),
        }
    }

    /// Pauses or resumes playback, if it is not already so.
    fn set_hold(&mut self, paused: bool) {
        if paused != is_pause(self.holds) {
            self.holds += 1;
            self.emit(Output::Hold { epoch: self.holds });
        }
    }
}
