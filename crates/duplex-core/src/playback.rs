//! The playback contract every transport keeps, and its one implementation.
//!
//! The agent sends reply audio chunk by chunk, each tagged with its `(turn, chunk)`; a transport
//! queues it in a [`PlaybackQueue`] (at the transport's own rate), pulls one period of samples
//! at a time for its sink, and reports [`PlaybackProgress`]: how far into which chunk playback
//! has got, and how many flushes it has carried out. Progress is a latest-value report (a watch,
//! never a queue), so a full channel can never lose it.
//!
//! A flush is numbered (an epoch). The transport drops everything queued, and everything pulled
//! but not yet played (a device ring), the moment it sees the new epoch; its next report carries
//! that epoch and the true point where playback stopped. The agent cuts the interrupted reply to
//! the words heard from that report, not from a count it guessed when it asked for the flush.
//!
//! Sinks that play what they pull at once (a file, a paced WebRTC track) confirm each pull; a
//! device that plays from a ring ahead of the transport confirms what its callback reports.

use std::collections::VecDeque;

use crate::agent::TurnId;

/// One chunk of a reply: its turn and its index within the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkId {
    /// The turn.
    pub turn: TurnId,
    /// Index of the chunk within the turn.
    pub chunk: u32,
}

/// How far playback has got into one chunk: `played` of its `len` samples (transport rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayedMark {
    /// The chunk.
    pub id: ChunkId,
    /// Samples of it played.
    pub played: u64,
    /// Its length.
    pub len: u64,
}

impl PlayedMark {
    /// Whether the whole chunk was played.
    pub fn is_complete(&self) -> bool {
        self.played >= self.len
    }

    /// The share of the chunk played, in [0, 1].
    pub fn share(&self) -> f64 {
        if self.len == 0 {
            1.0
        } else {
            (self.played as f64 / self.len as f64).min(1.0)
        }
    }

    /// Whether playback at this mark has passed all of chunk `id`.
    pub fn covers(&self, id: ChunkId) -> bool {
        self.id > id || (self.id == id && self.is_complete())
    }
}

/// What a transport reports about playback; only the latest value matters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaybackProgress {
    /// Flushes carried out so far (the last flush epoch acted on).
    pub flushes: u64,
    /// The furthest point played, if anything was.
    pub mark: Option<PlayedMark>,
}

/// A chunk waiting to be pulled.
#[derive(Debug)]
struct Queued {
    id: ChunkId,
    samples: Vec<f32>,
    next: usize,
    /// Whether playback has reached it (an empty chunk is played when reached).
    reached: bool,
}

/// Samples pulled for the sink and not yet confirmed played, on the cumulative pulled count.
#[derive(Debug, Clone, Copy)]
struct Span {
    id: ChunkId,
    start: u64,
    end: u64,
    /// Position within the chunk of the span's first sample.
    offset: u64,
    len: u64,
}

/// Reply audio between the session and a sink, with the bookkeeping of what was played.
#[derive(Debug, Default)]
pub struct PlaybackQueue {
    queued: VecDeque<Queued>,
    pulled_spans: VecDeque<Span>,
    pulled: u64,
    played: u64,
    progress: PlaybackProgress,
}

impl PlaybackQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a chunk after whatever is queued. An empty chunk counts as played once playback
    /// reaches it.
    pub fn push(&mut self, id: ChunkId, samples: Vec<f32>) {
        self.queued.push_back(Queued {
            id,
            samples,
            next: 0,
            reached: false,
        });
    }

    /// Appends samples to the chunk last queued if it is `id` (a streaming resampler's tail),
    /// even when it was already pulled to its end.
    pub fn extend_last(&mut self, id: ChunkId, samples: &[f32]) -> bool {
        match self.queued.back_mut() {
            Some(last) if last.id == id => {
                last.samples.extend_from_slice(samples);
                true
            }
            _ => false,
        }
    }

    /// Fills `out` with queued speech in order, silence after it; returns the samples of speech.
    /// The chunk pulled last stays in the queue (fully pulled) until another follows it, so that
    /// [`extend_last`](Self::extend_last) can still add to it.
    pub fn pull(&mut self, out: &mut [f32]) -> usize {
        let mut filled = 0;
        while let Some(front) = self.queued.front_mut() {
            let left = front.samples.len() - front.next;
            let n = left.min(out.len() - filled);
            if n > 0 || !front.reached {
                front.reached = true;
                self.pulled_spans.push_back(Span {
                    id: front.id,
                    start: self.pulled,
                    end: self.pulled + n as u64,
                    offset: front.next as u64,
                    len: front.samples.len() as u64,
                });
            }
            out[filled..filled + n].copy_from_slice(&front.samples[front.next..front.next + n]);
            self.pulled += n as u64;
            front.next += n;
            filled += n;
            if front.next < front.samples.len() || self.queued.len() == 1 {
                break;
            }
            self.queued.pop_front();
        }
        out[filled..].fill(0.0);
        filled
    }

    /// [`pull`](Self::pull) for a sink that plays what it pulls at once.
    pub fn pull_played(&mut self, out: &mut [f32]) -> usize {
        let n = self.pull(out);
        self.confirm(self.pulled);
        n
    }

    /// Total samples pulled so far (the position a device's played count is measured on).
    pub fn pulled_total(&self) -> u64 {
        self.pulled
    }

    /// Records that the sink has played `played_total` of the samples pulled (cumulative).
    pub fn confirm(&mut self, played_total: u64) {
        self.played = played_total.min(self.pulled).max(self.played);
        while let Some(span) = self.pulled_spans.front().copied() {
            if self.played >= span.end {
                self.pulled_spans.pop_front();
                self.progress.mark = Some(PlayedMark {
                    id: span.id,
                    played: span.offset + (span.end - span.start),
                    len: span.len,
                });
            } else {
                if self.played > span.start {
                    self.progress.mark = Some(PlayedMark {
                        id: span.id,
                        played: span.offset + (self.played - span.start),
                        len: span.len,
                    });
                }
                break;
            }
        }
    }

    /// Carries out flush number `epoch`: drops everything queued and everything pulled but not
    /// played (the caller has already discarded it from its sink). Older epochs are ignored.
    pub fn flush(&mut self, epoch: u64) {
        if epoch <= self.progress.flushes {
            return;
        }
        self.queued.clear();
        self.pulled_spans.clear();
        self.pulled = self.played;
        self.progress.flushes = epoch;
    }

    /// The flushes carried out so far.
    pub fn flushes(&self) -> u64 {
        self.progress.flushes
    }

    /// Where playback stands.
    pub fn progress(&self) -> PlaybackProgress {
        self.progress
    }

    /// Samples queued and not yet pulled.
    pub fn queued_samples(&self) -> usize {
        self.queued.iter().map(|q| q.samples.len() - q.next).sum()
    }

    /// Whether nothing waits to be pulled or played.
    pub fn is_idle(&self) -> bool {
        self.pulled_spans.is_empty()
            && self
                .queued
                .iter()
                .all(|q| q.reached && q.next == q.samples.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(turn: u64, chunk: u32) -> ChunkId {
        ChunkId {
            turn: TurnId(turn),
            chunk,
        }
    }

    #[test]
    fn progress_names_the_chunk_and_offset_played() {
        let mut q = PlaybackQueue::new();
        q.push(id(1, 0), vec![0.5; 300]);
        q.push(id(1, 1), vec![0.5; 500]);
        let mut frame = [0.0; 320];
        assert_eq!(q.pull_played(&mut frame), 320);
        let mark = q.progress().mark.unwrap();
        assert_eq!((mark.id, mark.played, mark.len), (id(1, 1), 20, 500));
        assert!(mark.covers(id(1, 0)) && !mark.covers(id(1, 1)));
        q.pull_played(&mut frame);
        q.pull_played(&mut frame);
        assert!(q.progress().mark.unwrap().is_complete());
        assert!(q.is_idle());
        assert_eq!(q.pull_played(&mut frame), 0);
        assert!(frame.iter().all(|&s| s == 0.0));
    }

    #[test]
    fn a_delayed_sink_reports_only_what_it_played_and_a_flush_rewinds() {
        let mut q = PlaybackQueue::new();
        q.push(id(1, 0), vec![0.5; 1000]);
        let mut ring = [0.0; 800];
        q.pull(&mut ring); // 800 in the device's ring
        q.confirm(100);
        assert_eq!(q.progress().mark.unwrap().played, 100);
        q.flush(1); // the device dropped the other 700
        assert_eq!(q.pulled_total(), 100);
        assert_eq!(q.progress().flushes, 1);
        assert_eq!(q.progress().mark.unwrap().played, 100);
        q.push(id(2, 0), vec![0.5; 10]);
        q.pull(&mut ring);
        q.confirm(110);
        let mark = q.progress().mark.unwrap();
        assert_eq!((mark.id, mark.played), (id(2, 0), 10));
    }

    #[test]
    fn empty_chunks_count_as_played_when_reached() {
        let mut q = PlaybackQueue::new();
        q.push(id(1, 0), vec![0.5; 10]);
        q.push(id(1, 1), Vec::new());
        let mut frame = [0.0; 320];
        q.pull_played(&mut frame);
        assert!(q.progress().mark.unwrap().covers(id(1, 1)));
    }
}
