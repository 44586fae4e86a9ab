//! smart-turn v3.2 through ONNX Runtime: log-mel features `[1, 80, 800]` of the last 8 s in,
//! `logits` `[1, 1]` out, which the exported graph has already passed through a sigmoid.
//!
//! The feature buffer and the front end's buffers live in the struct and are reused; the input
//! tensor borrows the feature buffer, so a call copies no audio-sized data into ONNX Runtime.

use std::path::PathBuf;

use ort::session::Session;
use ort::value::TensorRef;

use super::mel::{FEATURES_LEN, LogMel, N_FRAMES, N_MELS};
use super::{TurnConfig, TurnError, TurnScorer};
use crate::models::ModelPaths;

/// Name of the model's input.
const INPUT: &str = "input_features";
/// Name of the model's output.
const OUTPUT: &str = "logits";

/// The smart-turn v3.2 model with its front end and reusable buffers.
pub struct SmartTurn {
    session: Session,
    mel: LogMel,
    features: Vec<f32>,
}

fn inference(e: impl std::fmt::Display) -> TurnError {
    TurnError::Inference(e.to_string())
}

impl SmartTurn {
    /// Loads the model named in `paths` with the default settings (one intra-op thread).
    pub fn load(paths: &ModelPaths) -> Result<Self, TurnError> {
        Self::load_with(paths, &TurnConfig::default())
    }

    /// Loads the model named in `paths` with `config.threads` intra-op threads.
    pub fn load_with(paths: &ModelPaths, config: &TurnConfig) -> Result<Self, TurnError> {
        let model = paths.resolve(&paths.smart_turn);
        let session = crate::onnx::load_session(paths, &model, "smart-turn model", config.threads)?;
        check_signature(&session, model)?;
        Ok(Self {
            session,
            mel: LogMel::new(),
            features: vec![0.0; FEATURES_LEN],
        })
    }

    /// First half of [`TurnScorer::score`]: computes the log-mel features of the last 8 s of
    /// `audio_16k` into the model's input buffer.
    pub fn extract(&mut self, audio_16k: &[f32]) {
        self.mel.compute(audio_16k, &mut self.features);
    }

    /// Second half of [`TurnScorer::score`]: runs the model on the features from the last
    /// [`SmartTurn::extract`] and returns the probability that the turn is complete.
    pub fn infer(&mut self) -> Result<f32, TurnError> {
        let input = TensorRef::from_array_view(([1usize, N_MELS, N_FRAMES], &*self.features))
            .map_err(inference)?;
        let outputs = self
            .session
            .run(ort::inputs![INPUT => input])
            .map_err(inference)?;
        let probability = outputs[OUTPUT]
            .try_extract_array::<f32>()
            .map_err(inference)?
            .iter()
            .copied()
            .next()
            .ok_or_else(|| inference("the model returned an empty `logits` tensor"))?;
        if !probability.is_finite() {
            return Err(inference(format!(
                "the model returned a non-finite probability ({probability})"
            )));
        }
        Ok(probability)
    }

    /// The features of the last [`SmartTurn::extract`], `80 x 800` row-major.
    pub fn features(&self) -> &[f32] {
        &self.features
    }
}

impl TurnScorer for SmartTurn {
    fn score(&mut self, audio_16k: &[f32]) -> Result<f32, TurnError> {
        self.extract(audio_16k);
        self.infer()
    }
}

/// Checks that the session has the input and output that smart-turn v3 has.
fn check_signature(session: &Session, path: PathBuf) -> Result<(), TurnError> {
    let names = |outlets: &[ort::value::Outlet]| {
        outlets
            .iter()
            .map(|o| o.name().to_owned())
            .collect::<Vec<_>>()
    };
    let inputs = names(session.inputs());
    let outputs = names(session.outputs());
    if inputs != [INPUT] || !outputs.iter().any(|o| o == OUTPUT) {
        return Err(TurnError::WrongModel {
            path,
            detail: format!(
                "expected input `{INPUT}` and output `{OUTPUT}`, found inputs {inputs:?} and outputs {outputs:?}"
            ),
        });
    }
    Ok(())
}
