//! The `duplex` command line: parses arguments, loads the configuration and runs a subcommand.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// duplex: a real-time, fully local speech-to-speech voice agent.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML); missing keys take their defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory holding the models (overrides the config).
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    /// The embedded language model: balanced (Qwen2.5-Coder-0.5B, the default), fast
    /// (SmolLM2-135M, for slow machines) or quality (Qwen2.5-Coder-1.5B); overrides `[llm] brain`.
    #[arg(long, global = true)]
    brain: Option<String>,
    /// Where duplex keeps what it writes: the memory between calls, the HTTPS certificate
    /// (default: DUPLEX_DATA_DIR, else $XDG_DATA_HOME/duplex, else ~/.local/share/duplex).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Keep nothing between calls (as `[memory] enabled = false`): no memory file is made.
    #[arg(long, global = true)]
    no_memory: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the speech segments of a WAV file with their times and text.
    Transcribe(cli::transcribe::TranscribeArgs),
    /// Measure the whole pipeline (`duplex bench latency`) or the replies (`duplex bench quality`).
    Bench(cli::bench::BenchArgs),
    /// Hold a conversation over a WAV file: replies written on the input's timeline.
    Converse(cli::converse::ConverseArgs),
    /// List the model files and check them (sizes; with --verify, sha256 too).
    Models(cli::models::ModelsArgs),
    /// Chat with the language model in text (a REPL over the voice agent's turn manager).
    Chat(cli::chat::ChatArgs),
    /// Speak text with the Piper voice into a WAV file (--stream: chunk by chunk, as a reply).
    Say(cli::say::SayArgs),
    /// Serve the web page: talk to the agent from a browser over WebRTC.
    Serve(cli::serve::ServeArgs),
    /// Talk with the agent on this computer's microphone and speakers (echo-cancelled).
    Talk(cli::talk::TalkArgs),
    /// List the audio devices and the formats they offer.
    Devices(cli::devices::DevicesArgs),
    /// What is remembered between calls: list, export (JSON), forget ID, forget --all.
    Memory(cli::memory::MemoryArgs),
    /// Print the effective configuration (defaults, --config file, flags) as commented TOML.
    Config(cli::config::ConfigArgs),
}

impl Command {
    /// The defaults this subcommand starts from, before the --config file.
    fn defaults(&self) -> cli::config::Defaults {
        match self {
            Command::Talk(_) | Command::Serve(_) => cli::config::Defaults::LiveAudio,
            Command::Config(a) => a.defaults(),
            _ => cli::config::Defaults::Plain,
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // whisper.cpp's own log lines are off by default: an abandoned transcription (the
            // user went on speaking) makes it log "failed to encode", which is expected; real
            // failures come back as errors with their context.
            tracing_subscriber::EnvFilter::try_from_env("DUPLEX_LOG")
                .unwrap_or_else(|_| "warn,whisper_rs::whisper_logging_hook=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    // Defaults, then the --config file, then the flags; each flag only when given.
    let mut config = cli::config::load(args.command.defaults(), args.config.as_deref())?;
    if let Some(dir) = args.models {
        config.models.dir = dir;
    }
    let data_dir = args.data_dir.or_else(|| {
        std::env::var_os("DUPLEX_DATA_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    });
    if data_dir.is_some() {
        config.data_dir = data_dir;
    }
    if args.no_memory {
        config.memory.enabled = false;
    }
    if let Some(brain) = args.brain {
        duplex::llm::brains::brain(&brain)?;
        config.llm.brain = Some(brain);
    }
    match args.command {
        Command::Transcribe(a) => cli::transcribe::run(&config, a),
        Command::Converse(a) => cli::converse::run(&config, a),
        Command::Bench(a) => cli::bench::run(&config, a),
        Command::Models(a) => cli::models::run(&config, a),
        Command::Chat(a) => cli::chat::run(&config, a),
        Command::Say(a) => cli::say::run(&config, a),
        Command::Serve(a) => cli::serve::run(&config, a),
        Command::Talk(a) => cli::talk::run(&config, a),
        Command::Devices(a) => cli::devices::run(a),
        Command::Memory(a) => cli::memory::run(&config, a),
        Command::Config(a) => cli::config::run(&config, a, args.config.as_deref()),
    }
}
