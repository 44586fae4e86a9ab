//! The engines `duplex serve` shares between conversations, with the real models: two
//! sessions' engines leasing from pools of one Whisper state, one smart-turn and one Piper voice
//! each. Both transcribe at once and each gets its own words; each keeps its own voice pace;
//! both score turn ends. Needs `bash scripts/setup.sh` first (models in `models/`).

use std::thread;

use duplex::asr::WhisperModel;
use duplex::audio::load_pipeline_audio;
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::runtime::SharedEngines;
use duplex_core::cancel::CancelToken;

fn words(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect()
}

#[test]
fn two_sessions_lease_one_engine_of_each_kind_and_keep_their_own_results() {
    let config = Config::default();
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("whisper");
    let shared = SharedEngines::load(&config, &whisper, 1).expect("shared engines");
    assert_eq!(shared.size(), 1);
    let mut a = shared.session_engines(&config).expect("first session");
    let mut b = shared.session_engines(&config).expect("second session");

    // Both transcribe at once through the one Whisper state: each gets its own words.
    let go = load_pipeline_audio(&fixture_path("goforward.wav")).expect("goforward.wav");
    let jfk = load_pipeline_audio(&fixture_path("jfk.wav")).expect("jfk.wav");
    let (text_a, text_b) = thread::scope(|s| {
        let asr_a = &mut a.asr;
        let asr_b = &mut b.asr;
        let ta = s.spawn(move || asr_a.transcribe(&go, &CancelToken::new()));
        let tb = s.spawn(move || asr_b.transcribe(&jfk, &CancelToken::new()));
        (
            ta.join().expect("a").expect("a transcript"),
            tb.join().expect("b").expect("b transcript"),
        )
    });
    println!("a: {text_a:?}\nb: {text_b:?}");
    assert!(words(&text_a).contains("go forward"), "{text_a:?}");
    assert!(words(&text_b).contains("your country"), "{text_b:?}");

    // Each session's pace stays its own, though both speak with the one voice (1.25 is the
    // slowest a voice goes).
    let line = "Thank you, that is all I needed to know for today.";
    let never = CancelToken::new();
    b.tts.set_pace(1.25);
    let slow = b.tts.speak(line, &never).expect("b speaks");
    let normal = a.tts.speak(line, &never).expect("a speaks");
    println!(
        "a: {} samples, b (paced 1.25): {}",
        normal.len(),
        slow.len()
    );
    assert!(!normal.is_empty());
    assert!(
        slow.len() as f64 > normal.len() as f64 * 1.07,
        "the slower session's speech is longer ({} vs {})",
        slow.len(),
        normal.len()
    );
    assert_eq!(a.tts.rate(), b.tts.rate());

    // A cancelled job gets nothing and leaves the voice to the next.
    let cancelled = CancelToken::new();
    cancelled.cancel();
    assert!(a.tts.speak(line, &cancelled).expect("no error").is_empty());

    // Turn-end scores come from the one smart-turn for both.
    let silence = vec![0.0f32; 16_000];
    for engines in [&mut a, &mut b] {
        let p = engines.turn.score(&silence).expect("a score");
        assert!((0.0..=1.0).contains(&p));
    }
}
