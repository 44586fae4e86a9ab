//! TEMPORARY experiment body.
#![allow(dead_code)]
use std::time::Instant;
pub fn run(label: &str) {
    let paths = duplex::config::ModelPaths::default();
    let samples = duplex::audio::load_pipeline_audio(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/audio-fixtures/jfk.wav"
    )))
    .unwrap();
    let model =
        duplex::asr::WhisperModel::load(&paths, &duplex::asr::AsrConfig::default()).unwrap();
    let mut session = model.session().unwrap();
    eprintln!(
        "[{label}] whisper system info: {}",
        whisper_rs::print_system_info()
    );
    let t = session.transcribe(&samples, None).unwrap();
    eprintln!("[{label}] {}", t.text);
    let mut ms = Vec::new();
    for _ in 0..7 {
        let s = Instant::now();
        let _ = session.transcribe(&samples, None).unwrap();
        ms.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    eprintln!(
        "[{label}] jfk.wav (11 s) transcribe ms: median {:.0}, min {:.0}, all {:?}",
        ms[3],
        ms[0],
        ms.iter().map(|m| m.round()).collect::<Vec<_>>()
    );
}
