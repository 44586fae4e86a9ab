//! `duplex converse`, the shipped binary, stopped mid-run by Ctrl-C (SIGINT) or SIGTERM: it
//! must end by itself with exit code 0 (never by the signal, never by a crash), write the
//! conversation so far, shorter than the whole input, and say where it stopped (issue 32).
//! The browser stop paths are in browser_webrtc.rs, `duplex talk`'s in desktop_pulse.rs.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use duplex::audio::{PIPELINE_RATE, load_pipeline_audio, wav::write_wav};
use duplex::fixtures::fixture_path;

/// One at a time: each runs the real models on a small machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const FIXTURE: &str = "sense_and_sensibility_01_austen_64kb-0930.wav";

/// Seconds of silence after the fixture: the whole input is far longer than the time the test
/// lets the conversation run before it signals.
const PAD_S: usize = 60;

/// Runs `duplex converse` at real-time pace over the fixture and a minute of silence, sends
/// `signal` once the conversation has started plus a second, and checks the stop.
fn converse_stopped_by(signal: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut audio = load_pipeline_audio(&fixture_path(FIXTURE)).expect("fixture");
    audio.extend(vec![0.0; PAD_S * PIPELINE_RATE as usize]);
    let input_s = audio.len() as f64 / f64::from(PIPELINE_RATE);
    let input = dir.path().join("input.wav");
    write_wav(&input, &audio, PIPELINE_RATE).expect("input");
    let output = dir.path().join("output.wav");
    let mut child = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .args(["--no-memory", "--data-dir"])
        .arg(dir.path())
        .arg("converse")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start duplex converse");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("stderr") > 0 {
        seen.push_str(&line);
        if line.contains("conversing over") {
            break;
        }
        line.clear();
    }
    assert!(
        seen.contains("conversing over"),
        "the conversation did not start: {seen}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(sent.success());
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    seen.push_str(&rest);
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), None, "ended by a signal: {seen}");
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(!seen.contains("panicked"), "{seen}");
    assert!(seen.contains("stopped by a signal"), "{seen}");
    let written = load_pipeline_audio(&output).expect("the output so far");
    let written_s = written.len() as f64 / f64::from(PIPELINE_RATE);
    assert!(
        written_s < input_s,
        "stopped early: {written_s:.1} s written of {input_s:.1} s"
    );
}

#[test]
fn converse_stopped_by_ctrl_c_mid_run_exits_cleanly() {
    converse_stopped_by("INT");
}

#[test]
fn converse_stopped_by_sigterm_mid_run_exits_cleanly() {
    converse_stopped_by("TERM");
}
