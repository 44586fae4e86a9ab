//! The recorded speech fixtures in `audio-fixtures/`: their manifest (file, reference text,
//! source, licence), for tests and benches.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One fixture recording.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    /// File name inside `audio-fixtures/`.
    pub file: String,
    /// What is said, or `None` for a recording without speech.
    pub reference: Option<String>,
    /// Where the recording comes from.
    pub source: String,
    /// Its licence.
    pub licence: String,
}

/// The two-question conversation (two fixtures joined by 2 s of silence).
pub const CONVERSATION_FIXTURE: &str = "conversation.wav";

/// The questions asked in [`CONVERSATION_FIXTURE`].
pub const CONVERSATION_QUESTIONS: usize = 2;

/// The fixtures directory of this source tree.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-fixtures")
}

/// Path of a fixture by file name.
pub fn fixture_path(file: &str) -> PathBuf {
    fixtures_dir().join(file)
}

/// All fixtures listed in `audio-fixtures/manifest.json`.
pub fn manifest() -> Result<Vec<Fixture>, String> {
    let path = fixtures_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is invalid: {e}", path.display()))
}
