//! A session's engine workers: one thread per engine (transcription, turn-end scoring, the
//! language model, the voice), each answering its jobs with [`EngineResult`]s on one channel.
//! The voice activity model has a thread of its own too (`vad_worker`), handed back beside them:
//! the session feeds it every frame and waits on it for the scores, not on a job queue.

use std::time::Instant;

use duplex_core::cancel::CancelToken;
use duplex_core::playback::ChunkId;
use tokio::sync::mpsc;

use super::engine_result::EngineResult;
use super::engines::{EngineError, Engines, Speak, Transcribe};
use super::llm_exchange::{LlmJob, spawn_llm_worker};
use super::vad_worker::VadWorker;
use super::workers::{RoomWait, Worker};
use crate::agent::{Input, RequestId, TurnId};
use crate::turn::TurnScorer;

/// A transcription job: the request it answers, 16 kHz speech, and its cancel token.
pub(super) type AsrJob = (RequestId, Vec<f32>, CancelToken);

/// A turn-end scoring job: the request it answers and the user's recent audio.
pub(super) type TurnJob = (RequestId, Vec<f32>);

/// A synthesis job.
pub(super) enum TtsJob {
    /// A reply chunk: its turn and index, its text, the reply's pace (length factor) and the
    /// turn's cancel token.
    Chunk(TurnId, u32, String, f32, CancelToken),
    /// A backchannel's words (synthesized once, then kept by the session).
    Backchannel(String),
}

/// The engine workers of one session.
pub(super) struct Workers {
    pub(super) asr: Worker<AsrJob>,
    pub(super) turn: Worker<TurnJob>,
    pub(super) llm: Worker<LlmJob>,
    pub(super) tts: Worker<TtsJob>,
}

impl Workers {
    /// Starts a worker per engine; results go to `tx`. The VAD's thread answers the session on
    /// its own channel, frame by frame, so it is handed back beside the others.
    pub(super) fn spawn(engines: Engines, tx: mpsc::Sender<EngineResult>) -> (Self, VadWorker) {
        let Engines {
            vad,
            asr,
            turn,
            llm,
            tts,
        } = engines;
        let workers = Self {
            asr: spawn_asr_worker(asr, tx.clone()),
            turn: spawn_turn_worker(turn, tx.clone()),
            llm: spawn_llm_worker(llm, tx.clone()),
            tts: spawn_tts_worker(tts, tx),
        };
        (workers, VadWorker::spawn(vad))
    }

    /// Moves waiting jobs on; false when a worker is gone.
    pub(super) fn pump(&mut self) -> bool {
        self.asr.jobs.pump()
            && self.turn.jobs.pump()
            && self.llm.jobs.pump()
            && self.tts.jobs.pump()
    }

    /// Waits for room in each worker queue that has jobs waiting for it.
    pub(super) fn rooms(&self, into: &mut Vec<RoomWait>) {
        into.extend(
            [
                self.asr.jobs.room(),
                self.turn.jobs.room(),
                self.llm.jobs.room(),
                self.tts.jobs.room(),
            ]
            .into_iter()
            .flatten(),
        );
    }

    /// Stops every worker and joins its thread (each drops its engine as it ends).
    pub(super) async fn close(self) {
        let threads: Vec<_> = [
            self.asr.close(),
            self.turn.close(),
            self.llm.close(),
            self.tts.close(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                if thread.join().is_err() {
                    tracing::error!("an engine worker panicked");
                }
            }
        });
        if joined.await.is_err() {
            tracing::error!("could not join the engine workers");
        }
    }
}

/// Transcription; the Whisper state is made on the worker's own thread before the first job.
fn spawn_asr_worker(
    mut asr: Box<dyn Transcribe>,
    results: mpsc::Sender<EngineResult>,
) -> Worker<AsrJob> {
    Worker::spawn_with("asr", move || {
        if let Err(e) = asr.prepare() {
            tracing::warn!("{e}; the first transcription tries again");
        }
        move |(request, audio, cancel): AsrJob| {
            let t = Instant::now();
            let (text, error) = match asr.transcribe(&audio, &cancel) {
                Ok(text) => (text, None),
                Err(e) => (String::new(), Some(e)),
            };
            let input = Input::Transcript { request, text };
            let _ = results.blocking_send(EngineResult::done("asr", None, t, input, error));
        }
    })
}

/// Turn-end scoring; a failed score counts as "not complete" (0).
fn spawn_turn_worker(
    mut turn: Box<dyn TurnScorer + Send>,
    results: mpsc::Sender<EngineResult>,
) -> Worker<TurnJob> {
    Worker::spawn("turn", move |(request, audio): TurnJob| {
        let t = Instant::now();
        let (probability, error) = match turn.score(&audio) {
            Ok(p) => (p, None),
            Err(e) => (0.0, Some(EngineError::transient("turn", e))),
        };
        let input = Input::TurnScore {
            request,
            probability,
        };
        let _ = results.blocking_send(EngineResult::done("turn", None, t, input, error));
    })
}

/// The voice: reply chunks at the reply's pace (their speech goes back beside the agent's input,
/// which says only that it is ready), and backchannels at the voice's own pace.
fn spawn_tts_worker(
    mut tts: Box<dyn Speak>,
    results: mpsc::Sender<EngineResult>,
) -> Worker<TtsJob> {
    Worker::spawn("tts", move |job: TtsJob| match job {
        TtsJob::Chunk(turn, chunk, text, pace, cancel) => {
            let t = Instant::now();
            let rate = tts.rate();
            tts.set_pace(pace);
            let (samples, error) = match tts.speak(&text, &cancel) {
                Ok(s) => (s, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            let input = Input::Synthesized { turn, chunk };
            let mut done = EngineResult::done("tts", Some(turn), t, input, error);
            done.speech = Some((ChunkId { turn, chunk }, rate, samples));
            let _ = results.blocking_send(done);
        }
        TtsJob::Backchannel(text) => {
            tts.set_pace(1.0);
            let (samples, error) = match tts.speak(&text, &CancelToken::new()) {
                Ok(s) => (s, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            let _ = results.blocking_send(EngineResult {
                input: None,
                backchannel: Some((text, tts.rate(), samples)),
                speech: None,
                cost: None,
                error,
                job_done: true,
            });
        }
    })
}
