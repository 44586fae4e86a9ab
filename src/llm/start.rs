//! Starts the backend the `[llm]` section chooses: the embedded worker (behind
//! [`RevivingBackend`], which restarts it when its process dies) or an OpenAI-compatible server.

use std::path::Path;

use super::backend::LlmBackend;
use super::config::{BackendKind, LlmConfig};
use super::embedded::EmbeddedBackend;
use super::error::LlmError;
use super::openai::OpenAiBackend;
use super::revive::{RevivePolicy, RevivingBackend};

/// Builds the backend chosen by the `[llm]` section; `model` is the resolved GGUF path for the
/// embedded backend.
pub fn build_backend(config: &LlmConfig, model: &Path) -> Result<Box<dyn LlmBackend>, LlmError> {
    Ok(match config.backend {
        BackendKind::Embedded => {
            let (embedded, model) = (config.embedded.clone(), model.to_owned());
            Box::new(RevivingBackend::start(
                RevivePolicy::default(),
                Box::new(move || {
                    let backend = EmbeddedBackend::spawn(&embedded, &model)?;
                    Ok(Box::new(backend) as Box<dyn LlmBackend>)
                }),
            )?)
        }
        BackendKind::Openai => Box::new(OpenAiBackend::new(config.openai.clone())),
    })
}
