//! Stage bench for speaking: time to first audio of a 12-word reply and the real-time factor of
//! the Piper voice, with one and two threads. Writes JSON to `bench-results/tts.json` and prints
//! it.
//!
//! Time to first audio is taken the way the agent speaks a reply: the reply's tokens go through
//! the sentence chunker, and the clock runs from the first token to the first synthesised
//! samples of the first chunk (normalise, phonemize, ONNX run, resample to 16 kHz). The same is
//! reported without the chunker (the whole first sentence), which is what waiting for a full
//! sentence costs. The real-time factor is compute time over audio time for a paragraph.
//!
//! Run: `cargo bench --bench tts` (after `bash scripts/setup.sh`).

use std::time::Instant;

use duplex::audio::PIPELINE_RATE;
use duplex::config::Config;
use duplex::text::SentenceChunker;
use duplex::tts::{PiperVoice, TtsConfig};
use serde_json::json;

/// Timed repetitions per measurement; the median is reported (and the minimum, for a busy
/// machine).
const REPEATS: usize = 7;

/// A 12-word reply.
const REPLY: &str = "The capital of France is Paris, a beautiful city on the Seine.";

/// A paragraph for the real-time factor (several sentences, about 20 s of speech).
const PARAGRAPH: &str = "Good morning! Today will be mostly sunny, with a high of 24 degrees \
    and a light breeze from the west. In the afternoon, clouds may build up over the hills, \
    but rain is unlikely before 8 pm. Tomorrow looks cooler, so keep a jacket at hand. \
    Would you like the forecast for the weekend as well?";

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Seconds from the first token of `REPLY` to the first samples of its first chunk, the text of
/// that chunk, and its seconds of audio.
fn first_audio_chunked(voice: &mut PiperVoice, config: &TtsConfig) -> (f64, String, f64) {
    let cancel = duplex::cancel::CancelToken::new();
    let started = Instant::now();
    let mut chunker = SentenceChunker::new(config.chunker);
    let mut first = None;
    for token in REPLY.split_inclusive(' ') {
        if let Some(chunk) = chunker.push(token).into_iter().next() {
            first = Some(chunk);
            break;
        }
    }
    let chunk = first
        .or_else(|| chunker.finish())
        .expect("the reply has a chunk");
    let mut result = None;
    voice
        .speak(&chunk.text, PIPELINE_RATE, &cancel, |piece| {
            if result.is_none() {
                let audio = piece.samples.len() as f64 / f64::from(PIPELINE_RATE);
                result = Some((started.elapsed().as_secs_f64(), audio));
            }
        })
        .expect("speaks");
    let (t, audio) = result.expect("audio came");
    (t, chunk.text, audio)
}

/// Seconds from the text to the first samples when the whole reply is spoken at once.
fn first_audio_whole(voice: &mut PiperVoice) -> f64 {
    let cancel = duplex::cancel::CancelToken::new();
    let started = Instant::now();
    let mut first = None;
    voice
        .speak(REPLY, PIPELINE_RATE, &cancel, |_| {
            first.get_or_insert_with(|| started.elapsed().as_secs_f64());
        })
        .expect("speaks");
    first.expect("audio came")
}

/// (compute seconds, audio seconds) for speaking `text` at the voice's own rate.
fn real_time(voice: &mut PiperVoice, text: &str) -> (f64, f64) {
    let started = Instant::now();
    let samples = voice.synthesize(text, voice.sample_rate()).expect("speaks");
    let took = started.elapsed().as_secs_f64();
    (took, samples.len() as f64 / f64::from(voice.sample_rate()))
}

fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn main() {
    let config = Config::default();
    let words = REPLY.split_whitespace().count();
    let mut runs = Vec::new();
    for threads in [1, 2] {
        let tts = TtsConfig {
            threads,
            ..config.tts.clone()
        };
        let loading = Instant::now();
        let mut voice = PiperVoice::load(&config.models, &tts).expect("voice loads");
        let load_s = loading.elapsed().as_secs_f64();
        // Warm-up: the first runs allocate ONNX Runtime's arenas.
        for _ in 0..2 {
            voice.synthesize(REPLY, PIPELINE_RATE).expect("warm-up");
        }
        let mut chunked = Vec::new();
        let mut whole = Vec::new();
        let mut first_chunk = (String::new(), 0.0);
        let mut rtf_paragraph = Vec::new();
        let mut rtf_reply = Vec::new();
        let mut audio_paragraph = 0.0;
        for _ in 0..REPEATS {
            let (t, text, audio) = first_audio_chunked(&mut voice, &tts);
            chunked.push(t * 1000.0);
            first_chunk = (text, audio);
            whole.push(first_audio_whole(&mut voice) * 1000.0);
            let (took, audio) = real_time(&mut voice, PARAGRAPH);
            rtf_paragraph.push(took / audio);
            audio_paragraph = audio;
            let (took, audio) = real_time(&mut voice, REPLY);
            rtf_reply.push(took / audio);
        }
        runs.push(json!({
            "threads": threads,
            "load_s": load_s,
            "first_audio_ms": median(chunked.clone()),
            "first_audio_ms_min": min(&chunked),
            "first_chunk": first_chunk.0,
            "first_chunk_audio_s": first_chunk.1,
            "first_audio_whole_sentence_ms": median(whole.clone()),
            "first_audio_whole_sentence_ms_min": min(&whole),
            "rtf": median(rtf_paragraph.clone()),
            "rtf_min": min(&rtf_paragraph),
            "rtf_paragraph_audio_s": audio_paragraph,
            "rtf_reply": median(rtf_reply),
        }));
    }
    let report = json!({
        "bench": "tts",
        "voice": config.models.piper_voice,
        "reply": REPLY,
        "reply_words": words,
        "first_audio_rate_hz": PIPELINE_RATE,
        "repeats": REPEATS,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "load_average_at_end": load_average(),
        "runs": runs,
    });
    let text = serde_json::to_string_pretty(&report).expect("JSON");
    println!("{text}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    std::fs::create_dir_all(&dir).expect("bench-results dir");
    std::fs::write(dir.join("tts.json"), text).expect("writes JSON");
}
