//! Model files: presence and integrity checks with errors that say what to fix.
//!
//! The pinned list (file name, size, sha256) is `scripts/models.lock.json`, the same file the
//! fetch script uses, compiled in here so the binary can check a model before it loads it. A size
//! check runs before every load (cheap, catches truncation); `duplex models --verify` hashes all.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
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
