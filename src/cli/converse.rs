//! `duplex converse IN.wav -o OUT.wav [--events events.jsonl] [--fast]`: a whole conversation
//! over a recording, with the agent's replies written on the input's timeline.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use duplex::asr::WhisperModel;
use duplex::audio::{PIPELINE_RATE, load_pipeline_audio, wav::write_wav};
use duplex::config::Config;
use duplex::conversation_report::summarize;
use duplex::runtime::load_local_engines;
use duplex::transport::file::{Pace, converse};

/// Arguments of `duplex converse`.
#[derive(clap::Args)]
pub struct ConverseArgs {
    /// The user's side of the conversation: a PCM WAV file.
    input: PathBuf,
    /// Where to write the agent's side (16 kHz mono WAV, same timeline as the input).
    #[arg(short, long)]
    output: PathBuf,
    /// Where to write the events (JSON lines; per-turn summaries last).
    #[arg(long)]
    events: Option<PathBuf>,
    /// Feed the input as fast as the engines allow instead of at real-time pace.
    #[arg(long)]
    fast: bool,
}

/// Runs the subcommand.
pub fn run(config: &Config, args: ConverseArgs) -> anyhow::Result<()> {
    let input = load_pipeline_audio(&args.input)?;
    let whisper = WhisperModel::load(&config.models, &config.asr)?;
    let engines = load_local_engines(config, &whisper)?;
    let pace = if args.fast {
        Pace::Fast
    } else {
        Pace::RealTime
    };
    let conversation = converse(config.agent_config(), engines, &input, pace);
    write_wav(&args.output, &conversation.output, PIPELINE_RATE)?;
    let turns = summarize(&conversation.events);
    if let Some(path) = &args.events {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        for e in &conversation.events {
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
