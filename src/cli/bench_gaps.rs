//! Silences inside the agent's replies, for `duplex bench latency`: every stretch of the
//! output quieter than -40 dBFS for more than 120 ms between a reply's first and last sound,
//! sorted by whether it falls at punctuation (a pause the text asks for) or elsewhere (a
//! stutter: a join between chunks cut mid-sentence, or a chunk that was not ready in time).

use std::collections::BTreeMap;

use duplex::agent::{AgentEvent, TurnId};
use duplex::runtime::SessionEventKind;
use duplex::transport::file::Conversation;
use duplex::tts::{inner_marks, quiet_stretches};
use serde_json::json;

/// Silences longer than this inside a reply are counted.
pub const GAP_MS: f64 = 120.0;
/// Output below this level (-40 dBFS) is silence.
const SILENT: f32 = 0.01;

fn ends_with_mark(text: &str) -> bool {
    text.trim_end()
        .ends_with(['.', ',', ';', ':', '!', '?', '-', '…', '—'])
}

/// Lengths (ms) of the silent stretches longer than [`GAP_MS`] inside `audio`.
fn inner_silences(audio: &[f32], rate: u32) -> Vec<f64> {
    quiet_stretches(audio, rate)
        .into_iter()
        .map(|(_, len)| len as f64 * 1000.0 / f64::from(rate))
        .filter(|ms| *ms > GAP_MS)
        .collect()
}

/// The gaps of every reply in `conversation`, as JSON: how many fell at punctuation and the
/// ones that did not, each with its length and the words on either side. Replies that paused
/// for the user's voice are left out.
pub fn reply_gaps(conversation: &Conversation) -> serde_json::Value {
    let texts: BTreeMap<(TurnId, u32), String> = conversation
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Agent(AgentEvent::ReplyChunk {
                turn, chunk, text, ..
            }) => Some(((*turn, *chunk), text.clone())),
            _ => None,
        })
        .collect();
    // A reply paused for the user's voice is silent by design while the sound is judged.
    let paused: std::collections::BTreeSet<TurnId> = conversation
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            SessionEventKind::Agent(AgentEvent::PlaybackPaused { turn, .. }) => Some(*turn),
            _ => None,
        })
        .collect();
    let text_of = |turn: TurnId, chunk: u32| texts.get(&(turn, chunk)).cloned().unwrap_or_default();
    let (out, rate) = (&conversation.output, conversation.output_rate);
    let sound = |s: &f32| s.abs() >= SILENT;
    let mut at_punctuation = 0;
    let mut elsewhere = Vec::new();
    let starts = &conversation.chunk_starts;
    for (i, (id, start)) in starts.iter().enumerate() {
        if paused.contains(&id.turn) {
            continue;
        }
        // A chunk's span runs to the next chunk of the same reply, or to the end of the output.
        let next = starts.get(i + 1).filter(|(n, _)| n.turn == id.turn);
        let span = &out[*start..next.map_or(out.len(), |(_, s)| *s)];
        let (Some(first), Some(last)) = (span.iter().position(sound), span.iter().rposition(sound))
        else {
            continue;
        };
        let text = text_of(id.turn, id.chunk);
        let mut gaps: Vec<(f64, bool)> = inner_silences(&span[first..=last], rate)
            .into_iter()
            .map(|ms| (ms, inner_marks(&text) > 0))
            .collect();
        if let Some((_, next_start)) = next {
            // The join: from this chunk's last sound to the next chunk's first.
            let lead = out[*next_start..].iter().position(sound).unwrap_or(0);
            let silent = span.len() - last - 1 + lead;
            gaps.push((
                silent as f64 * 1000.0 / f64::from(rate),
                ends_with_mark(&text),
            ));
        }
        for (ms, punctuated) in gaps.into_iter().filter(|(ms, _)| *ms > GAP_MS) {
            if punctuated {
                at_punctuation += 1;
            } else {
                elsewhere.push(json!({
                    "turn": id.turn.0, "chunk": id.chunk, "ms": ms.round(),
                    "chunk_text": text, "next_text": text_of(id.turn, id.chunk + 1),
                }));
            }
        }
    }
    let longest = elsewhere
        .iter()
        .filter_map(|g| g["ms"].as_f64())
        .fold(0.0, f64::max);
    json!({
        "gap_threshold_ms": GAP_MS,
        "at_punctuation": at_punctuation,
        "elsewhere": elsewhere.len(),
        "longest_elsewhere_ms": longest,
        "elsewhere_gaps": elsewhere,
    })
}
