//! `duplex converse IN.wav -o OUT.wav [--events events.jsonl] [--fast]`: a whole conversation
//! over a recording, with the agent's replies written on the input's timeline.
//!
//! Ctrl-C (SIGINT) or SIGTERM stops it early and cleanly: the input ends there, the session
//! joins its engine threads, the output and events so far are written, and the exit code is 0
//! (a note on stderr says where it stopped). A signal while the engines load ends it before
//! the conversation starts, writing nothing, also with 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use duplex::asr::WhisperModel;
use duplex::audio::{load_pipeline_audio, wav::write_wav};
use duplex::config::Config;
use duplex::runtime::load_local_engines;
use duplex::transport::file::{Pace, converse_until};

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
    let stop = watch_stop_signals()?;
    let whisper = WhisperModel::load(&config.models, &config.asr)?;
    let mut engines = load_local_engines(config, &whisper)?;
    if stop.load(Ordering::SeqCst) {
        eprintln!("duplex converse: stopped before the conversation started");
        return Ok(());
    }
    if let Some(profile) = super::memory::local_profile(config) {
        engines.llm.attach_profile(profile)?;
    }
    let pace = if args.fast {
        Pace::Fast
    } else {
        Pace::RealTime
    };
    eprintln!(
        "duplex converse: conversing over {:.1} s of input; Ctrl-C stops",
        input.len() as f64 / f64::from(duplex::audio::PIPELINE_RATE)
    );
    let conversation = converse_until(config.agent_config(), engines, &input, pace, &stop);
    write_wav(&args.output, &conversation.output, conversation.output_rate)?;
    super::turn_report::report_turns(&conversation.events, args.events.as_deref())?;
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "duplex converse: stopped by a signal; wrote the conversation up to {:.1} s of the input",
            conversation.output.len() as f64 / f64::from(conversation.output_rate)
        );
    }
    Ok(())
}

/// A flag set at Ctrl-C (SIGINT) or SIGTERM, watched from a thread of its own; the handlers
/// are in place when this returns, so such a signal no longer ends the process by itself.
fn watch_stop_signals() -> anyhow::Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("converse-signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let watched = signal(SignalKind::interrupt())
                    .and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
                let (mut int, mut term) = match watched {
                    Ok(pair) => pair,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                flag.store(true, Ordering::SeqCst);
            });
        })?;
    ready_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the signal watcher did not start"))?
        .map_err(|e| anyhow::anyhow!("cannot watch for Ctrl-C and SIGTERM: {e}"))?;
    Ok(stop)
}
