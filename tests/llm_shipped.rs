//! The shipped binaries, end to end: `duplex` transcribes a known WAV with whisper.cpp, then
//! `duplex chat` (which starts `duplex-llm` from next to itself) answers with llama.cpp. Also
//! checks the one-ggml-per-binary rule by symbols: whisper.cpp and llama.cpp each bundle a ggml,
//! and a binary holding both would keep only one of them, silently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn duplex() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_duplex"))
}

fn worker() -> PathBuf {
    duplex::llm::installed_worker()
        .expect("the duplex-llm worker is built next to the tests (cargo build --release)")
}

/// Defined symbols of a binary whose demangled name contains `needle`.
fn count_symbols(binary: &Path, needle: &str) -> usize {
    let out = Command::new("nm")
        .args(["-C", "--defined-only"])
        .arg(binary)
        .output()
        .expect("running nm (binutils)");
    assert!(out.status.success(), "nm failed on {}", binary.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[test]
fn each_binary_holds_only_its_own_engine() {
    let (main, llm) = (duplex(), worker());
    let counts = [
        ("duplex", "whisper_", count_symbols(&main, "whisper_")),
        ("duplex", "llama_", count_symbols(&main, "llama_")),
        ("duplex", "ggml_", count_symbols(&main, "ggml_")),
        ("duplex-llm", "llama_", count_symbols(&llm, "llama_")),
        ("duplex-llm", "whisper_", count_symbols(&llm, "whisper_")),
        ("duplex-llm", "ggml_", count_symbols(&llm, "ggml_")),
    ];
    for (bin, sym, n) in counts {
        eprintln!("{bin:>10}: {n:5} symbols with {sym}");
    }
    assert!(
        counts[0].2 > 0 && counts[2].2 > 0,
        "duplex lost whisper.cpp"
    );
    assert_eq!(
        counts[1].2, 0,
        "llama.cpp is linked into duplex (two ggml copies)"
    );
    assert!(
        counts[3].2 > 0 && counts[5].2 > 0,
        "duplex-llm lost llama.cpp"
    );
    assert_eq!(
        counts[4].2, 0,
        "whisper.cpp is linked into duplex-llm (two ggml copies)"
    );
}

/// Lower case, letters and spaces only.
fn normalize(text: &str) -> String {
    let kept: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn shipped_binaries_transcribe_then_answer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wav = root.join("audio-fixtures/jfk.wav");
    assert!(
        wav.is_file(),
        "{} is missing: run scripts/setup.sh",
        wav.display()
    );

    let out = Command::new(duplex())
        .current_dir(root)
        .arg("transcribe")
        .arg(&wav)
        .output()
        .expect("running duplex transcribe");
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "duplex transcribe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("transcript:\n{transcript}");
    let heard = normalize(&transcript);
    assert!(
        heard.contains("ask not what your country can do for you"),
        "{heard}"
    );

    let mut chat = Command::new(duplex())
        .current_dir(root)
        .args([
            "chat",
            "--no-memory",
            "--temperature",
            "0",
            "--max-tokens",
            "32",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running duplex chat");
    let spoken: Vec<&str> = transcript
        .lines()
        .filter_map(|l| l.split_once(']').map(|(_, text)| text.trim()))
        .collect();
    let input = format!(
        "Someone said: {}\nWhat is the capital of France?\n",
        spoken.join(" ")
    );
    chat.stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writing to duplex chat");
    let out = chat.wait_with_output().expect("duplex chat output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("duplex chat:\n{stdout}\n{stderr}");
    assert!(out.status.success(), "duplex chat failed: {stderr}");
    assert!(stderr.contains("embedded llama.cpp"), "{stderr}");
    // Two replies: one to the transcript, then the capital.
    assert!(
        stdout.lines().filter(|l| !l.trim().is_empty()).count() >= 2,
        "{stdout}"
    );
    assert!(stdout.contains("Paris"), "{stdout}");
}
