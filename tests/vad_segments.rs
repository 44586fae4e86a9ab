//! Voice activity on real recordings: no speech in noise or silence, speech found where it is,
//! and the same words from a 44.1 kHz stereo copy as from the 16 kHz original.

use duplex::audio::{PIPELINE_RATE, load_pipeline_audio, resample::resample};
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::transcribe::Listener;

fn listener() -> Listener {
    Listener::load(&Config::default()).expect("models load")
}

#[test]
fn noise_gives_no_segment() {
    let samples = load_pipeline_audio(&fixture_path("Noise.wav")).expect("reads");
    assert!(listener().segments(&samples).expect("vad").is_empty());
}

#[test]
fn digital_silence_gives_no_segment() {
    let silence = vec![0.0f32; 5 * PIPELINE_RATE as usize];
    assert!(listener().segments(&silence).expect("vad").is_empty());
}

#[test]
fn jfk_segments_cover_the_speech_from_its_first_onset() {
    let samples = load_pipeline_audio(&fixture_path("jfk.wav")).expect("reads");
    let segments = listener().segments(&samples).expect("vad");
    assert!(!segments.is_empty());
    let onset = segments[0].start_s();
    assert!(
        (onset - 0.35).abs() <= 0.100,
        "first onset at {onset:.3} s, expected 0.35 s ± 100 ms"
    );
    // The speech runs to about 10.5 s: the last segment must reach past 10 s.
    let last_end = segments.last().unwrap().end_s();
    assert!(last_end > 10.0, "last segment ends at {last_end:.2} s");
    for pair in segments.windows(2) {
        assert!(pair[0].end <= pair[1].start, "segments overlap: {pair:?}");
    }
}

#[test]
fn a_44k_stereo_copy_transcribes_like_the_16k_original() {
    let original = load_pipeline_audio(&fixture_path("jfk.wav")).expect("reads");
    let upsampled = resample(&original, PIPELINE_RATE, 44_100).expect("resamples");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("jfk-44k-stereo.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&copy, spec).unwrap();
    for s in &upsampled {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        writer.write_sample(v).unwrap();
        writer.write_sample(v).unwrap();
    }
    writer.finalize().unwrap();

    let mut listener = listener();
    let a = listener
        .transcribe_file(&fixture_path("jfk.wav"))
        .expect("original");
    let b = listener.transcribe_file(&copy).expect("copy");
    assert_eq!(a.text(), b.text());
}
