//! What the user has said so far in the current utterance, in segments cut at its inner pauses.
//!
//! Each pause is transcribed (to end the turn if it is the last). When the user goes on, that
//! transcription is kept as a segment instead of being thrown away, and the next one covers
//! only the speech after it: Whisper's cost at the end of a long utterance then depends on its
//! last stretch, not on all of it, and the work is done while the user is still speaking.

use super::io::RequestId;

/// The utterance's settled segments and where the next one starts.
#[derive(Debug, Default)]
pub(super) struct Said {
    /// Segments in order: their transcription request and text once it is back.
    parts: Vec<(Option<RequestId>, Option<String>)>,
    /// Where the speech after the last segment starts (input sample), with any segment.
    next_from: Option<u64>,
    /// Where the latest transcription of the utterance ends.
    pub(super) requested_to: u64,
}

impl Said {
    /// A new utterance: nothing is settled.
    pub(super) fn clear(&mut self) {
        self.parts.clear();
        self.next_from = None;
    }

    /// Where the next transcription of an utterance that began at `utterance_start` starts.
    pub(super) fn from(&self, utterance_start: u64) -> u64 {
        self.next_from
            .map_or(utterance_start, |f| f.max(utterance_start))
    }

    /// The user went on after a pause whose transcription (`request`, its text if back) ran to
    /// `to`: it becomes a segment.
    pub(super) fn settle(&mut self, request: RequestId, text: Option<String>, to: u64) {
        self.parts.push((Some(request), text));
        self.next_from = Some(to);
    }

    /// The user went on after a reply was prepared on `text`, everything said up to `to`: it
    /// replaces the segments.
    pub(super) fn settle_all(&mut self, text: String, to: u64) {
        self.parts = vec![(None, Some(text))];
        self.next_from = Some(to);
    }

    /// Records a transcript if it answers a segment's request; returns whether it did.
    pub(super) fn on_transcript(&mut self, request: RequestId, text: &str) -> bool {
        match self.parts.iter_mut().find(|(r, _)| *r == Some(request)) {
            Some((_, slot)) => {
                *slot = Some(text.to_owned());
                true
            }
            None => false,
        }
    }

    /// The whole utterance's words, the segments' then `tail`'s, once every segment is back.
    /// With segments, a piece that is only the recogniser's tag for no speech ("[BLANK_AUDIO]",
    /// a stretch of silence after the last words) is left out.
    pub(super) fn with_tail(&self, tail: &str) -> Option<String> {
        if self.parts.is_empty() {
            return Some(tail.trim().to_owned());
        }
        let mut pieces: Vec<&str> = Vec::with_capacity(self.parts.len() + 1);
        for (_, text) in &self.parts {
            pieces.push(text.as_deref()?.trim());
        }
        pieces.push(tail.trim());
        pieces.retain(|p| !p.is_empty() && !is_no_speech_tag(p));
        Some(pieces.join(" "))
    }
}

/// Whether `piece` is only a bracketed tag such as "[BLANK_AUDIO]" or "(silence)".
fn is_no_speech_tag(piece: &str) -> bool {
    let p = piece.trim();
    (p.starts_with('[') && p.ends_with(']')) || (p.starts_with('(') && p.ends_with(')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_join_in_order_once_all_are_back() {
        let mut said = Said::default();
        assert_eq!(said.from(100), 100);
        said.settle(RequestId(1), None, 16_000);
        said.settle(RequestId(2), Some("ask not".into()), 32_000);
        assert_eq!(said.from(100), 32_000);
        assert_eq!(said.with_tail("what your country can do"), None);
        assert!(said.on_transcript(RequestId(1), "And so my fellow Americans,"));
        assert!(!said.on_transcript(RequestId(9), "stale"));
        assert_eq!(
            said.with_tail(" what your country can do "),
            Some("And so my fellow Americans, ask not what your country can do".into())
        );
        said.settle_all("everything so far".into(), 40_000);
        assert_eq!(said.with_tail(""), Some("everything so far".into()));
        assert_eq!(
            said.with_tail("[BLANK_AUDIO]"),
            Some("everything so far".into())
        );
        said.clear();
        assert_eq!(said.from(100), 100);
        assert_eq!(said.with_tail("new"), Some("new".into()));
    }
}
