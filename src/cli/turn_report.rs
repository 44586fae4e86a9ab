//! What `converse` and `talk` print and record when a conversation is over: the events file
//! (every session event, then a summary per turn, as JSON lines) and one line per turn.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use duplex::conversation_report::summarize;
use duplex::runtime::SessionEvent;

/// Writes `events` (and the per-turn summaries) to `path` if given, and prints each turn.
pub fn report_turns(events: &[SessionEvent], path: Option<&Path>) -> anyhow::Result<()> {
    let turns = summarize(events);
    if let Some(path) = path {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        for e in events {
            writeln!(file, "{}", serde_json::to_string(e)?)?;
        }
        for t in &turns {
            writeln!(file, "{}", serde_json::json!({ "turn_summary": t }))?;
        }
        file.flush()?;
    }
    for t in &turns {
        println!(
            "turn {}: user {:?} -> agent {:?}{}",
            t.turn,
            t.transcript.as_deref().unwrap_or(""),
            t.played_text.as_deref().unwrap_or(""),
            if t.interrupted { " (interrupted)" } else { "" }
        );
    }
    Ok(())
}
