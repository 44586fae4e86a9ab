//! TEMPORARY experiment (deleted after measuring): whisper speed in a binary with one ggml.
#[path = "llm_tmp_whisper_body.rs"]
mod body;
#[test]
fn whisper_speed() {
    body::run("whisper only");
}
