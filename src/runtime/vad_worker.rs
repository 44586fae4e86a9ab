//! The voice activity model on a thread of its own, so that the session's loop (on the tokio
//! workers, beside the transports' 20 ms pacers) never runs it. The session sends each
//! microphone frame here; the thread cuts the stream into the model's 32 ms chunks, scores every
//! chunk the frame completed and sends the frame back with those scores, in the order the frames
//! came. The session hands the agent the frame and then its scores only when they come back, so
//! the agent sees the same inputs, in the same order and at the same sample clock, as if the
//! model ran inline: only later in wall time, by the model's cost.
//!
//! Both channels are bounded. While the frame channel is full the session takes no more input
//! (the transport's own queue fills behind it, see `TRANSPORT_IN_CAPACITY`); the thread waits on
//! a full score channel, which the session always drains.

use std::thread::JoinHandle;

use tokio::sync::mpsc;

use super::workers::RoomWait;
use crate::audio::frames::Rechunker;
use crate::vad::{SpeechProbability, VAD_CHUNK, VadError};

/// The voice activity model a session runs.
pub(super) type Vad = Box<dyn SpeechProbability + Send>;

/// Frames from the session to the VAD thread: 16 × 20 ms = 320 ms of audio the model may lag
/// behind. When full, the session takes no input until there is room.
pub(super) const VAD_FRAME_CAPACITY: usize = 16;

/// Scored frames from the VAD thread back to the session. When full, the thread waits; the
/// session drains this in every turn of its loop.
pub(super) const VAD_SCORED_CAPACITY: usize = 16;

/// One frame back from the VAD thread: the frame, and the score of each chunk it completed
/// (the chunk's first sample in the stream, and its speech probability or the model's error).
pub(super) struct ScoredFrame {
    pub(super) frame: Vec<f32>,
    pub(super) chunks: Vec<(u64, Result<f32, VadError>)>,
}

/// The session's ends of its VAD thread.
pub(super) struct VadWorker {
    /// None once the input has ended (the thread then scores what it has, and ends).
    frames: Option<mpsc::Sender<Vec<f32>>>,
    scored: mpsc::Receiver<ScoredFrame>,
    thread: Option<JoinHandle<()>>,
}

impl VadWorker {
    /// Starts the thread that owns `vad`.
    pub(super) fn spawn(mut vad: Vad) -> Self {
        let (frames_tx, mut frames) = mpsc::channel::<Vec<f32>>(VAD_FRAME_CAPACITY);
        let (scored_tx, scored) = mpsc::channel::<ScoredFrame>(VAD_SCORED_CAPACITY);
        let spawned = std::thread::Builder::new()
            .name("duplex-vad".to_owned())
            .spawn(move || {
                let mut rechunker = Rechunker::<VAD_CHUNK>::default();
                while let Some(frame) = frames.blocking_recv() {
                    let mut chunks = Vec::new();
                    rechunker.push(&frame, |start, chunk| {
                        chunks.push((start, vad.probability(chunk)));
                    });
                    if scored_tx
                        .blocking_send(ScoredFrame { frame, chunks })
                        .is_err()
                    {
                        break; // the session is ending and takes no more
                    }
                }
                tracing::debug!(worker = "vad", "worker ended: its session closed it");
            });
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(e) => {
                tracing::error!(worker = "vad", "cannot start worker thread: {e}");
                None
            }
        };
        Self {
            frames: Some(frames_tx),
            scored,
            thread,
        }
    }

    /// Whether the session may take a frame from its input now: the input has not ended and
    /// the frame channel has room (only the session sends on it, so the room stays).
    pub(super) fn takes_frames(&self) -> bool {
        self.frames.as_ref().is_some_and(|tx| tx.capacity() > 0)
    }

    /// When the frame channel is full: a future that completes once it has room (or closes).
    pub(super) fn room(&self) -> Option<RoomWait> {
        let tx = self
            .frames
            .as_ref()
            .filter(|tx| tx.capacity() == 0)?
            .clone();
        // The permit is let go at once: the slot it held is what the next frame fills.
        Some(Box::pin(async move {
            let _ = tx.reserve_owned().await;
        }))
    }

    /// Sends a frame to be scored; false when the thread is gone (or the input has ended).
    /// Call only when [`Self::takes_frames`] says so: then the channel has room.
    pub(super) fn send(&mut self, frame: Vec<f32>) -> bool {
        self.frames
            .as_ref()
            .is_some_and(|tx| tx.try_send(frame).is_ok())
    }

    /// The input has ended: the thread scores the frames it has and ends, after which
    /// [`Self::next`] returns None.
    pub(super) fn end_input(&mut self) {
        self.frames = None;
    }

    /// The next scored frame, in the order sent; None once the input has ended and every frame
    /// sent came back, or when the thread is gone.
    pub(super) async fn next(&mut self) -> Option<ScoredFrame> {
        self.scored.recv().await
    }

    /// Stops the thread (frames not yet scored are dropped) and joins it; the model is dropped
    /// when it ends.
    pub(super) async fn close(self) {
        let Self {
            frames,
            scored,
            thread,
        } = self;
        drop(frames);
        // A thread waiting on a full score channel gets an error and stops.
        drop(scored);
        let Some(thread) = thread else { return };
        let joined = tokio::task::spawn_blocking(move || {
            if thread.join().is_err() {
                tracing::error!("the VAD worker panicked");
            }
        });
        if joined.await.is_err() {
            tracing::error!("could not join the VAD worker");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{FRAME_SAMPLES, load_pipeline_audio};
    use crate::config::Config;
    use crate::fixtures::fixture_path;
    use crate::vad::SileroVad;

    fn silero() -> SileroVad {
        SileroVad::load(&Config::default().models).expect("VAD loads")
    }

    /// Every frame comes back once, in order, with the scores the model gives when run inline
    /// over the same stream; after the input ends, the frames still with the thread come back
    /// before the end.
    #[tokio::test]
    async fn frames_come_back_in_order_with_the_inline_scores_and_none_is_lost_at_the_end() {
        let audio = load_pipeline_audio(&fixture_path("001.wav")).expect("fixture");
        let frames: Vec<Vec<f32>> = audio
            .chunks_exact(FRAME_SAMPLES)
            .map(<[f32]>::to_vec)
            .collect();
        let mut inline = silero();
        let mut rechunker = Rechunker::<VAD_CHUNK>::default();
        let mut expected = Vec::new();
        for frame in &frames {
            let mut chunks = Vec::new();
            rechunker.push(frame, |start, chunk| {
                chunks.push((start, inline.probability(chunk).expect("scores")));
            });
            expected.push(chunks);
        }

        let mut worker = VadWorker::spawn(Box::new(silero()));
        let mut back = Vec::new();
        let mut sent = 0;
        while sent < frames.len() {
            if worker.takes_frames() {
                assert!(worker.send(frames[sent].clone()));
                sent += 1;
            } else {
                assert!(
                    worker.room().is_some(),
                    "a full channel offers a wait for room"
                );
                back.push(worker.next().await.expect("a scored frame"));
            }
        }
        worker.end_input();
        assert!(!worker.takes_frames() && worker.room().is_none());
        while let Some(scored) = worker.next().await {
            back.push(scored);
        }
        worker.close().await;

        assert_eq!(back.len(), frames.len());
        for ((scored, frame), chunks) in back.iter().zip(&frames).zip(&expected) {
            assert_eq!(&scored.frame, frame);
            let got: Vec<(u64, f32)> = scored
                .chunks
                .iter()
                .map(|(start, p)| (*start, *p.as_ref().expect("scores")))
                .collect();
            assert_eq!(&got, chunks);
        }
    }

    /// Closing with frames still queued and a score nobody takes stops and joins the thread.
    #[tokio::test]
    async fn closing_mid_stream_joins_the_thread() {
        let mut worker = VadWorker::spawn(Box::new(silero()));
        let frame = vec![0.0; FRAME_SAMPLES];
        while worker.takes_frames() {
            assert!(worker.send(frame.clone()));
        }
        worker.close().await;
    }
}
