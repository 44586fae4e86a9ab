//! The Piper voice with the real model and espeak-ng: Piper's phoneme-id layout, phoneme
//! coverage, sentence-by-sentence streaming, resampling, speed, cancellation that really aborts
//! the ONNX run, and the errors a user can cause (missing voice, missing espeak-ng data, empty
//! text). Needs `bash scripts/setup.sh` first (models in `models/`).

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use duplex::config::Config;
use duplex::models::ModelError;
use duplex::tts::{PiperVoice, TtsConfig, TtsError};

/// One voice shared by the tests that do not time anything (loading takes seconds).
fn shared_voice() -> MutexGuard<'static, PiperVoice> {
    static VOICE: OnceLock<Mutex<PiperVoice>> = OnceLock::new();
    VOICE
        .get_or_init(|| {
            let config = Config::default();
            Mutex::new(PiperVoice::load(&config.models, &config.tts).expect("voice loads"))
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

#[test]
fn phoneme_ids_follow_piper_layout() {
    let voice = shared_voice();
    let utterances = voice.prepare("Hello world.").expect("prepares");
    assert_eq!(utterances.len(), 1);
    let u = &utterances[0];
    assert_eq!(u.phonemes, "həlˈoʊ wˈɜːld.");
    assert!(u.ends_sentence);
    // ^ _ (p _)* $ with ^ = 1, _ = 0, $ = 2 in Piper voices.
    assert_eq!(u.ids.len(), 2 * u.phonemes.chars().count() + 3);
    assert_eq!(&u.ids[..2], &[1, 0]);
    assert_eq!(u.ids.last(), Some(&2));
    assert!(
        u.ids[2..u.ids.len() - 1]
            .iter()
            .skip(1)
            .step_by(2)
            .all(|&id| id == 0)
    );
}

#[test]
fn sentences_and_clause_punctuation_are_kept() {
    let voice = shared_voice();
    let u = voice
        .prepare("Dr. Smith arrived at 3:30, late. Was he tired? Yes")
        .expect("prepares");
    let texts: Vec<&str> = u.iter().map(|u| u.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "doctor Smith arrived at three thirty, late.",
            "Was he tired?",
            "Yes"
        ]
    );
    assert_eq!(
        u.iter().map(|u| u.ends_sentence).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert!(
        u[0].phonemes.contains(", "),
        "comma then space: {}",
        u[0].phonemes
    );
    assert!(u[1].phonemes.ends_with('?'));
}

#[test]
fn every_phoneme_of_varied_english_is_in_the_voice_map() {
    let voice = shared_voice();
    let text = "The quick brown fox jumps over the lazy dog. Pack my box with five dozen \
                liquor jugs! How vexingly quick daft zebras jump? A café's naïve façade; \
                thirty-three thousand rhythms, judge, measure, beige, church, thing, sing.";
    for u in voice.prepare(text).expect("prepares") {
        for c in u.phonemes.chars() {
            assert!(
                voice.voice().ids.contains(c),
                "phoneme {c:?} (U+{:04X}) of {:?} is not in the voice's map",
                c as u32,
                u.phonemes
            );
        }
    }
}

#[test]
fn speech_streams_one_piece_per_sentence_at_the_requested_rate() {
    let mut voice = shared_voice();
    let cancel = duplex::cancel::CancelToken::new();
    let mut pieces = Vec::new();
    voice
        .speak(
            "First sentence here. And a second one!",
            16_000,
            &cancel,
            |p| pieces.push(p),
        )
        .expect("speaks");
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[0].text, "First sentence here.");
    assert_eq!(pieces[1].text, "And a second one!");
    for p in &pieces {
        assert_eq!(p.sample_rate, 16_000);
        let seconds = p.samples.len() as f64 / 16_000.0;
        assert!(
            (0.5..4.0).contains(&seconds),
            "{seconds} s for {:?}",
            p.text
        );
        let peak = p.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.3 && peak <= 1.0, "peak {peak}");
    }
    // The same text at the voice's own rate: about 22050/16000 times as many samples.
    let native = voice
        .synthesize("First sentence here.", 22_050)
        .expect("speaks");
    let ratio = native.len() as f64 / pieces[0].samples.len() as f64;
    assert!((1.2..1.55).contains(&ratio), "ratio {ratio}");
}

#[test]
fn speed_setting_shortens_speech() {
    let config = Config::default();
    let steady = TtsConfig {
        noise_w: Some(0.0),
        ..config.tts.clone()
    };
    let mut normal = PiperVoice::load(&config.models, &steady).expect("loads");
    let mut fast = PiperVoice::load(
        &config.models,
        &TtsConfig {
            speed: 1.5,
            ..steady.clone()
        },
    )
    .expect("loads");
    let text = "This sentence is spoken at two different speeds.";
    let a = normal.synthesize(text, 22_050).expect("speaks").len() as f64;
    let b = fast.synthesize(text, 22_050).expect("speaks").len() as f64;
    assert!(b < a * 0.8, "fast {b} vs normal {a} samples");
    let bad = TtsConfig {
        speed: 0.0,
        ..config.tts
    };
    assert!(matches!(
        PiperVoice::load(&config.models, &bad),
        Err(TtsError::Setting(_))
    ));
}

/// A reply's pace follows the user's: a length factor stretches or shortens the speech, within
/// bounds (a factor beyond them is held at the bound).
#[test]
fn pace_stretches_speech_within_bounds() {
    let config = Config::default();
    let steady = TtsConfig {
        noise_w: Some(0.0),
        noise_scale: Some(0.0),
        ..config.tts.clone()
    };
    let mut voice = PiperVoice::load(&config.models, &steady).expect("loads");
    let text = "Sure, I can tell you about that. It takes a minute.";
    let mut length = |pace: f32| {
        voice.set_pace(pace);
        voice.synthesize(text, 22_050).expect("speaks").len() as f64
    };
    let normal = length(1.0);
    let slow = length(1.2);
    let quick = length(0.85);
    let beyond = length(3.0);
    let bound = length(1.25);
    println!("normal {normal}, slow {slow}, quick {quick}, 3.0 {beyond}, 1.25 {bound}");
    // Piper's durations round per phoneme and the edges are trimmed: the speech stretches by
    // less than the factor, but clearly.
    assert!(slow > normal * 1.05, "slow {slow} vs {normal}");
    assert!(quick < normal * 0.96, "quick {quick} vs {normal}");
    assert!(
        (beyond / bound - 1.0).abs() < 0.02,
        "held at the bound: {beyond} vs {bound}"
    );
    assert!(
        (length(1.0) / normal - 1.0).abs() < 0.02,
        "back to the voice's own pace"
    );
}

#[test]
fn cancel_aborts_the_onnx_run_in_progress() {
    let config = Config::default();
    let mut voice = PiperVoice::load(&config.models, &config.tts).expect("loads");
    // One long sentence: a single ONNX run, so only a real abort can end it early.
    let text = "This is one very long sentence without any full stop in it, which keeps \
                going through many clauses, with commas and more words, so that the voice \
                model needs a long single run to speak all of it, and a cancel that only \
                took effect between sentences would have to wait until the very end of it, \
                which is exactly what this test is here to rule out for good";
    let ids = voice.prepare(text).expect("prepares");
    assert_eq!(ids.len(), 1, "one utterance");
    let full = duplex::cancel::CancelToken::new();
    let started = Instant::now();
    voice.infer(&ids[0].ids, &full).expect("runs");
    let uncancelled = started.elapsed();

    let token = duplex::cancel::CancelToken::new();
    let remote = token.clone();
    let worker = std::thread::spawn(move || {
        let started = Instant::now();
        let result = voice.infer(&ids[0].ids, &token);
        (result, started.elapsed(), voice)
    });
    let delay = uncancelled / 10;
    std::thread::sleep(delay);
    let cancelled_at = Instant::now();
    remote.cancel();
    let (result, ran, mut voice) = worker.join().expect("worker");
    let after_cancel = cancelled_at.elapsed();
    println!(
        "full run {uncancelled:?}; cancelled after {delay:?}, returned {after_cancel:?} later \
         (ran {ran:?})"
    );
    assert!(matches!(result, Err(TtsError::Cancelled)), "{result:?}");
    assert!(
        ran < uncancelled / 2,
        "a cancelled run took {ran:?}, a full one {uncancelled:?}"
    );

    // A cancelled token stays cancelled and stops the next sentence before it starts...
    let started = Instant::now();
    let again = voice.speak("Another sentence.", 22_050, &remote, |_| {});
    assert!(matches!(again, Err(TtsError::Cancelled)));
    assert!(started.elapsed() < Duration::from_millis(50));
    // ...and a fresh token works.
    assert!(
        !voice
            .synthesize("Fine again.", 22_050)
            .expect("speaks")
            .is_empty()
    );
}

#[test]
fn a_missing_voice_file_names_the_file_and_the_fix() {
    let mut config = Config::default();
    config.models.piper_voice = PathBuf::from("/nonexistent/en_US-nobody.onnx");
    let err = PiperVoice::load(&config.models, &config.tts)
        .err()
        .expect("fails");
    assert!(matches!(err, TtsError::Model(ModelError::Missing { .. })));
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/en_US-nobody.onnx"), "{msg}");
    assert!(msg.contains("scripts/setup.sh"), "{msg}");
}

#[test]
fn a_missing_voice_config_names_the_json() {
    let config = Config::default();
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("en_US-joe-medium.onnx");
    let real = config.models.resolve(&config.models.piper_voice);
    let real = real.canonicalize().expect("the voice model exists");
    std::os::unix::fs::symlink(real, &model).expect("symlink");
    let mut paths = config.models.clone();
    paths.piper_voice = model;
    let err = PiperVoice::load(&paths, &config.tts).err().expect("fails");
    let msg = err.to_string();
    assert!(msg.contains("en_US-joe-medium.onnx.json"), "{msg}");
}

#[test]
fn a_missing_espeak_data_dir_says_what_to_install() {
    let config = Config::default();
    let tts = TtsConfig {
        espeak_data: Some(PathBuf::from("/nonexistent/espeak-ng-data")),
        ..config.tts
    };
    let err = PiperVoice::load(&config.models, &tts).err().expect("fails");
    assert!(matches!(err, TtsError::EspeakData { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/espeak-ng-data"), "{msg}");
    assert!(msg.contains("apt-get install espeak-ng-data"), "{msg}");
    assert!(msg.contains("tts.espeak_data"), "{msg}");
}

#[test]
fn empty_text_is_a_clear_error() {
    let mut voice = shared_voice();
    for text in ["", "   ", "🎉👍", "**  --- **", "\n\n"] {
        let err = voice.synthesize(text, 22_050).expect_err("fails");
        assert!(matches!(err, TtsError::EmptyText), "{text:?}: {err}");
        assert!(err.to_string().contains("nothing to say"));
    }
}
