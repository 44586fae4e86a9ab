//! Configuration: one TOML file with serde defaults, overridable from the command line.
//!
//! Every model path lives here; nothing downloads in a constructor. The models directory is found
//! from `DUPLEX_MODELS`, then `./models`, then the `models/` folder of the source tree the binary
//! was built from (so `cargo run` works from any directory of a checkout).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::asr::AsrConfig;
use crate::vad::VadConfig;

/// Errors reading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file named by the user.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file named by the user.
        path: PathBuf,
        /// What the TOML parser reported.
        message: String,
    },
}

/// The whole configuration of duplex.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the model files are.
    pub models: ModelPaths,
    /// Voice activity detection.
    pub vad: VadConfig,
    /// Speech recognition.
    pub asr: AsrConfig,
    /// The end-of-turn model.
    pub turn: crate::turn::TurnConfig,
    /// Turn-taking: end of turn, barge-in.
    pub agent: crate::agent::AgentConfig,
    /// Text to speech.
    pub tts: crate::tts::TtsConfig,
    /// The language model.
    pub llm: crate::llm::LlmConfig,
}

impl Config {
    /// The conversation core's settings, with the VAD thresholds of `[vad]`.
    pub fn agent_config(&self) -> crate::agent::AgentConfig {
        crate::agent::AgentConfig {
            vad: self.vad.clone(),
            chunker: self.tts.chunker,
            ..self.agent.clone()
        }
    }

    /// Reads a TOML file; missing keys take their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// Paths of every model file. Relative paths are resolved against `dir`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelPaths {
    /// The directory holding the fetched models (see `models/README.md`).
    pub dir: PathBuf,
    /// ONNX Runtime shared library, loaded at run time by `ort`.
    pub onnxruntime: PathBuf,
    /// Whisper ggml model for whisper-rs.
    pub whisper: PathBuf,
    /// Silero VAD v6 ONNX model.
    pub silero_vad: PathBuf,
    /// smart-turn v3.2 ONNX model.
    pub smart_turn: PathBuf,
    /// Piper voice ONNX model (its `.onnx.json` sits beside it).
    pub piper_voice: PathBuf,
    /// GGUF language model for the embedded LLM.
    pub llm: PathBuf,
}

impl Default for ModelPaths {
    fn default() -> Self {
        Self {
            dir: default_models_dir(),
            onnxruntime: "libonnxruntime.so.1.31.1".into(),
            whisper: "ggml-tiny.en.bin".into(),
            silero_vad: "silero_vad.onnx".into(),
            smart_turn: "smart-turn-v3.2-cpu.onnx".into(),
            piper_voice: "en_US-joe-medium.onnx".into(),
            llm: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
        }
    }
}

impl ModelPaths {
    /// Resolves a model path against the models directory.
    pub fn resolve(&self, file: &Path) -> PathBuf {
        if file.is_absolute() {
            file.to_owned()
        } else {
            self.dir.join(file)
        }
    }
}

/// The models directory used when the configuration names none.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DUPLEX_MODELS") {
        return dir.into();
    }
    let local = PathBuf::from("models");
    if local.join("README.md").exists() {
        return std::fs::canonicalize(&local).unwrap_or(local);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}
