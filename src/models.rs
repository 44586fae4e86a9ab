//! Model files: where they are ([`ModelPaths`]; the models directory is found from
//! `DUPLEX_MODELS`, then `./models`, then the `models/` folder of the source tree the binary was
//! built from, so `cargo run` works from any directory of a checkout), and presence and
//! integrity checks with errors that say what to fix.
//!
//! The pinned list (file name, size, sha256) is `scripts/models.lock.json`, the same file the
//! fetch script uses, compiled in here so the binary can check a model before it loads it. A size
//! check runs before every load (cheap, catches truncation); `duplex models --verify` hashes all.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The text of the pinned model list.
const LOCK_JSON: &str = include_str!("../scripts/models.lock.json");

/// Errors about a model file or the ONNX Runtime library.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file does not exist.
    #[error(
        "{what} not found at {path}: run `bash scripts/setup.sh` to fetch the models (or fix the path in the config)"
    )]
    Missing {
        /// What the file is, in words.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file is shorter or longer than the pinned size.
    #[error(
        "{what} at {path} is {actual} bytes, expected {expected}: the file is truncated or corrupt; delete it and run `bash scripts/setup.sh`"
    )]
    WrongSize {
        /// What the file is, in words.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Pinned size.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// The content differs from the pinned checksum.
    #[error(
        "{what} at {path} has sha256 {actual}, expected {expected}: delete it and run `bash scripts/setup.sh`"
    )]
    Checksum {
        /// What the file is, in words.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Pinned sha256.
        expected: String,
        /// sha256 on disk.
        actual: String,
    },
    /// The file exists but the engine refused it.
    #[error(
        "cannot load {what} from {path}: {detail} (a corrupt file? delete it and run `bash scripts/setup.sh`)"
    )]
    Load {
        /// What the file is, in words.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the engine said.
        detail: String,
    },
    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One pinned model file.
#[derive(Debug, Clone, Deserialize)]
pub struct PinnedFile {
    /// File name inside the models directory.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256.
    pub sha256: String,
    /// The brain it belongs to, if it is a language model (see `llm::brains`).
    #[serde(default)]
    pub brain: Option<String>,
    /// Fetched only on request (`fetch_models.py --brain NAME`), not by the set-up.
    #[serde(default)]
    pub optional: bool,
}

#[derive(Deserialize)]
struct Lock {
    files: Vec<PinnedFile>,
}

/// The pinned model files, as listed in `scripts/models.lock.json`.
pub fn pinned_files() -> Vec<PinnedFile> {
    let lock: Lock = serde_json::from_str(LOCK_JSON).expect("scripts/models.lock.json is valid");
    lock.files
}

fn pinned_for(path: &Path) -> Option<PinnedFile> {
    let name = path.file_name()?.to_str()?;
    pinned_files().into_iter().find(|p| p.file == name)
}

/// Checks that `path` exists and, when it is a pinned file, has the pinned size.
pub fn check_present(path: &Path, what: &'static str) -> Result<(), ModelError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => meta,
        _ => {
            return Err(ModelError::Missing {
                what,
                path: path.to_owned(),
            });
        }
    };
    if let Some(pin) = pinned_for(path)
        && pin.size != meta.len()
    {
        return Err(ModelError::WrongSize {
            what,
            path: path.to_owned(),
            expected: pin.size,
            actual: meta.len(),
        });
    }
    Ok(())
}

/// Hashes a file with sha256, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks size and sha256 of one pinned file in `dir`.
pub fn verify_pinned(dir: &Path, pin: &PinnedFile) -> Result<(), ModelError> {
    let path = dir.join(&pin.file);
    check_present(&path, "model file")?;
    let actual = sha256_file(&path)?;
    if actual != pin.sha256 {
        return Err(ModelError::Checksum {
            what: "model file",
            path,
            expected: pin.sha256.clone(),
            actual,
        });
    }
    Ok(())
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
    /// A GGUF language model file for the embedded LLM, used instead of a named brain when
    /// `[llm] brain` is unset; unset too: the default brain (`llm::brains::DEFAULT_BRAIN`).
    pub llm: Option<PathBuf>,
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
            llm: None,
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
