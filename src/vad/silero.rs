//! Silero VAD v6 through ONNX Runtime: 512 new samples with the previous 64 prepended, and the
//! recurrent state carried from call to call.

use ndarray::{Array2, Array3};
use ort::session::Session;
use ort::value::Tensor;

use super::{SpeechProbability, VAD_CHUNK, VadError};
use crate::audio::PIPELINE_RATE;
use crate::models::ModelPaths;

/// Samples of the previous chunk prepended to each new one.
const CONTEXT: usize = 64;

/// The Silero VAD model with its streaming state.
pub struct SileroVad {
    session: Session,
    state: Array3<f32>,
    context: [f32; CONTEXT],
    input: Array2<f32>,
}

impl SileroVad {
    /// Loads the model named in `paths` (one thread: it is tiny).
    pub fn load(paths: &ModelPaths) -> Result<Self, VadError> {
        let model = paths.resolve(&paths.silero_vad);
        let session = crate::onnx::load_session(paths, &model, "Silero VAD model", 1)?;
        Ok(Self {
            session,
            state: Array3::zeros((2, 1, 128)),
            context: [0.0; CONTEXT],
            input: Array2::zeros((1, CONTEXT + VAD_CHUNK)),
        })
    }
}

fn inference(e: impl std::fmt::Display) -> VadError {
    VadError::Inference(e.to_string())
}

impl SpeechProbability for SileroVad {
    fn probability(&mut self, chunk: &[f32; VAD_CHUNK]) -> Result<f32, VadError> {
        {
            let row = self.input.as_slice_mut().expect("input is contiguous");
            row[..CONTEXT].copy_from_slice(&self.context);
            row[CONTEXT..].copy_from_slice(chunk);
        }
        self.context.copy_from_slice(&chunk[VAD_CHUNK - CONTEXT..]);
        let input = Tensor::from_array(self.input.clone()).map_err(inference)?;
        let state = Tensor::from_array(self.state.clone()).map_err(inference)?;
        let sr = Tensor::from_array(ndarray::arr0(i64::from(PIPELINE_RATE))).map_err(inference)?;
        let outputs = self
            .session
            .run(ort::inputs!["input" => input, "state" => state, "sr" => sr])
            .map_err(inference)?;
        let prob = outputs["output"]
            .try_extract_array::<f32>()
            .map_err(inference)?
            .iter()
            .copied()
            .next()
            .ok_or_else(|| inference("empty VAD output"))?;
        let new_state = outputs["stateN"]
            .try_extract_array::<f32>()
            .map_err(inference)?;
        self.state
            .as_slice_mut()
            .expect("state is contiguous")
            .iter_mut()
            .zip(new_state.iter())
            .for_each(|(dst, &src)| *dst = src);
        Ok(prob)
    }

    fn reset(&mut self) {
        self.state.fill(0.0);
        self.context = [0.0; CONTEXT];
    }
}
