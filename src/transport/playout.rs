//! The transport side of the playback contract (see `duplex_core::playback`), one implementation
//! for the file, desktop and WebRTC transports: takes the session's reply chunks, resamples each
//! reply once from the voice's rate to the transport's with one streaming converter (no seam at
//! chunk joins), carries out flushes, pauses and resumes as soon as their epoch is raised (they
//! never wait behind queued audio), and publishes progress per `(turn, chunk)` in a watch that
//! cannot fill up.

use std::sync::Arc;

use duplex_core::agent::TurnId;
use duplex_core::playback::{ChunkId, PlaybackProgress, PlaybackQueue, is_pause};
use tokio::sync::{mpsc, watch};

use crate::audio::AudioError;
use crate::audio::stream::StreamResampler;
use crate::runtime::{PlayChunk, PlaybackControl, TransportOut};

/// What the session asked for since the last look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Nothing new needs the sink's attention.
    Idle,
    /// A flush or a pause: the sink must drop what it holds (pulled and not yet played), then
    /// call [`ReplyPlayout::complete_discard`].
    Discard,
    /// The session has ended.
    Closed,
}

/// What the sink is dropping its audio for.
#[derive(Debug, Clone, Copy)]
enum Discard {
    Flush(u64),
    Pause(u64),
}

/// The voice stream of the reply being queued.
struct ReplyStream {
    last: ChunkId,
    from: u32,
    resampler: StreamResampler,
}

/// Reply audio on its way to a sink at `rate`, with the progress reports.
pub struct ReplyPlayout {
    rate: u32,
    queue: PlaybackQueue,
    stream: Option<ReplyStream>,
    commands: mpsc::Receiver<TransportOut>,
    control: Arc<PlaybackControl>,
    progress: watch::Sender<PlaybackProgress>,
    /// A flush or pause being carried out by the sink.
    discarding: Option<Discard>,
    /// A chunk that arrived under a flush not yet carried out; queued after it.
    held: Option<PlayChunk>,
    resample_failures: u64,
    /// A backchannel being mixed in (at the sink's rate) and how much of it has played.
    backchannel: Option<(Vec<f32>, usize)>,
    /// Backchannel stops carried out.
    backchannel_stops: u64,
    /// The reply whose queued speech ran out, and the silent samples pulled since: a stall if
    /// more of that reply comes.
    dry: Option<(TurnId, u64)>,
    /// Stalls inside replies so far, in silent samples at the sink's rate, not yet taken.
    stalls: Vec<u64>,
}

/// The session's ends that a [`ReplyPlayout`] reads and reports to.
pub struct PlayoutEnds {
    /// Reply chunks from the session.
    pub commands: mpsc::Receiver<TransportOut>,
    /// The flush and hold epochs the session has raised.
    pub control: Arc<PlaybackControl>,
    /// Where progress goes.
    pub progress: watch::Sender<PlaybackProgress>,
}

impl ReplyPlayout {
    /// A playout for a sink at `rate` Hz.
    pub fn new(rate: u32, ends: PlayoutEnds) -> Self {
        Self {
            rate,
            queue: PlaybackQueue::new(),
            stream: None,
            commands: ends.commands,
            control: ends.control,
            progress: ends.progress,
            discarding: None,
            held: None,
            resample_failures: 0,
            backchannel: None,
            backchannel_stops: 0,
            dry: None,
            stalls: Vec::new(),
        }
    }

    /// The listener hears what this playout sends `lag` later (a network and the far end's
    /// jitter buffer): a pause rewinds by that much more, so nothing they did not hear is lost.
    pub fn set_listener_lag(&mut self, lag: std::time::Duration) {
        let samples = lag.as_secs_f64() * f64::from(self.rate);
        self.queue.set_listener_lag(samples as usize);
    }

    /// The sink's rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Takes the session's new chunks, stopping at a flush or pause the sink must carry out
    /// first (a resume needs nothing of the sink).
    pub fn take_commands(&mut self) -> Command {
        if self.discarding.is_some() {
            return Command::Discard;
        }
        let (flush, hold) = self.control.latest();
        if flush > self.queue.flushes() {
            return self.start_flush(flush);
        }
        if hold > self.queue.holds() {
            // Silence asked for is no stall.
            self.dry = None;
            if is_pause(hold) {
                self.discarding = Some(Discard::Pause(hold));
                return Command::Discard;
            }
            self.queue.hold(hold, self.rate);
        }
        if let Some(chunk) = self.held.take() {
            self.queue_chunk(chunk);
        }
        loop {
            match self.commands.try_recv() {
                Ok(TransportOut::Play(chunk)) => {
                    if chunk.epoch < self.queue.flushes() {
                        continue; // sent before a flush already carried out
                    }
                    if chunk.epoch > self.queue.flushes() {
                        let epoch = chunk.epoch.max(self.control.latest().0);
                        self.held = Some(chunk);
                        return self.start_flush(epoch);
                    }
                    self.queue_chunk(chunk);
                }
                Ok(TransportOut::Backchannel { rate, samples }) => {
                    match crate::audio::resample::resample(&samples, rate, self.rate) {
                        Ok(sound) => self.backchannel = Some((sound, 0)),
                        Err(e) => tracing::warn!("backchannel not played: {e}"),
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return Command::Idle,
                Err(mpsc::error::TryRecvError::Disconnected) => return Command::Closed,
            }
        }
    }

    fn start_flush(&mut self, epoch: u64) -> Command {
        self.discarding = Some(Discard::Flush(epoch));
        self.stream = None;
        self.dry = None;
        Command::Discard
    }

    /// The sink has dropped what it held for the flush or pause and played `played_total`
    /// samples in all (cumulative, as counted by [`pulled_total`](Self::pulled_total)).
    pub fn complete_discard(&mut self, played_total: u64) {
        let Some(discard) = self.discarding.take() else {
            return;
        };
        self.queue.confirm(played_total);
        match discard {
            Discard::Flush(epoch) => self.queue.flush(epoch),
            Discard::Pause(epoch) => self.queue.hold(epoch, self.rate),
        }
        self.report();
    }

    /// For a sink that plays what it pulls at once: takes the session's chunks (carrying out
    /// flushes on the spot), fills `out` with the next period (silence where nothing is queued)
    /// and reports progress. Returns `None` once the session has ended, else the speech samples.
    pub fn next_period(&mut self, out: &mut [f32]) -> Option<usize> {
        loop {
            match self.take_commands() {
                Command::Idle => break,
                Command::Discard => self.complete_discard(self.queue.pulled_total()),
                Command::Closed => {
                    // Nothing will resume a paused reply now: it plays out.
                    if self.queue.is_paused() {
                        self.queue.hold(self.queue.holds() + 1, self.rate);
                    }
                    self.finish_if_dry(out.len());
                    let n = self.queue.pull_played(out);
                    self.report();
                    return (n > 0 || !self.queue.is_idle()).then_some(n);
                }
            }
        }
        let n = self.pull(out);
        self.confirm(self.queue.pulled_total());
        Some(n)
    }

    /// Moves up to `out.len()` queued samples into `out` (silence after them); the caller
    /// confirms when they are played. Returns the samples of speech.
    pub fn pull(&mut self, out: &mut [f32]) -> usize {
        let n = self.pull_speech(out);
        let backchannel = self.next_backchannel(out.len());
        for (o, s) in out.iter_mut().zip(backchannel) {
            *o = (*o + s).clamp(-1.0, 1.0);
        }
        n
    }

    /// Like [`pull`](Self::pull), without the backchannel, for a sink that mixes it in itself
    /// (see [`pull_backchannel`](Self::pull_backchannel)).
    pub fn pull_speech(&mut self, out: &mut [f32]) -> usize {
        self.finish_if_dry(out.len());
        let n = self.queue.pull(out);
        if let Some((_, silent)) = self.dry.as_mut() {
            *silent += (out.len() - n) as u64;
        }
        n
    }

    /// The silences inside replies since the last call, in seconds: where a reply's queued
    /// speech ran out before its next chunk came (the listener hears a stall; pauses that are
    /// part of the voice's own audio, at punctuation, are not counted).
    pub fn take_stalls(&mut self) -> Vec<f64> {
        let rate = f64::from(self.rate.max(1));
        self.stalls
            .drain(..)
            .map(|samples| samples as f64 / rate)
            .collect()
    }

    /// Backchannel stops the session has asked for so far (a sink that queues a backchannel
    /// ahead drops what it queued when this grows).
    pub fn backchannel_stops(&self) -> u64 {
        self.control.backchannel_stops()
    }

    /// Copies up to `out.len()` samples of the backchannel being played into `out`; returns how
    /// many (0: none is playing, or it was stopped). They are not reply speech: the count of
    /// speech samples and the progress reports leave them out.
    pub fn pull_backchannel(&mut self, out: &mut [f32]) -> usize {
        let sound = self.next_backchannel(out.len());
        out[..sound.len()].copy_from_slice(sound);
        sound.len()
    }

    /// The backchannel's next samples, at most `max` (none once it was stopped or has played).
    fn next_backchannel(&mut self, max: usize) -> &[f32] {
        let stops = self.control.backchannel_stops();
        let played_out = self
            .backchannel
            .as_ref()
            .is_some_and(|(sound, played)| *played >= sound.len());
        if stops > self.backchannel_stops || played_out {
            self.backchannel_stops = stops;
            self.backchannel = None;
        }
        let Some((sound, played)) = self.backchannel.as_mut() else {
            return &[];
        };
        let from = *played;
        *played = (from + max).min(sound.len());
        &sound[from..*played]
    }

    /// Records that the sink has played `played_total` pulled samples in all, and reports.
    pub fn confirm(&mut self, played_total: u64) {
        self.queue.confirm(played_total);
        self.report();
    }

    /// How far playback has got: the chunk being played and how much of it.
    pub fn progress(&self) -> PlaybackProgress {
        self.queue.progress()
    }

    /// Samples pulled so far.
    pub fn pulled_total(&self) -> u64 {
        self.queue.pulled_total()
    }

    /// Samples queued and not yet pulled.
    pub fn queued_samples(&self) -> usize {
        self.queue.queued_samples()
    }

    /// Whether nothing waits to be pulled or played (a reply's converter tail included).
    pub fn is_idle(&self) -> bool {
        self.queue.is_idle() && self.held.is_none() && self.stream.is_none()
    }

    /// Flushes carried out.
    pub fn flushes(&self) -> u64 {
        self.queue.flushes()
    }

    /// Chunks that could not be resampled (their audio was dropped).
    pub fn resample_failures(&self) -> u64 {
        self.resample_failures
    }

    fn report(&self) {
        let now = self.queue.progress();
        self.progress.send_if_modified(|p| {
            let changed = *p != now;
            *p = now;
            changed
        });
    }

    /// Queues a chunk at the sink's rate, through the reply's one converter.
    fn queue_chunk(&mut self, chunk: PlayChunk) {
        let id = chunk.id;
        if let Some((turn, silent)) = self.dry.take()
            && turn == id.turn
            && silent > 0
        {
            self.stalls.push(silent);
        }
        let same_reply = self
            .stream
            .as_ref()
            .is_some_and(|s| s.last.turn == id.turn && s.from == chunk.rate);
        if !same_reply {
            self.finish_stream();
            match StreamResampler::new(chunk.rate, self.rate) {
                Ok(resampler) => {
                    self.stream = Some(ReplyStream {
                        last: id,
                        from: chunk.rate,
                        resampler,
                    })
                }
                Err(e) => {
                    self.fail(id, e);
                    return;
                }
            }
        }
        let expected = chunk.samples.len() * self.rate as usize / chunk.rate.max(1) as usize;
        let mut out = Vec::with_capacity(expected + 1);
        if let Some(stream) = self.stream.as_mut() {
            stream.last = id;
            stream.resampler.process(&chunk.samples, &mut out);
        }
        self.queue.push(id, out);
    }

    fn fail(&mut self, id: ChunkId, e: AudioError) {
        self.resample_failures += 1;
        tracing::warn!("reply audio of turn {} dropped: {e}", id.turn.0);
        self.queue.push(id, Vec::new());
    }

    /// When the queue is about to run dry (a period or less left), the reply's converter gives
    /// up its last samples, which would otherwise wait for a chunk that may never come. Sinks
    /// pull one period at a time, so this happens only at the real end of queued speech.
    fn finish_if_dry(&mut self, period: usize) {
        if self.queue.queued_samples() <= period {
            if let Some(stream) = &self.stream {
                self.dry = Some((stream.last.turn, 0));
            }
            self.finish_stream();
        }
    }

    fn finish_stream(&mut self) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let mut tail = Vec::new();
        stream.resampler.finish(&mut tail);
        if !tail.is_empty() {
            self.queue.extend_last(stream.last, &tail);
        }
    }
}
