//! Configuration: one TOML file with serde defaults, overridable from the command line.
//!
//! The top of the tree: it gathers each stage's own section (the stages never import it) and the
//! model paths ([`ModelPaths`], from `crate::models`); nothing downloads in a constructor.

use std::path::{Path, PathBuf};

pub use crate::models::{ModelPaths, default_models_dir};

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
    pub agent: crate::agent::TurnTaking,
    /// Text to speech.
    pub tts: crate::tts::TtsConfig,
    /// The language model.
    pub llm: crate::llm::LlmConfig,
    /// Where duplex keeps what it writes (the memory between calls, the HTTPS certificate);
    /// `--data-dir` and `DUPLEX_DATA_DIR` override it. Unset: `$XDG_DATA_HOME/duplex`, else
    /// `~/.local/share/duplex`.
    pub data_dir: Option<PathBuf>,
    /// The memory between calls.
    pub memory: crate::profile::MemoryConfig,
    /// Command tools the agent may call (`[[tools]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<crate::tools::ToolSpec>,
    /// MCP servers over stdio whose tools the agent may call (`[[mcp_servers]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<crate::tools::McpServerSpec>,
}

impl Config {
    /// The conversation core's settings, with the VAD thresholds of `[vad]`.
    pub fn agent_config(&self) -> crate::agent::AgentConfig {
        crate::agent::AgentConfig {
            vad: self.vad.clone(),
            chunker: self.tts.chunker,
            turns: self.agent.clone(),
            cue_notes: self.llm.cue_notes,
        }
    }

    /// The GGUF of the embedded language model: the `[llm] brain`'s file when one is named,
    /// else `models.llm` when set, else the default brain's file.
    pub fn llm_model_path(&self) -> Result<PathBuf, crate::llm::brains::BrainError> {
        use crate::llm::brains::{DEFAULT_BRAIN, brain_model};
        match (&self.llm.brain, &self.models.llm) {
            (Some(name), _) => brain_model(name, &self.models.dir),
            (None, Some(file)) => Ok(self.models.resolve(file)),
            (None, None) => brain_model(DEFAULT_BRAIN, &self.models.dir),
        }
    }

    /// The data directory in use: `data_dir`, else the default.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(crate::profile::default_data_dir)
    }

    /// Reads a TOML file; missing keys take their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parses the text of a configuration file; `path` names it in errors.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}
