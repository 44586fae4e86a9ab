//! `duplex talk [--input NAME] [--output NAME] [--no-aec] [--events FILE] [--seconds N]
//! [--no-backchannels]`: a live conversation on the computer's microphone and speakers, until
//! Ctrl-C (or SIGTERM, or N seconds). The agent's own voice (its "mm-hm"s included) is cancelled
//! from the microphone unless `--no-aec` (for a headset).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use duplex::aec::{Aec3, EchoCanceller};
use duplex::asr::WhisperModel;
use duplex::config::Config;
use duplex::runtime::{SessionEventKind, Severity, load_local_engines};
use duplex::transport::desktop::pump::{TalkSetup, talk_over};
use duplex::transport::desktop::streams::{DeviceStreams, open_devices, select_devices};

/// Arguments of `duplex talk`.
#[derive(clap::Args)]
pub struct TalkArgs {
    /// Microphone to use (a name, or part of one, from `duplex devices`); default: the system's.
    #[arg(long)]
    input: Option<String>,
    /// Speakers to use; default: the system's.
    #[arg(long)]
    output: Option<String>,
    /// Turn echo cancellation off (with a headset there is no echo to cancel).
    #[arg(long)]
    no_aec: bool,
    /// Where to write the events (JSON lines; per-turn summaries last).
    #[arg(long)]
    events: Option<PathBuf>,
    /// End after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    seconds: Option<f64>,
    /// Do not say "mm-hm" at inner pauses of a long user turn.
    #[arg(long)]
    no_backchannels: bool,
}

/// How long closing the streams may take before they are left to the process exit.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Stops the streams. A stream whose device has gone can hang in cpal's drop (its ALSA worker
/// spins on the dead descriptor while the other waits on PulseAudio's lock), so the drop runs on
/// a helper thread and is abandoned after [`CLOSE_TIMEOUT`]: the process is about to exit.
fn close_streams(streams: DeviceStreams) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(streams);
        let _ = done_tx.send(());
    });
    if done_rx.recv_timeout(CLOSE_TIMEOUT).is_err() {
        tracing::warn!("the audio streams did not close within {CLOSE_TIMEOUT:?}; leaving them");
    }
}

/// An engine failure in words for the person at the keyboard.
fn describe_failure(error: &str, severity: Severity) -> String {
    match severity {
        Severity::Recovered => format!("the agent restarted its brain ({error}); go on talking"),
        Severity::Transient => format!("one step failed and was skipped ({error})"),
        Severity::Fatal => {
            format!("the agent stopped working ({error}); the conversation ends")
        }
    }
}

/// Runs the subcommand.
pub fn run(config: &Config, args: TalkArgs) -> anyhow::Result<()> {
    let devices = select_devices(args.input.as_deref(), args.output.as_deref())?;
    let whisper = WhisperModel::load(&config.models, &config.asr)?;
    let mut engines = load_local_engines(config, &whisper)?;
    if let Some(profile) = super::memory::local_profile(config) {
        engines.llm.attach_profile(profile)?;
    }
    let (streams, link) = open_devices(devices)?;
    let f = streams.format;
    eprintln!(
        "listening on {:?} ({} Hz, {} ch), speaking on {:?} ({} Hz, {} ch), echo cancellation {}; Ctrl-C ends",
        streams.input_name,
        f.input_rate,
        f.input_channels,
        streams.output_name,
        f.output_rate,
        f.output_channels,
        if args.no_aec { "off" } else { "on" }
    );
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(seconds) = args.seconds {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(seconds.max(0.0)));
            stop.store(true, Ordering::SeqCst);
        });
    }
    let aec = (!args.no_aec).then(|| Box::new(Aec3::new()) as Box<dyn EchoCanceller>);
    let mut agent = config.agent_config();
    if args.no_backchannels {
        agent.turns.backchannel.enabled = false;
    }
    let setup = TalkSetup {
        agent,
        aec,
        stop,
        stop_on_signals: true,
        on_event: Box::new(|e| match &e.kind {
            SessionEventKind::Agent(event) => {
                if let Ok(line) = serde_json::to_string(event) {
                    eprintln!("{line}");
                }
            }
            SessionEventKind::EngineFailed { error, severity } => {
                eprintln!("{}", describe_failure(error, *severity));
            }
            SessionEventKind::Cues(report) => {
                if !report.note.is_empty() {
                    eprintln!("how you spoke: {}", report.note);
                }
            }
            SessionEventKind::Cost { .. }
            | SessionEventKind::Starting { .. }
            | SessionEventKind::Ready { .. }
            | SessionEventKind::Ending { .. } => {}
        }),
    };
    let report = talk_over(engines, link, setup)?;
    close_streams(streams);
    super::turn_report::report_turns(&report.events, args.events.as_deref())?;
    eprintln!(
        "audio: {} frames in, {} dropped; {:.1} s played, {} underruns, {} device xruns, {} samples overflowed, {} flushes",
        report.frames_sent,
        report.frames_dropped,
        report.played_samples as f64 / 16_000.0,
        report.underruns,
        report.xruns,
        report.overflow_samples,
        report.flushes
    );
    if let Some(error) = report.device_error {
        anyhow::bail!(
            "the audio device failed ({error}); the conversation ended. Check the device (unplugged? `duplex devices`) and start again"
        );
    }
    Ok(())
}
