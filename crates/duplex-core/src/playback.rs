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
//! A hold is numbered too (odd: pause, even: resume). A pause stops playback within one period
//! (the sink drops what it pulled ahead, as for a flush) but keeps the reply, rewound to the start
//! of the word it cut; a resume plays on from there. This is the first stage of a barge-in: the
//! agent pauses at the first sound of the user, then resumes (a cough, "mm-hm") or flushes.
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

/// Whether hold number `epoch` pauses playback (odd) rather than resuming it (even; 0 is the
/// state before any hold).
pub fn is_pause(epoch: u64) -> bool {
    epoch % 2 == 1
}

/// A chunk queued for playback; kept until it has been played, so that a pause can rewind.
#[derive(Debug)]
struct Queued {
    id: ChunkId,
    samples: Vec<f32>,
    /// The next sample to pull.
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

/// How far back a pause may rewind to find the start of the word it cut, in seconds.
const REWIND_MAX_S: f64 = 0.35;
/// A stretch this much quieter than the loudest of the search window counts as a gap between
/// words (-20 dB in power).
const GAP_POWER_RATIO: f32 = 0.01;

/// Reply audio between the session and a sink, with the bookkeeping of what was played.
#[derive(Debug, Default)]
pub struct PlaybackQueue {
    queued: VecDeque<Queued>,
    /// Index in `queued` of the chunk being pulled.
    cursor: usize,
    pulled_spans: VecDeque<Span>,
    pulled: u64,
    played: u64,
    progress: PlaybackProgress,
    /// The last hold epoch acted on (odd: paused).
    holds: u64,
    /// How far the listener is behind what this queue counts as played (a network and the
    /// far end's jitter buffer), in samples: a pause rewinds by this much more.
    listener_lag: usize,
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
    /// While paused it gives silence only. The chunk pulled last stays current (fully pulled)
    /// until another follows it, so that [`extend_last`](Self::extend_last) can still add to it.
    pub fn pull(&mut self, out: &mut [f32]) -> usize {
        let mut filled = 0;
        while !self.is_paused() && self.cursor < self.queued.len() {
            let last = self.cursor + 1 == self.queued.len();
            let chunk = &mut self.queued[self.cursor];
            let left = chunk.samples.len() - chunk.next;
            let n = left.min(out.len() - filled);
            if n > 0 || !chunk.reached {
                chunk.reached = true;
                self.pulled_spans.push_back(Span {
                    id: chunk.id,
                    start: self.pulled,
                    end: self.pulled + n as u64,
                    offset: chunk.next as u64,
                    len: chunk.samples.len() as u64,
                });
            }
            out[filled..filled + n].copy_from_slice(&chunk.samples[chunk.next..chunk.next + n]);
            self.pulled += n as u64;
            chunk.next += n;
            filled += n;
            if chunk.next < chunk.samples.len() || last {
                break;
            }
            self.cursor += 1;
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
        self.drop_played();
    }

    /// Forgets chunks before the current one that have been played to their end.
    fn drop_played(&mut self) {
        while self.cursor > 0 {
            let front = &self.queued[0];
            let pending = self.pulled_spans.front().is_some_and(|s| s.id == front.id);
            if pending {
                return;
            }
            self.queued.pop_front();
            self.cursor -= 1;
        }
    }

    /// Carries out flush number `epoch`: drops everything queued and everything pulled but not
    /// played (the caller has already discarded it from its sink). Older epochs are ignored.
    pub fn flush(&mut self, epoch: u64) {
        if epoch <= self.progress.flushes {
            return;
        }
        self.queued.clear();
        self.cursor = 0;
        self.pulled_spans.clear();
        self.pulled = self.played;
        self.progress.flushes = epoch;
    }

    /// Carries out hold number `epoch` (odd: pause, even: resume; older ones are ignored). A
    /// pause keeps everything queued but takes back what was pulled and not played (the caller
    /// has already discarded it from its sink), and rewinds to the start of the word it cut:
    /// the last gap between words within [`REWIND_MAX_S`] of where playback stopped (for the
    /// listener: see [`set_listener_lag`](Self::set_listener_lag)), found in the audio at `rate`
    /// Hz. A resume plays on from there.
    pub fn hold(&mut self, epoch: u64, rate: u32) {
        if epoch <= self.holds {
            return;
        }
        let was_paused = self.is_paused();
        self.holds = epoch;
        if self.is_paused() && !was_paused {
            self.rewind(rate);
        }
    }

    /// Sets how far the listener is behind the sink, in samples (see [`hold`](Self::hold)).
    pub fn set_listener_lag(&mut self, samples: usize) {
        self.listener_lag = samples;
    }

    /// Whether playback is paused.
    pub fn is_paused(&self) -> bool {
        is_pause(self.holds)
    }

    /// The hold epoch carried out last.
    pub fn holds(&self) -> u64 {
        self.holds
    }

    fn rewind(&mut self, rate: u32) {
        // Where playback really stopped: in the first span not wholly played, else at the
        // current chunk's pull position (everything pulled was played).
        let stop = match self.pulled_spans.front() {
            Some(span) => Some((
                span.id,
                span.offset + self.played.saturating_sub(span.start),
            )),
            None => self.queued.get(self.cursor).map(|c| (c.id, c.next as u64)),
        };
        self.pulled_spans.clear();
        self.pulled = self.played;
        let Some((id, at)) = stop else {
            return;
        };
        let Some(index) = self.queued.iter().position(|c| c.id == id) else {
            return;
        };
        let chunk = &mut self.queued[index];
        let at = (at as usize)
            .min(chunk.samples.len())
            .saturating_sub(self.listener_lag);
        let back = (f64::from(rate) * REWIND_MAX_S) as usize;
        chunk.next = word_start(&chunk.samples, at, back, (rate / 100).max(1) as usize);
        chunk.reached = chunk.next > 0;
        for later in self.queued.iter_mut().skip(index + 1) {
            later.next = 0;
            later.reached = false;
        }
        self.cursor = index;
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
        self.queued
            .iter()
            .skip(self.cursor)
            .map(|q| q.samples.len() - q.next)
            .sum()
    }

    /// Whether nothing waits to be pulled or played.
    pub fn is_idle(&self) -> bool {
        self.pulled_spans.is_empty()
            && self
                .queued
                .iter()
                .skip(self.cursor)
                .all(|q| q.reached && q.next == q.samples.len())
    }
}

/// The start of the word that position `at` of `samples` falls in: the latest gap between words
/// (a `window`-long stretch at least 20 dB below the loudest in the search range) no more than
/// `back` samples before `at`, else the quietest point there. The chunk's start counts as a gap.
fn word_start(samples: &[f32], at: usize, back: usize, window: usize) -> usize {
    let lo = at.saturating_sub(back);
    let power = |p: usize| {
        let (a, b) = (
            p.saturating_sub(window / 2),
            (p + window / 2).min(samples.len()),
        );
        if b <= a {
            0.0
        } else {
            samples[a..b].iter().map(|s| s * s).sum::<f32>() / (b - a) as f32
        }
    };
    let step = (window / 2).max(1);
    let points: Vec<(usize, f32)> = (0..)
        .map(|k| at.saturating_sub(k * step))
        .take_while(|&p| p > lo)
        .chain(std::iter::once(lo))
        .map(|p| (p, if p == 0 { 0.0 } else { power(p) }))
        .collect();
    let loudest = points.iter().map(|&(_, e)| e).fold(0.0, f32::max);
    let gap = points
        .iter()
        .find(|&&(_, e)| e <= loudest * GAP_POWER_RATIO);
    match gap {
        Some(&(p, _)) => p,
        None => {
            let quietest = points.iter().map(|&(_, e)| e).fold(f32::INFINITY, f32::min);
            points
                .iter()
                .find(|&&(_, e)| e == quietest)
                .map_or(at, |&(p, _)| p)
        }
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
    fn a_pause_takes_back_what_the_device_had_not_played_and_a_resume_plays_it() {
        let mut q = PlaybackQueue::new();
        let speech: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.3).sin()).collect();
        q.push(id(1, 0), speech.clone());
        q.push(id(1, 1), vec![0.5; 400]);
        let mut ring = vec![0.0; 600];
        q.pull(&mut ring);
        q.confirm(500); // the device played 500 of the 600 pulled
        q.hold(1, 16_000);
        assert!(q.is_paused());
        assert_eq!(q.pulled_total(), 500);
        assert_eq!(q.pull(&mut ring), 0, "silence while paused");
        assert!(ring.iter().all(|&s| s == 0.0) && !q.is_idle());
        q.hold(2, 16_000);
        // No gap between words in a steady tone: back to the quietest point within reach, the
        // chunk's start here (500 samples < 0.35 s).
        let mut all = vec![0.0; 2000];
        let n = q.pull_played(&mut all);
        assert_eq!(n, 1400);
        assert_eq!(&all[..1000], &speech[..]);
        assert!(q.progress().mark.unwrap().covers(id(1, 1)));
    }

    #[test]
    fn a_pause_rewinds_to_the_gap_before_the_word_it_cut() {
        // Two "words" of tone with 30 ms of silence between them, at 16 kHz.
        let tone = |n: usize| (0..n).map(|i| (i as f32 * 0.2).sin() * 0.5);
        let mut samples: Vec<f32> = tone(3200).collect();
        samples.extend(std::iter::repeat_n(0.0, 480));
        samples.extend(tone(3200));
        let mut q = PlaybackQueue::new();
        q.push(id(1, 0), samples);
        let mut frame = vec![0.0; 320];
        for _ in 0..15 {
            q.pull_played(&mut frame); // 4800 played: 1120 into the second word
        }
        q.hold(1, 16_000);
        q.hold(2, 16_000);
        q.pull_played(&mut frame);
        let mark = q.progress().mark.unwrap();
        // Resumed inside the gap (3200..3680), not where it stopped.
        let resumed_at = mark.played - 320;
        assert!((3200..3680).contains(&resumed_at), "{resumed_at}");
    }

    #[test]
    fn a_pause_rewinds_by_the_listeners_lag_too() {
        let tone: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.2).sin() * 0.5).collect();
        let mut q = PlaybackQueue::new();
        q.set_listener_lag(3200); // 200 ms at 16 kHz
        q.push(id(1, 0), tone);
        let mut frame = vec![0.0; 400];
        for _ in 0..30 {
            q.pull_played(&mut frame); // 12000 sent, 8800 heard
        }
        q.hold(1, 16_000);
        q.hold(2, 16_000);
        q.pull_played(&mut frame);
        // From where the listener was (8800), or a little before it (a quieter point of the
        // tone within reach), never from where the sink was (12000).
        let resumed_at = q.progress().mark.unwrap().played - 400;
        assert!((3200..=8800).contains(&resumed_at), "{resumed_at}");
    }

    #[test]
    fn a_flush_while_paused_drops_the_reply_and_the_next_plays_after_resume() {
        let mut q = PlaybackQueue::new();
        q.push(id(1, 0), vec![0.5; 1000]);
        let mut frame = vec![0.0; 320];
        q.pull_played(&mut frame);
        q.hold(1, 16_000);
        q.flush(1);
        q.hold(2, 16_000);
        q.push(id(2, 0), vec![0.5; 100]);
        assert_eq!(q.pull_played(&mut frame), 100);
        assert_eq!(q.progress().mark.unwrap().id, id(2, 0));
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
