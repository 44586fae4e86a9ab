//! `duplex talk`, the shipped binary, on a real (virtual) sound card: a private PulseAudio daemon
//! with a null sink `vmic` whose monitor is the default source and a null sink `vspk` as the
//! default sink (`scripts/virtual_sound_card.sh`), reached through ALSA's PulseAudio plugin.
//! A fixture question is played into the microphone with pacat; the agent's reply is recorded
//! from the speakers' monitor with parec. Also: a device name that does not exist, no sound
//! server at all, and the sound server vanishing mid-session end with a clear message and no
//! panic; Ctrl-C or SIGTERM while a reply plays, or after it, ends the process with exit code 0,
//! never by the signal or a crash (issue 32).
//!
//! Needs pulseaudio, pulseaudio-utils and libasound2-plugins (`bash scripts/setup_test_deps.sh`);
//! without them these tests fail, unless DUPLEX_SKIP_SOUND_CARD_TESTS=1 says to skip them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use duplex::fixtures::fixture_path;

const QUESTION: &str = "goforward.wav";
const RATE: usize = 16_000;

/// One test at a time: each runs the real models in real time on a 2-core machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A private virtual sound card, stopped on drop.
struct SoundCard {
    dir: tempfile::TempDir,
    server: String,
    _turn: MutexGuard<'static, ()>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl SoundCard {
    /// Starts one, or returns None when the tests are to be skipped.
    fn start() -> Option<Self> {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let installed = Command::new("pulseaudio")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            if std::env::var("DUPLEX_SKIP_SOUND_CARD_TESTS").as_deref() == Ok("1") {
                eprintln!("skipped: pulseaudio is not installed (DUPLEX_SKIP_SOUND_CARD_TESTS=1)");
                return None;
            }
            panic!(
                "pulseaudio is not installed: run `bash scripts/setup_test_deps.sh` \
                 (or set DUPLEX_SKIP_SOUND_CARD_TESTS=1 to skip the sound card tests)"
            );
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(repo().join("scripts/virtual_sound_card.sh"))
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("run scripts/virtual_sound_card.sh");
        assert!(
            out.status.success(),
            "virtual sound card: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = format!("unix:{}/run/native", dir.path().display());
        Some(Self {
            dir,
            server,
            _turn: turn,
        })
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("PULSE_SERVER", &self.server)
            .env("HOME", self.dir.path())
            .env_remove("PULSE_RUNTIME_PATH");
        c
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn stop(&self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/virtual_sound_card.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

impl Drop for SoundCard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `duplex talk` running, its stderr lines arriving on a channel.
struct Talk {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Talk {
    fn start(card: &SoundCard, args: &[&str]) -> Self {
        let mut child = card
            .command(env!("CARGO_BIN_EXE_duplex"))
            .args(["talk", "--no-memory"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start duplex talk");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `text`.
    fn wait_for(&mut self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line);
                    if found {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// Waits for the process to end; returns its success and all of its stderr.
    fn wait_exit(self, timeout: Duration) -> (bool, String) {
        let (ended, stderr) = self.wait_ended(timeout);
        (ended == "exit 0", stderr)
    }

    fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the signal `name` (INT is Ctrl-C) to the process.
    fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits for the process to end; returns how it ended ("exit 0", "signal 11") and all of
    /// its stderr.
    fn wait_ended(mut self, timeout: Duration) -> (String, String) {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "duplex talk did not end within {timeout:?}: {:?}",
                    self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let ended = match (status.code(), status.signal()) {
            (_, Some(signal)) => format!("signal {signal}"),
            (Some(code), None) => format!("exit {code}"),
            (None, None) => "unknown".to_owned(),
        };
        (ended, self.seen.join("\n"))
    }
}

fn raw_question(card: &SoundCard) -> (PathBuf, f64) {
    let audio = duplex::audio::load_pipeline_audio(&fixture_path(QUESTION)).expect("fixture");
    let bytes: Vec<u8> = audio
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    let path = card.path("question.raw");
    std::fs::write(&path, bytes).expect("write the question");
    (path, audio.len() as f64 / RATE as f64)
}

fn read_raw(path: &Path) -> Vec<f32> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .expect("the recording");
    bytes
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

const PCM: [&str; 3] = ["--format=s16le", "--rate=16000", "--channels=1"];

/// Plays the raw PCM file `question` into the virtual microphone, to its end.
fn play_into_microphone(card: &SoundCard, question: &Path) {
    let played = card
        .command("pacat")
        .arg("--playback")
        .arg("--device=vmic")
        .args(PCM)
        .arg(question)
        .status()
        .expect("run pacat");
    assert!(played.success(), "pacat played the question");
}

#[test]
fn talk_answers_a_question_on_the_sound_card() {
    let Some(card) = SoundCard::start() else {
        return;
    };
    let recording = card.path("speaker.raw");
    let mut recorder = card
        .command("parec")
        .arg("--device=vspk.monitor")
        .args(PCM)
        .stdout(std::fs::File::create(&recording).expect("recording file"))
        .spawn()
        .expect("start parec");
    let recording_started = Instant::now();
    let events = card.path("events.jsonl");
    let events_arg = events.display().to_string();
    let mut talk = Talk::start(&card, &["--events", &events_arg]);
    assert!(
        talk.wait_for("listening on", Duration::from_secs(180)),
        "duplex talk did not start: {:?}",
        talk.seen
    );
    // The first stream after the daemon starts takes about a second to deliver audio.
    std::thread::sleep(Duration::from_secs(2));
    let (question, question_s) = raw_question(&card);
    let question_start = recording_started.elapsed().as_secs_f64();
    play_into_microphone(&card, &question);
    let answered = talk.wait_for("assistant_text", Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(1));
    talk.terminate();
    let (ok, stderr) = talk.wait_exit(Duration::from_secs(30));
    let _ = recorder.kill();
    let _ = recorder.wait();
    assert!(answered, "no reply finished: {stderr}");
    assert!(ok, "duplex talk ended cleanly on SIGTERM: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let speaker = read_raw(&recording);
    let loud: Vec<usize> = (0..speaker.len())
        .filter(|&i| speaker[i].abs() > 0.05)
        .collect();
    assert!(
        loud.len() > RATE / 4,
        "the reply is audible on the speakers ({} loud samples of {})",
        loud.len(),
        speaker.len()
    );
    // The recorder may lag the wall clock a little, never lead it: the first loud sample is
    // after the question started, and the reply comes after the question's end.
    let first_loud_s = loud[0] as f64 / RATE as f64;
    assert!(
        first_loud_s > question_start,
        "sound at {first_loud_s:.2} s, before the question at {question_start:.2} s"
    );
    let last_loud_s = *loud.last().unwrap() as f64 / RATE as f64;
    assert!(
        last_loud_s > question_start + question_s,
        "reply after the question"
    );

    let log = std::fs::read_to_string(&events).expect("the events file");
    let summary = log
        .lines()
        .find(|l| l.contains("turn_summary"))
        .expect("a turn summary");
    let summary: serde_json::Value = serde_json::from_str(summary).expect("json");
    let heard = summary["turn_summary"]["played_text"]
        .as_str()
        .unwrap_or("");
    assert!(
        !heard.is_empty(),
        "the reply's words were played: {summary}"
    );
}

/// Starts `duplex talk`, plays the question into the microphone and waits for `milestone` on
/// its event lines; then sends `signal` and returns how the process ended and its stderr.
fn talk_stopped_at(milestone: &str, signal: &str) -> Option<(String, String)> {
    let card = SoundCard::start()?;
    let mut talk = Talk::start(&card, &[]);
    assert!(
        talk.wait_for("listening on", Duration::from_secs(180)),
        "duplex talk did not start: {:?}",
        talk.seen
    );
    // The first stream after the daemon starts takes about a second to deliver audio.
    std::thread::sleep(Duration::from_secs(2));
    let (question, _) = raw_question(&card);
    play_into_microphone(&card, &question);
    let reached = talk.wait_for(milestone, Duration::from_secs(120));
    assert!(reached, "no {milestone} event: {:?}", talk.seen);
    if milestone.contains("assistant_text") {
        // After the reply: its last words have been played by now.
        std::thread::sleep(Duration::from_secs(3));
    }
    talk.signal(signal);
    // Generous: a stop on a starved machine waits for the engine threads to end.
    Some(talk.wait_ended(Duration::from_secs(120)))
}

/// `duplex talk` stopped by `signal` at `milestone` ends with exit 0 and no panic.
fn assert_clean_stop(milestone: &str, signal: &str, when: &str) {
    let Some((ended, stderr)) = talk_stopped_at(milestone, signal) else {
        return;
    };
    assert_eq!(ended, "exit 0", "{when}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn talk_stopped_by_ctrl_c_mid_reply_exits_cleanly() {
    assert_clean_stop("\"first_audio\"", "INT", "Ctrl-C while the reply plays");
}

#[test]
fn talk_stopped_by_ctrl_c_after_a_reply_exits_cleanly() {
    assert_clean_stop("\"assistant_text\"", "INT", "Ctrl-C after a reply");
}

#[test]
fn talk_stopped_by_sigterm_mid_reply_exits_cleanly() {
    assert_clean_stop("\"first_audio\"", "TERM", "SIGTERM while the reply plays");
}

#[test]
fn a_missing_device_is_named_with_the_fix() {
    let Some(card) = SoundCard::start() else {
        return;
    };
    let talk = Talk::start(&card, &["--input", "no-such-microphone"]);
    let (ok, stderr) = talk.wait_exit(Duration::from_secs(60));
    assert!(!ok, "fails");
    assert!(
        stderr.contains("no input device named \"no-such-microphone\"")
            && stderr.contains("duplex devices"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_sound_server_vanishing_ends_the_session_cleanly() {
    let Some(card) = SoundCard::start() else {
        return;
    };
    let mut talk = Talk::start(&card, &[]);
    assert!(
        talk.wait_for("listening on", Duration::from_secs(180)),
        "duplex talk did not start: {:?}",
        talk.seen
    );
    std::thread::sleep(Duration::from_secs(2));
    card.stop();
    let (ok, stderr) = talk.wait_exit(Duration::from_secs(30));
    assert!(!ok, "a failed device is an error exit");
    assert!(stderr.contains("the audio device failed"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn no_sound_server_at_all_is_a_clear_error() {
    let Some(card) = SoundCard::start() else {
        return;
    };
    // The default device routes to a sound server that is not there: no usable microphone.
    let out = card
        .command(env!("CARGO_BIN_EXE_duplex"))
        .env(
            "PULSE_SERVER",
            format!("unix:{}", card.path("nobody-here").display()),
        )
        .arg("talk")
        .output()
        .expect("run duplex talk");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "fails");
    assert!(
        stderr.contains("input device") && stderr.contains("is not available"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
