//! ONNX Runtime through `ort` with `load-dynamic`: the shared library is loaded once per process
//! from the models directory, and sessions are created with errors that name the file to fix.

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::models::ModelPaths;
use crate::models::{ModelError, check_present};

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment(paths: &ModelPaths) -> Result<&'static Environment, ModelError> {
    let lib = paths.resolve(&paths.onnxruntime);
    check_present(&lib, "ONNX Runtime library")?;
    let env = ENVIRONMENT.get_or_init(|| {
        let builder = ort::init_from(&lib).map_err(|e| e.to_string())?;
        builder
            .with_name("duplex")
            .build()
            .map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|detail| ModelError::Load {
        what: "ONNX Runtime library",
        path: lib,
        detail: detail.clone(),
    })
}

/// Creates a session for the model at `model`, using `threads` intra-op threads. The threads do
/// not spin while they wait for work: the engines share two cores, and spinning threads took
/// CPU from each other (a 6-word Piper clause on a busy machine: 431 ms spinning, 290 ms not).
pub fn load_session(
    paths: &ModelPaths,
    model: &Path,
    what: &'static str,
    threads: usize,
) -> Result<Session, ModelError> {
    check_present(model, what)?;
    let env = environment(paths)?;
    let fail = |detail: String| ModelError::Load {
        what,
        path: model.to_owned(),
        detail,
    };
    Session::builder(env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| fail(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_op_spinning(false)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| fail(e.to_string()))
}
