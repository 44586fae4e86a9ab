//! Per-turn summaries of a recorded conversation: what was said and heard, and when each
//! milestone happened, in input-sample time and in wall-clock stage costs.

use serde::Serialize;

use crate::agent::{AgentEvent, TurnId};
use crate::audio::PIPELINE_RATE;
use crate::runtime::{SessionEvent, SessionEventKind};

/// One assistant turn, summarised.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TurnSummary {
    /// The turn.
    pub turn: u64,
    /// Where the user's speech ended, seconds into the input.
    pub user_speech_end_s: Option<f64>,
    /// When the end of turn was decided.
    pub end_of_turn_s: Option<f64>,
    /// What the user said.
    pub transcript: Option<String>,
    /// When the first token arrived.
    pub first_token_s: Option<f64>,
    /// When the first audio was sent to playback.
    pub first_audio_s: Option<f64>,
    /// The words the user heard.
    pub played_text: Option<String>,
    /// Whether the user interrupted the reply.
    pub interrupted: bool,
    /// Wall-clock cost per stage, in ms (asr and turn of the pause that ended the turn; LLM to
    /// first token; first TTS chunk).
    pub costs_ms: std::collections::BTreeMap<&'static str, f64>,
}

fn seconds(at: u64) -> f64 {
    at as f64 / f64::from(PIPELINE_RATE)
}

/// Groups a session's events by turn.
pub fn summarize(events: &[SessionEvent]) -> Vec<TurnSummary> {
    let mut turns: Vec<TurnSummary> = Vec::new();
    let mut last_asr = None;
    let mut last_turn_cost = None;
    let find = |turns: &mut Vec<TurnSummary>, turn: TurnId| -> usize {
        match turns.iter().position(|t| t.turn == turn.0) {
            Some(i) => i,
            None => {
                turns.push(TurnSummary {
                    turn: turn.0,
                    ..Default::default()
                });
                turns.len() - 1
            }
        }
    };
    for e in events {
        match &e.kind {
            SessionEventKind::Cost {
                stage: "asr",
                cost_ms,
                ..
            } => last_asr = Some(*cost_ms),
            SessionEventKind::Cost {
                stage: "turn",
                cost_ms,
                ..
            } => last_turn_cost = Some(*cost_ms),
            SessionEventKind::Cost {
                stage,
                turn: Some(turn),
                cost_ms,
            } => {
                let i = find(&mut turns, *turn);
                turns[i].costs_ms.entry(stage).or_insert(*cost_ms);
            }
            SessionEventKind::Agent(AgentEvent::EndOfTurn {
                turn,
                at,
                speech_end,
            }) => {
                let i = find(&mut turns, *turn);
                turns[i].end_of_turn_s = Some(seconds(*at));
                turns[i].user_speech_end_s = Some(seconds(*speech_end));
                if let Some(c) = last_asr {
                    turns[i].costs_ms.insert("asr", c);
                }
                if let Some(c) = last_turn_cost {
                    turns[i].costs_ms.insert("turn", c);
                }
            }
            SessionEventKind::Agent(AgentEvent::UserText { turn, text, .. }) => {
                let i = find(&mut turns, *turn);
                turns[i].transcript = Some(text.clone());
            }
            SessionEventKind::Agent(AgentEvent::FirstToken { turn, at }) => {
                let i = find(&mut turns, *turn);
                turns[i].first_token_s = Some(seconds(*at));
            }
            SessionEventKind::Agent(AgentEvent::FirstAudio { turn, at }) => {
                let i = find(&mut turns, *turn);
                turns[i].first_audio_s = Some(seconds(*at));
            }
            SessionEventKind::Agent(AgentEvent::AssistantText {
                turn,
                text,
                interrupted,
                ..
            }) => {
                let i = find(&mut turns, *turn);
                turns[i].played_text = Some(text.clone());
                turns[i].interrupted = *interrupted;
            }
            // A reply prepared while the user paused, dropped when they went on: not a turn.
            SessionEventKind::Agent(AgentEvent::ReplyAbandoned { turn, .. }) => {
                turns.retain(|t| t.turn != turn.0);
            }
            _ => {}
        }
    }
    turns
}
