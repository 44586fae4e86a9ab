//! What an engine worker sends back to its session: the agent's input it answers with, and
//! beside it what the session keeps for itself (speech, the job's cost, a failure).

use std::time::Instant;

use duplex_core::playback::ChunkId;

use super::engines::EngineError;
use crate::agent::{Input, TurnId};

/// A result coming back from a worker.
pub(super) struct EngineResult {
    /// The answer for the agent, if any.
    pub(super) input: Option<Input>,
    /// A backchannel's speech: its words, rate and samples.
    pub(super) backchannel: Option<(String, u32, Vec<f32>)>,
    /// A reply chunk's speech: its id, rate and samples (the agent learns only that it is ready).
    pub(super) speech: Option<(ChunkId, u32, Vec<f32>)>,
    /// The stage, the turn it served and its wall-clock cost in milliseconds.
    pub(super) cost: Option<(&'static str, Option<TurnId>, f64)>,
    /// What went wrong, or what the user should be told about the engine.
    pub(super) error: Option<EngineError>,
    /// Whether this ends a job (token results do not).
    pub(super) job_done: bool,
}

impl EngineResult {
    /// The result that ends a job of `stage` begun at `started`.
    pub(super) fn done(
        stage: &'static str,
        turn: Option<TurnId>,
        started: Instant,
        input: Input,
        error: Option<EngineError>,
    ) -> Self {
        Self {
            input: Some(input),
            cost: Some((stage, turn, millis(started))),
            error,
            job_done: true,
            ..Self::empty()
        }
    }

    /// A piece of a job that goes on (a token), with the job's cost so far if it is the first.
    pub(super) fn partial(input: Input, cost: Option<(&'static str, Option<TurnId>, f64)>) -> Self {
        Self {
            input: Some(input),
            cost,
            ..Self::empty()
        }
    }

    /// Something to tell the user about an engine, in the middle of a job.
    pub(super) fn notice(notice: EngineError) -> Self {
        Self {
            error: Some(notice),
            ..Self::empty()
        }
    }

    fn empty() -> Self {
        Self {
            input: None,
            backchannel: None,
            speech: None,
            cost: None,
            error: None,
            job_done: false,
        }
    }
}

/// Milliseconds since `since`.
pub(super) fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
