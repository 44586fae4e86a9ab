//! Fuzzes the WAV reader (`duplex::audio::wav::parse_wav`, which `read_wav` uses for files)
//! with any bytes. Besides never panicking, a decoded WAV must keep `WavAudio`'s promises: a
//! supported rate, at least one channel and one frame, and samples in [-1, 1].
#![no_main]

use std::path::Path;

use duplex::audio::wav::parse_wav;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(wav) = parse_wav(data, Path::new("fuzz-input.wav")) else {
        return;
    };
    assert!(
        (8_000..=48_000).contains(&wav.sample_rate),
        "rate {}",
        wav.sample_rate
    );
    assert!(wav.channels >= 1);
    assert!(wav.samples.len() >= usize::from(wav.channels));
    if let Some(bad) = wav.samples.iter().find(|s| !(-1.0..=1.0).contains(*s)) {
        panic!("sample {bad} outside [-1, 1]");
    }
    let mono = wav.to_mono();
    assert_eq!(mono.len(), wav.samples.len() / usize::from(wav.channels));
    assert!(wav.duration_s().is_finite());
});
