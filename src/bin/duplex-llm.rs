//! `duplex-llm`: the LLM worker process spawned by `duplex` (see `src/llm_worker/mod.rs`).
//!
//! This binary must never use the `duplex` library: that library links whisper.cpp's ggml, this
//! one links llama.cpp's, and one binary can hold only one ggml safely. Its modules are therefore
//! included by path rather than imported from the library.

#[path = "../llm_worker/mod.rs"]
mod llm_worker;

fn main() -> std::process::ExitCode {
    llm_worker::main()
}
