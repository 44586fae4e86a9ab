//! The agent's side of the playback contract ([`crate::playback`]): the ledger of chunks sent to
//! playback (their ids and text; never their audio, which the caller keeps), the
//! transport's latest progress report, and the flushes asked for, so that an interrupted reply is
//! cut to the words that were actually heard.

use crate::playback::{ChunkId, PlaybackProgress, PlayedMark};

use super::TurnId;

/// One chunk sent to playback.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayedChunk {
    /// The chunk.
    pub id: ChunkId,
    /// Its text.
    pub text: String,
}

/// Chunks sent to playback, the transport's progress, and the flushes asked for.
#[derive(Debug, Default, Clone)]
pub struct Playout {
    chunks: Vec<PlayedChunk>,
    /// The chunk sent last, and the flush epoch it was sent under.
    last_queued: Option<(ChunkId, u64)>,
    mark: Option<PlayedMark>,
    flushes_asked: u64,
    flushes_done: u64,
}

impl Playout {
    /// Records a chunk sent to playback and its text. How much of it was heard comes from the
    /// transport's report ([`PlayedMark`]: samples played of its length, at the transport's
    /// rate), so the ledger keeps no length of its own.
    pub fn queue(&mut self, id: ChunkId, text: String) {
        self.chunks.push(PlayedChunk { id, text });
        self.last_queued = Some((id, self.flushes_asked));
    }

    /// Records the transport's latest report.
    pub fn set_progress(&mut self, progress: PlaybackProgress) {
        self.flushes_done = self.flushes_done.max(progress.flushes);
        if let Some(mark) = progress.mark {
            let newer = self
                .mark
                .is_none_or(|m| (mark.id, mark.played) > (m.id, m.played));
            if newer {
                self.mark = Some(mark);
            }
        }
    }

    /// Whether audio sent to playback may still be audible: neither played to its end nor
    /// flushed since.
    pub fn is_playing(&self) -> bool {
        match self.last_queued {
            None => false,
            Some((id, epoch)) => {
                epoch == self.flushes_asked && !self.mark.is_some_and(|m| m.covers(id))
            }
        }
    }

    /// Asks for a flush; returns its epoch, which the transport's report will carry once done.
    pub fn flush(&mut self) -> u64 {
        self.flushes_asked += 1;
        self.flushes_asked
    }

    /// Whether the transport has carried out flush `epoch`.
    pub fn flushed(&self, epoch: u64) -> bool {
        self.flushes_done >= epoch
    }

    /// The words of `turn` that have been heard: whole chunks played, plus the share of the
    /// words of a partly played chunk that matches the share of its samples played.
    pub fn heard_text(&self, turn: TurnId) -> String {
        let Some(mark) = self.mark else {
            return String::new();
        };
        let mut words: Vec<&str> = Vec::new();
        for chunk in self.chunks.iter().filter(|c| c.id.turn == turn) {
            if mark.covers(chunk.id) {
                words.extend(chunk.text.split_whitespace());
            } else if mark.id == chunk.id {
                let all: Vec<&str> = chunk.text.split_whitespace().collect();
                let n = (all.len() as f64 * mark.share()).floor() as usize;
                words.extend(&all[..n]);
            }
        }
        words.join(" ")
    }

    /// Forgets the chunks of a finished turn.
    pub fn forget(&mut self, turn: TurnId) {
        self.chunks.retain(|c| c.id.turn != turn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(chunk: u32) -> ChunkId {
        ChunkId {
            turn: TurnId(1),
            chunk,
        }
    }

    fn at(chunk: u32, played: u64, len: u64, flushes: u64) -> PlaybackProgress {
        PlaybackProgress {
            flushes,
            mark: Some(PlayedMark {
                id: id(chunk),
                played,
                len,
            }),
        }
    }

    #[test]
    fn heard_text_cuts_inside_a_partly_played_chunk() {
        let mut p = Playout::default();
        p.queue(id(0), "Hello there.".into());
        p.queue(id(1), "One two three four.".into());
        p.set_progress(at(1, 200, 400, 0)); // half of the second chunk
        assert_eq!(p.heard_text(TurnId(1)), "Hello there. One two");
        assert!(p.is_playing());
        let epoch = p.flush();
        assert!(!p.is_playing() && !p.flushed(epoch));
        p.set_progress(at(1, 220, 400, epoch)); // where the transport really stopped
        assert!(p.flushed(epoch));
        assert_eq!(p.heard_text(TurnId(1)), "Hello there. One two");
    }

    #[test]
    fn a_reply_stops_playing_when_its_last_chunk_is_played() {
        let mut p = Playout::default();
        p.queue(id(0), "Hi.".into());
        p.set_progress(at(0, 99, 100, 0));
        assert!(p.is_playing());
        p.set_progress(at(0, 100, 100, 0));
        assert!(!p.is_playing());
        // A stale report never moves playback back.
        p.set_progress(at(0, 50, 100, 0));
        assert!(!p.is_playing());
    }
}
