//! End of turn on real speech: smart-turn v3.2 with the Rust log-mel front end, scored on jfk.wav
//! cut where Silero VAD ends each stretch of speech, against the Python reference pipeline's
//! numbers in `shared/models.md` (whole utterance 0.855, after "fellow Americans" 0.786, after
//! "ask not" 0.012).

use duplex::audio::load_pipeline_audio;
use duplex::config::{Config, ModelPaths};
use duplex::fixtures::fixture_path;
use duplex::models::ModelError;
use duplex::turn::mel::WINDOW_SAMPLES;
use duplex::turn::{SmartTurn, TurnConfig, TurnError, TurnScorer};
use duplex::vad::{SileroVad, VadConfig, detect_segments};

/// End of "And so my fellow Americans" (2.240 s): a mid-sentence pause.
const AFTER_AMERICANS: usize = 35_840;
/// End of "ask not" (4.416 s): clearly unfinished.
const AFTER_ASK_NOT: usize = 70_656;
/// End of "... for your country." (10.592 s): the whole utterance, without the noise after it.
const WHOLE_UTTERANCE: usize = 169_472;

/// The reference scores and how far from them a score may be.
const REF_AMERICANS: f32 = 0.786;
const REF_ASK_NOT: f32 = 0.012;
const REF_WHOLE: f32 = 0.855;
/// The model is int8-quantized, and ONNX Runtime's int8 kernels differ by CPU: on an AMD EPYC
/// with AVX512-VNNI the whole utterance scores 0.917 (the other two stay within 0.003), so the
/// reference is met within 0.08; the decisions (above or below 0.5) are asserted exactly below.
const TOLERANCE: f32 = 0.08;

fn jfk() -> Vec<f32> {
    load_pipeline_audio(&fixture_path("jfk.wav")).expect("jfk.wav reads")
}

fn model() -> SmartTurn {
    SmartTurn::load(&Config::default().models).expect("smart-turn loads")
}

fn assert_near(name: &str, score: f32, reference: f32) {
    assert!(
        (score - reference).abs() <= TOLERANCE,
        "{name}: scored {score:.4}, the reference pipeline gives {reference} (± {TOLERANCE})"
    );
}

#[test]
fn jfk_scores_match_the_reference_pipeline() {
    let audio = jfk();
    let mut turn = model();
    let whole = turn.score(&audio[..WHOLE_UTTERANCE]).expect("scores");
    let americans = turn.score(&audio[..AFTER_AMERICANS]).expect("scores");
    let ask_not = turn.score(&audio[..AFTER_ASK_NOT]).expect("scores");
    println!(
        "whole {whole:.4}, after \"fellow Americans\" {americans:.4}, after \"ask not\" {ask_not:.4}"
    );
    assert_near("whole utterance", whole, REF_WHOLE);
    assert_near("after \"fellow Americans\"", americans, REF_AMERICANS);
    assert_near("after \"ask not\"", ask_not, REF_ASK_NOT);
    assert!(
        whole > 0.5 && americans > 0.5,
        "complete-sounding ends score above 0.5"
    );
    assert!(
        ask_not < 0.5,
        "\"ask not\" is unfinished and must score below 0.5"
    );
}

#[test]
fn cut_points_are_where_silero_vad_ends_the_speech() {
    let audio = jfk();
    let mut vad = SileroVad::load(&Config::default().models).expect("VAD loads");
    let config = VadConfig {
        threshold: 0.5,
        neg_threshold: 0.35,
        min_speech_ms: 250,
        min_silence_ms: 100,
        speech_pad_ms: 0,
    };
    let ends: Vec<u64> = detect_segments(&mut vad, &audio, &config)
        .expect("vad")
        .iter()
        .map(|s| s.end)
        .collect();
    for cut in [AFTER_AMERICANS, AFTER_ASK_NOT, WHOLE_UTTERANCE] {
        assert!(
            ends.contains(&(cut as u64)),
            "no VAD segment ends at sample {cut}; ends are {ends:?}"
        );
    }
}

#[test]
fn only_the_last_eight_seconds_count() {
    let audio = jfk();
    let mut turn = model();
    let all = turn.score(&audio[..WHOLE_UTTERANCE]).expect("scores");
    let last_8s = turn
        .score(&audio[WHOLE_UTTERANCE - WINDOW_SAMPLES..WHOLE_UTTERANCE])
        .expect("scores");
    assert_eq!(all, last_8s);
}

#[test]
fn reused_buffers_give_repeatable_scores_through_the_trait() {
    let audio = jfk();
    let mut turn = model();
    let scorer: &mut dyn TurnScorer = &mut turn;
    let first = scorer.score(&audio[..AFTER_AMERICANS]).expect("scores");
    scorer.score(&audio).expect("scores");
    scorer.score(&audio[..AFTER_ASK_NOT]).expect("scores");
    let again = scorer.score(&audio[..AFTER_AMERICANS]).expect("scores");
    assert_eq!(first, again);
}

#[test]
fn two_threads_score_like_one() {
    let audio = jfk();
    let paths = Config::default().models;
    let mut one = SmartTurn::load_with(&paths, &TurnConfig { threads: 1 }).expect("loads");
    let mut two = SmartTurn::load_with(&paths, &TurnConfig { threads: 2 }).expect("loads");
    for cut in [AFTER_AMERICANS, AFTER_ASK_NOT, WHOLE_UTTERANCE] {
        let (a, b) = (
            one.score(&audio[..cut]).unwrap(),
            two.score(&audio[..cut]).unwrap(),
        );
        assert!(
            (a - b).abs() < 1e-4,
            "cut {cut}: {a} with 1 thread, {b} with 2"
        );
    }
}

#[test]
fn silence_and_empty_input_score_without_error() {
    let mut turn = model();
    for audio in [Vec::new(), vec![0.0f32; 16_000], vec![0.0f32; 200_000]] {
        let p = turn.score(&audio).expect("scores");
        assert!(
            (0.0..=1.0).contains(&p),
            "{} samples scored {p}",
            audio.len()
        );
    }
}

#[test]
fn a_missing_model_names_the_file_and_the_fix() {
    let paths = ModelPaths {
        smart_turn: "no-such-smart-turn.onnx".into(),
        ..Config::default().models
    };
    let err = SmartTurn::load(&paths).err().expect("must fail");
    assert!(matches!(err, TurnError::Model(ModelError::Missing { .. })));
    let message = err.to_string();
    assert!(message.contains("no-such-smart-turn.onnx"), "{message}");
    assert!(message.contains("scripts/setup.sh"), "{message}");
}

#[test]
fn another_onnx_model_is_refused_with_a_clear_error() {
    let defaults = Config::default().models;
    let paths = ModelPaths {
        smart_turn: defaults.silero_vad.clone(),
        ..defaults
    };
    let err = SmartTurn::load(&paths).err().expect("must fail");
    let message = err.to_string();
    assert!(matches!(err, TurnError::WrongModel { .. }), "{message}");
    assert!(message.contains("silero_vad.onnx"), "{message}");
    assert!(message.contains("input_features"), "{message}");
}
