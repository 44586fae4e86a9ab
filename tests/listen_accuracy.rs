//! Listening accuracy with the real models on real speech: VAD + tiny.en Whisper over every
//! fixture that has a reference, scored by normalised word error rate.

use duplex::config::Config;
use duplex::fixtures::{fixture_path, manifest};
use duplex::transcribe::Listener;
use duplex::wer::{corpus_wer, word_errors};

/// tiny.en measured 7.2 % on a similar set; the issue allows 10 %.
const MAX_WER: f64 = 0.10;

#[test]
fn word_error_rate_over_all_referenced_fixtures_is_under_ten_percent() {
    let mut listener = Listener::load(&Config::default()).expect("models load");
    let mut pairs = Vec::new();
    for fixture in manifest().expect("manifest") {
        let Some(reference) = fixture.reference else {
            continue;
        };
        let transcript = listener
            .transcribe_file(&fixture_path(&fixture.file))
            .expect("transcribes");
        let hypothesis = transcript.text();
        let (errors, words) = word_errors(&reference, &hypothesis);
        println!(
            "{:<28} {errors}/{words}  ref: {reference:?}  hyp: {hypothesis:?}",
            fixture.file
        );
        pairs.push((reference, hypothesis));
    }
    assert!(pairs.len() >= 15, "expected all referenced fixtures");
    let wer = corpus_wer(pairs.iter().map(|(r, h)| (r.as_str(), h.as_str())));
    println!("WER over {} fixtures: {:.1} %", pairs.len(), wer * 100.0);
    assert!(wer <= MAX_WER, "WER {:.1} % is above 10 %", wer * 100.0);
}

#[test]
fn jfk_transcript_is_exact_up_to_normalisation() {
    let mut listener = Listener::load(&Config::default()).expect("models load");
    let transcript = listener
        .transcribe_file(&fixture_path("jfk.wav"))
        .expect("transcribes");
    let reference = "And so my fellow Americans, ask not what your country can do for you, \
                     ask what you can do for your country.";
    assert_eq!(word_errors(reference, &transcript.text()), (0, 22));
}

/// The engines a server keeps ready for its next caller hold an idle Whisper session: its
/// decoding state is made when the session's transcription worker starts (`prepare`) or, failing
/// that, at the first transcription. Both ways hear jfk exactly, like a session made ready.
#[test]
fn an_idle_whisper_session_makes_its_state_when_used_and_hears_the_same() {
    let config = Config::default();
    let whisper = duplex::asr::WhisperModel::load(&config.models, &config.asr).expect("loads");
    let audio = duplex::audio::wav::read_wav(&fixture_path("jfk.wav")).expect("reads jfk.wav");
    assert_eq!(audio.sample_rate, duplex::audio::PIPELINE_RATE);
    let samples = audio.to_mono();
    let reference = "And so my fellow Americans, ask not what your country can do for you, \
                     ask what you can do for your country.";
    let mut prepared = whisper.idle_session();
    prepared.prepare().expect("the state is made");
    let mut lazy = whisper.idle_session();
    for session in [&mut prepared, &mut lazy] {
        let heard = session
            .transcribe(&samples, None)
            .expect("transcribes")
            .text;
        assert_eq!(word_errors(reference, &heard), (0, 22), "heard {heard:?}");
    }
}
