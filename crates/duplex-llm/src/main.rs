//! `duplex-llm`: the LLM worker process (llama.cpp, SmolLM2 by default), spawned by `duplex`.
//!
//! Why a separate process: whisper-rs and llama-cpp-2 each bundle their own copy of ggml, and a
//! binary holding both keeps only one of them, silently (whisper then ran on llama.cpp's ggml,
//! with other CPU features). This crate is the only one in the workspace that depends on
//! llama-cpp-2, and it does not depend on the `duplex` crate (which links whisper.cpp); the two
//! share only `duplex-llm-protocol`. So each binary holds exactly one ggml, by the dependency
//! graph, and `tests/llm_shipped.rs` checks the symbols.
//!
//! The worker loads the model, prints a `loaded` event, then serves the line-delimited JSON
//! protocol of `duplex-llm-protocol` on stdin/stdout until stdin closes. llama.cpp's own log goes to
//! stderr only when `DUPLEX_LLM_LOG` is set.

mod chatml;
mod engine;
mod grammar;
mod serve;
mod utf8;

use std::ffi::CStr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use duplex_llm_protocol::Event;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaModel, RopeType};

/// Tokens decoded per llama_decode call during prefill.
const N_BATCH: u32 = 512;

/// Command line of the worker (the `duplex` library passes these; see `llm::embedded`).
#[derive(Parser, Debug)]
#[command(
    name = "duplex-llm",
    version,
    about = "duplex's LLM worker (llama.cpp)"
)]
struct Args {
    /// The GGUF model (ChatML template).
    #[arg(long)]
    pub model: PathBuf,
    /// Context size in tokens.
    #[arg(long, default_value_t = 4096)]
    pub n_ctx: u32,
    /// CPU threads (0: all cores but one).
    #[arg(long, default_value_t = 0)]
    pub threads: u32,
    /// CPU threads for prompt prefill (0: all cores). duplex passes the cores that other
    /// processes leave free when it starts the worker: on 2 cores with another process keeping
    /// one busy, 2 threads took the first token from 64 to 129 ms.
    #[arg(long, default_value_t = 0)]
    pub threads_batch: u32,
    /// Flash attention: on, off or auto. Off by default: on 2 CPU cores it made turn 20 of a
    /// conversation (940 tokens of context) 50 % slower to its first token than off did.
    #[arg(long, default_value = "off")]
    pub flash_attn: String,
}

/// Runs the worker; the exit code is non-zero only when start-up failed.
fn main() -> ExitCode {
    let args = Args::parse();
    let out = serve::Output::stdout();
    match run(&args, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("duplex-llm: {message}");
            out.send(&Event::Error { id: None, message });
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args, out: &serve::Output) -> Result<(), String> {
    if !args.model.is_file() {
        return Err(format!("model file {} not found", args.model.display()));
    }
    let mut backend = LlamaBackend::init().map_err(|e| format!("llama.cpp init failed: {e}"))?;
    if std::env::var_os("DUPLEX_LLM_LOG").is_none() {
        backend.void_logs();
    }
    let model = LlamaModel::load_from_file(&backend, &args.model, &LlamaModelParams::default())
        .map_err(|e| format!("cannot load model {}: {e}", args.model.display()))?;
    let template = model
        .chat_template(None)
        .ok()
        .and_then(|t| t.to_string().ok())
        .unwrap_or_default();
    if !chatml::is_chatml(&template) {
        return Err(format!(
            "model {} has no ChatML chat template (<|im_start|>...<|im_end|>); duplex-llm \
             renders ChatML only (SmolLM2, Qwen); use the openai backend for other models",
            args.model.display()
        ));
    }
    let threads = if args.threads == 0 {
        auto_threads()
    } else {
        args.threads
    };
    let threads_batch = if args.threads_batch == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
    } else {
        args.threads_batch
    };
    let params = LlamaContextParams::default()
        .with_n_ctx(engine::n_ctx_param(args.n_ctx))
        .with_n_batch(N_BATCH)
        .with_n_ubatch(N_BATCH)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads_batch as i32)
        .with_flash_attention_policy(match args.flash_attn.as_str() {
            "on" => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            "off" => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
            _ => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
        });
    let ctx = model
        .new_context(&backend, params)
        .map_err(|e| format!("cannot create a context of {} tokens: {e}", args.n_ctx))?;
    // llama.cpp can shift (re-rotate) cached positions for RoPE models such as SmolLM2.
    let can_shift = matches!(model.rope_type(), Some(RopeType::Norm | RopeType::NeoX));
    let mut engine = engine::Engine::new(&model, ctx, can_shift);
    engine.warm_up()?;
    out.send(&Event::Loaded {
        model: args.model.display().to_string(),
        n_ctx: engine.n_ctx(),
        threads,
        threads_batch,
        system_info: system_info(),
    });
    serve::serve(&mut engine, out);
    Ok(())
}

/// Threads when none are asked for: all cores but one. ggml's threads spin while they wait for
/// each other, so when another busy thread (speech synthesis, recognition) shares their cores
/// they stall: on 2 cores with one busy neighbour, 2 threads decoded 1 to 11 tokens/s and 1
/// thread 42. The spare core keeps the rest of the voice pipeline from stalling the model.
fn auto_threads() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
    cores.saturating_sub(1).max(1)
}

/// llama.cpp's system info line (which CPU features its ggml uses).
fn system_info() -> String {
    // SAFETY: llama_print_system_info returns a pointer to a static, NUL-terminated buffer
    // inside llama.cpp that stays valid until the next call; it is copied at once.
    let info = unsafe { CStr::from_ptr(llama_cpp_sys_2::llama_print_system_info()) };
    info.to_string_lossy().trim().to_owned()
}
