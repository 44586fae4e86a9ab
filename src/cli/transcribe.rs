//! `duplex transcribe FILE.wav [--json]`: speech segments with times and text.

use std::path::PathBuf;

use duplex::config::Config;
use duplex::transcribe::Listener;

/// Arguments of `duplex transcribe`.
#[derive(clap::Args)]
pub struct TranscribeArgs {
    /// A PCM WAV file (8 to 48 kHz, mono or stereo, integer or float samples).
    file: PathBuf,
    /// Print one JSON object instead of text lines.
    #[arg(long)]
    json: bool,
    /// Decode with the full 30 s encoder window instead of one sized to each segment.
    #[arg(long)]
    full_context: bool,
}

/// Runs the subcommand.
pub fn run(config: &Config, args: TranscribeArgs) -> anyhow::Result<()> {
    let mut config = config.clone();
    if args.full_context {
        config.asr.fit_audio_context = false;
    }
    let mut listener = Listener::load(&config)?;
    let transcript = listener.transcribe_file(&args.file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&transcript)?);
    } else {
        for s in &transcript.segments {
            println!("[{:7.2}s - {:7.2}s] {}", s.start_s, s.end_s, s.text);
        }
        if transcript.segments.is_empty() {
            println!(
                "(no speech found in {:.2} s of audio)",
                transcript.duration_s
            );
        }
    }
    Ok(())
}
