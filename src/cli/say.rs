//! `duplex say "text" -o out.wav [--stream]`: speaks text with the Piper voice into a WAV file.
//!
//! Without `--stream` the whole text is synthesised and written at once. With `--stream` the
//! text is fed word by word through the sentence chunker, as an LLM reply would be; each chunk is
//! synthesised as soon as the chunker releases it and appended to the file (the WAV header is
//! rewritten after each, so the file is playable at every moment), and the time to first audio
//! is printed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use duplex::config::Config;
use duplex::text::{Chunk, SentenceChunker};
use duplex::tts::{PiperVoice, TtsError};
use hound::{SampleFormat, WavSpec, WavWriter};

/// Arguments of `duplex say`.
#[derive(clap::Args)]
pub struct SayArgs {
    /// The text to speak (markdown, numbers, abbreviations and emoji are handled).
    text: String,
    /// The WAV file to write (16-bit PCM, mono).
    #[arg(short, long)]
    output: PathBuf,
    /// Sample rate of the file in Hz (default: the voice's own, 22050).
    #[arg(long)]
    rate: Option<u32>,
    /// Speaking rate: 1.0 is the voice's own pace, 1.2 is 20 % faster.
    #[arg(long)]
    speed: Option<f32>,
    /// CPU threads for synthesis (overrides the config).
    #[arg(long)]
    threads: Option<usize>,
    /// Feed the text word by word through the sentence chunker, write each chunk as soon as it
    /// is synthesised, and print the time to first audio.
    #[arg(long)]
    stream: bool,
}

/// Runs the subcommand.
pub fn run(config: &Config, args: SayArgs) -> anyhow::Result<()> {
    if !duplex::text::normalize(&args.text)
        .chars()
        .any(char::is_alphanumeric)
    {
        return Err(TtsError::EmptyText.into());
    }
    let mut tts = config.tts.clone();
    if let Some(speed) = args.speed {
        tts.speed = speed;
    }
    if let Some(threads) = args.threads {
        tts.threads = threads;
    }
    let loading = Instant::now();
    let mut voice = PiperVoice::load(&config.models, &tts)?;
    let load_s = loading.elapsed().as_secs_f64();
    let rate = args.rate.unwrap_or(voice.sample_rate());
    if !(8_000..=192_000).contains(&rate) {
        anyhow::bail!("--rate {rate} is out of range (8000 to 192000 Hz)");
    }
    let mut out = Output::create(&args.output, rate)?;
    eprintln!("voice loaded in {load_s:.2} s");
    if args.stream {
        stream(&mut voice, &args.text, &tts.chunker, rate, &mut out)?;
    } else {
        let started = Instant::now();
        let samples = voice.synthesize(&args.text, rate)?;
        let took = started.elapsed().as_secs_f64();
        out.append(&samples)?;
        let audio_s = samples.len() as f64 / f64::from(rate);
        eprintln!(
            "{audio_s:.2} s of audio in {took:.3} s (real-time factor {:.3})",
            took / audio_s.max(1e-9)
        );
    }
    let total = out.finish()?;
    println!(
        "wrote {} ({:.2} s at {rate} Hz)",
        args.output.display(),
        total as f64 / f64::from(rate)
    );
    Ok(())
}

/// Streams `text` through the chunker and the voice into `out`, printing each chunk's timing.
fn stream(
    voice: &mut PiperVoice,
    text: &str,
    chunker: &duplex::text::ChunkerConfig,
    rate: u32,
    out: &mut Output,
) -> anyhow::Result<()> {
    let cancel = duplex::cancel::CancelToken::new();
    let mut chunker = SentenceChunker::new(*chunker);
    let started = Instant::now();
    let mut first_audio = None;
    let mut speak = |chunk: Chunk, out: &mut Output| -> anyhow::Result<()> {
        let mut result = Ok(());
        let mut chunk_samples = 0;
        voice.speak(&chunk.text, rate, &cancel, |piece| {
            chunk_samples += piece.samples.len();
            if result.is_ok() {
                result = out.append(&piece.samples);
            }
            first_audio.get_or_insert_with(|| {
                let t = started.elapsed().as_secs_f64() * 1000.0;
                eprintln!("time to first audio: {t:.0} ms");
                t
            });
        })?;
        result?;
        eprintln!(
            "chunk {} at {:6.0} ms: {:.2} s of audio  {:?}",
            chunk.index,
            started.elapsed().as_secs_f64() * 1000.0,
            chunk_samples as f64 / f64::from(rate),
            chunk.text
        );
        Ok(())
    };
    for token in text.split_inclusive(char::is_whitespace) {
        for chunk in chunker.push(token) {
            speak(chunk, out)?;
        }
    }
    if let Some(chunk) = chunker.finish() {
        speak(chunk, out)?;
    }
    let took = started.elapsed().as_secs_f64();
    let audio_s = out.samples as f64 / f64::from(rate);
    eprintln!(
        "{audio_s:.2} s of audio in {took:.3} s (real-time factor {:.3})",
        took / audio_s.max(1e-9)
    );
    Ok(())
}

/// A WAV file written piece by piece, playable after every piece.
struct Output {
    writer: WavWriter<std::io::BufWriter<std::fs::File>>,
    path: PathBuf,
    samples: usize,
}

impl Output {
    fn create(path: &Path, rate: u32) -> anyhow::Result<Self> {
        let spec = WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let writer = WavWriter::create(path, spec)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self {
            writer,
            path: path.to_owned(),
            samples: 0,
        })
    }

    fn append(&mut self, samples: &[f32]) -> anyhow::Result<()> {
        for &s in samples {
            self.writer
                .write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
                .with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        self.writer
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.samples += samples.len();
        Ok(())
    }

    fn finish(self) -> anyhow::Result<usize> {
        let path = self.path.display().to_string();
        self.writer
            .finalize()
            .with_context(|| format!("cannot write {path}"))?;
        Ok(self.samples)
    }
}
