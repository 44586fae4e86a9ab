//! The playout ledger: which text each queued chunk of speech carries and where it sits in the
//! stream of played samples, so that an interrupted reply can be cut to the words that were heard.

use super::TurnId;

/// One chunk sent to playback.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayedChunk {
    /// The turn it belongs to.
    pub turn: TurnId,
    /// Its text.
    pub text: String,
    /// Position of its first sample in the cumulative playback stream.
    pub start: u64,
    /// One past its last sample.
    pub end: u64,
}

/// Chunks queued for playback, in order, with the playback progress reported by the transport.
#[derive(Debug, Default, Clone)]
pub struct Playout {
    chunks: Vec<PlayedChunk>,
    queued_total: u64,
    played_total: u64,
}

impl Playout {
    /// Records a chunk sent to playback.
    pub fn queue(&mut self, turn: TurnId, text: String, samples: u64) {
        let start = self.queued_total;
        self.queued_total += samples;
        self.chunks.push(PlayedChunk {
            turn,
            text,
            start,
            end: self.queued_total,
        });
    }

    /// Records the transport's report of how much has been played.
    pub fn set_played(&mut self, total: u64) {
        self.played_total = total.min(self.queued_total).max(self.played_total);
    }

    /// Whether queued audio is still waiting to be played.
    pub fn is_playing(&self) -> bool {
        self.played_total < self.queued_total
    }

    /// Total samples ever queued.
    pub fn queued_total(&self) -> u64 {
        self.queued_total
    }

    /// Drops the rest of the queue (a flush): playback stops where it is.
    pub fn flush(&mut self) {
        self.queued_total = self.played_total;
    }

    /// The words of `turn` that have been heard: whole chunks played, plus the share of the
    /// words of a partly played chunk that matches the share of its samples played.
    pub fn heard_text(&self, turn: TurnId) -> String {
        let mut words: Vec<&str> = Vec::new();
        for chunk in self.chunks.iter().filter(|c| c.turn == turn) {
            if self.played_total >= chunk.end {
                words.extend(chunk.text.split_whitespace());
            } else if self.played_total > chunk.start {
                let all: Vec<&str> = chunk.text.split_whitespace().collect();
                let share = (self.played_total - chunk.start) as f64
                    / (chunk.end - chunk.start).max(1) as f64;
                let n = (all.len() as f64 * share).floor() as usize;
                words.extend(&all[..n]);
            }
        }
        words.join(" ")
    }

    /// Forgets the chunks of a finished turn.
    pub fn forget(&mut self, turn: TurnId) {
        self.chunks.retain(|c| c.turn != turn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heard_text_cuts_inside_a_partly_played_chunk() {
        let mut p = Playout::default();
        p.queue(TurnId(1), "Hello there.".into(), 100);
        p.queue(TurnId(1), "One two three four.".into(), 400);
        p.set_played(300); // half of the second chunk
        assert_eq!(p.heard_text(TurnId(1)), "Hello there. One two");
        assert!(p.is_playing());
        p.flush();
        assert!(!p.is_playing());
        p.set_played(1000);
        assert_eq!(p.heard_text(TurnId(1)), "Hello there. One two");
    }
}
