//! duplex: a real-time, fully local speech-to-speech voice agent.
//!
//! Layers (see `README.md`): transports move audio; the runtime runs engines; the agent core
//! decides turn-taking; the stages here (audio, VAD, ASR, ...) each work alone on a WAV file.

pub mod aec;
pub mod asr;
pub mod audio;
pub mod config;
pub mod conversation_report;
pub mod cpu;
pub mod cues;
pub mod fixtures;
pub mod llm;
pub mod models;
pub mod onnx;
pub mod profile;
pub mod quality;
pub mod runtime;
pub mod tools;
pub mod transcribe;
pub mod transport;
pub mod tts;
pub mod turn;
pub mod vad;
pub mod web;

pub use duplex_core::{agent, cancel, playback, text, wer};
