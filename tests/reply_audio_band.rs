//! Reply audio is resampled once, from the voice's own rate to the transport's, by one streaming
//! converter per reply: real Piper speech through the playout at WebRTC's 48 kHz keeps its
//! content above 8 kHz (the old 22.05 → 16 → 48 kHz path lost it all, shown as a control), and
//! two chunks come out exactly as their concatenation would: no seam at the join.

use duplex::agent::TurnId;
use duplex::audio::resample::resample;
use duplex::audio::stream::StreamResampler;
use duplex::cancel::CancelToken;
use duplex::config::Config;
use duplex::playback::ChunkId;
use duplex::runtime::{PlayChunk, Speak, TransportOut, session_channels};
use duplex::transport::playout::ReplyPlayout;
use duplex::tts::PiperVoice;
use realfft::RealFftPlanner;

const OUT_RATE: u32 = 48_000;

/// Share of the signal's energy between `low` and `high` Hz.
fn band_share(samples: &[f32], rate: u32, low: f32, high: f32) -> f64 {
    let n = samples.len().next_power_of_two();
    let mut input = samples.to_vec();
    input.resize(n, 0.0);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum).expect("fft");
    let hz = rate as f32 / n as f32;
    let (mut band, mut all) = (0.0f64, 0.0f64);
    for (i, c) in spectrum.iter().enumerate() {
        let power = f64::from(c.norm_sqr());
        all += power;
        let f = i as f32 * hz;
        if f >= low && f < high {
            band += power;
        }
    }
    band / all.max(f64::MIN_POSITIVE)
}

#[test]
fn piper_speech_reaches_the_transport_with_its_high_band_and_no_seam() {
    let config = Config::default();
    let mut voice = PiperVoice::load(&config.models, &config.tts).expect("voice loads");
    let rate = Speak::rate(&voice);
    let cancel = CancelToken::new();
    let first = Speak::speak(
        &mut voice,
        "She sells sea shells by the sea shore,",
        &cancel,
    )
    .expect("speaks");
    let second = Speak::speak(
        &mut voice,
        "and the shells she sells are surely seashells.",
        &cancel,
    )
    .expect("speaks");

    let (io, ends) = session_channels();
    let mut playout = ReplyPlayout::new(OUT_RATE, ends.playout);
    for (chunk, samples) in [first.clone(), second.clone()].into_iter().enumerate() {
        let id = ChunkId {
            turn: TurnId(1),
            chunk: chunk as u32,
        };
        let play = PlayChunk {
            epoch: 0,
            id,
            rate,
            samples,
        };
        io.output.try_send(TransportOut::Play(play)).expect("room");
    }
    let mut out = Vec::new();
    let mut frame = [0.0f32; 960];
    while let Some(n) = playout.next_period(&mut frame) {
        out.extend_from_slice(&frame[..n]);
        if playout.is_idle() {
            break;
        }
    }

    // The same speech through one converter in one go.
    let mut joined = first.clone();
    joined.extend_from_slice(&second);
    let mut reference = Vec::new();
    let mut converter = StreamResampler::new(rate, OUT_RATE).expect("converter");
    converter.process(&joined, &mut reference);
    converter.finish(&mut reference);
    assert_eq!(out.len(), reference.len());
    let worst = out
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "the join differs from one stream by {worst}");

    let high = band_share(&out, OUT_RATE, 8_000.0, 11_000.0);
    let twice = resample(
        &resample(&joined, rate, 16_000).expect("down"),
        16_000,
        OUT_RATE,
    )
    .expect("up");
    let high_twice = band_share(&twice, OUT_RATE, 8_000.0, 11_000.0);
    println!("energy share 8-11 kHz: once {high:.2e}, via 16 kHz {high_twice:.2e}");
    assert!(high > 1e-4, "the voice lost its high band: {high:.2e}");
    assert!(high > 100.0 * high_twice, "{high:.2e} vs {high_twice:.2e}");
}
