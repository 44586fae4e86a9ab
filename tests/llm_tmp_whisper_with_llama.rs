//! TEMPORARY experiment (deleted after measuring): whisper speed in a binary that also links
//! llama.cpp (two ggml copies; the linker keeps one).
#[path = "llm_tmp_whisper_body.rs"]
mod body;
#[test]
fn whisper_speed() {
    let backend = llama_cpp_2::llama_backend::LlamaBackend::init().unwrap();
    let info = unsafe { std::ffi::CStr::from_ptr(llama_cpp_sys_2::llama_print_system_info()) };
    eprintln!(
        "llama system info in this binary: {}",
        info.to_string_lossy()
    );
    drop(backend);
    body::run("whisper + llama linked");
}
