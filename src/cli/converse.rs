//! `duplex converse IN.wav -o OUT.wav [--events events.jsonl] [--fast]`: a whole conversation
//! over a recording, with the agent's replies written on the input's timeline.

use std::path::PathBuf;

use duplex::asr::WhisperModel;
use duplex::audio::{load_pipeline_audio, wav::write_wav};
use duplex::config::Config;
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
    let mut engines = load_local_engines(config, &whisper)?;
    if let Some(profile) = super::memory::local_profile(config) {
        engines.llm.attach_profile(profile)?;
    }
    let pace = if args.fast {
        Pace::Fast
    } else {
        Pace::RealTime
    };
    let conversation = converse(config.agent_config(), engines, &input, pace);
    write_wav(&args.output, &conversation.output, conversation.output_rate)?;
    super::turn_report::report_turns(&conversation.events, args.events.as_deref())?;
    Ok(())
}
