//! Round trip with the real models: varied sentences are spoken by the Piper voice, resampled
//! from 22 050 Hz to 16 kHz, transcribed back by tiny.en Whisper, and scored by word error rate.
//!
//! Both sides go through the TTS normaliser before scoring, so "$4.50" and "four dollars and
//! fifty cents" are the same words; `duplex::wer` then ignores case, punctuation and hyphens.
//! Needs `bash scripts/setup.sh` first (models in `models/`).

use duplex::asr::WhisperModel;
use duplex::audio::PIPELINE_RATE;
use duplex::config::Config;
use duplex::tts::PiperVoice;
use duplex::wer::{corpus_wer, word_errors};

/// The bound for the set.
const MAX_WER: f64 = 0.15;

/// Sentences with numbers, money, times, ordinals, a percentage, abbreviations, questions and
/// long sentences with commas.
const SENTENCES: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "Dr. Smith will see you at 3:30 this afternoon.",
    "Can you tell me how far it is to the nearest train station?",
    "The ticket costs $4.50, and the museum opens at nine in the morning.",
    "We sold 1,250 books last year, which was a record for our small shop.",
    "Please bring water, snacks, a warm jacket, and comfortable shoes for the long hike tomorrow.",
    "About 75% of the students passed the final exam.",
    "She finished in 3rd place, just behind her older brother.",
    "Mr. Jones lives on the 5th floor of that old building.",
    "Is it going to rain tomorrow, or will it be sunny all day?",
    "Turn left at the next corner, then walk straight for about two blocks.",
    "The temperature dropped to 12 degrees last night, so wear a coat.",
];

/// Spells out what the TTS normaliser spells out, so both sides are compared as spoken words.
fn spoken(text: &str) -> String {
    duplex::text::normalize(text)
}

#[test]
fn spoken_sentences_are_transcribed_back_with_low_word_error_rate() {
    let config = Config::default();
    let mut voice = PiperVoice::load(&config.models, &config.tts).expect("voice loads");
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("whisper loads");
    let mut asr = whisper.session().expect("whisper session");
    let mut pairs = Vec::new();
    for sentence in SENTENCES {
        let native = voice
            .synthesize(sentence, voice.sample_rate())
            .expect("speaks");
        let samples =
            duplex::audio::resample::resample(&native, voice.sample_rate(), PIPELINE_RATE)
                .expect("resamples");
        let heard = asr.transcribe(&samples, None).expect("transcribes").text;
        let (reference, hypothesis) = (spoken(sentence), spoken(&heard));
        let (errors, words) = word_errors(&reference, &hypothesis);
        println!("{errors}/{words}  said: {sentence:?}\n      heard: {heard:?}");
        pairs.push((reference, hypothesis));
    }
    assert!(pairs.len() >= 10);
    let wer = corpus_wer(pairs.iter().map(|(r, h)| (r.as_str(), h.as_str())));
    println!("WER over {} sentences: {:.1} %", pairs.len(), wer * 100.0);
    assert!(
        wer < MAX_WER,
        "WER {:.1} % is not under {:.0} %",
        wer * 100.0,
        MAX_WER * 100.0
    );
}
