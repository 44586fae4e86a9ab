//! A session ended mid-reply (a closed tab, a stopped `talk`) leaves nothing behind: with the
//! real engines and the real LLM worker process, the test asks a question, ends the session
//! while the reply is being generated and played, and counts the session's worker threads and
//! child processes before, during and after. `run_session` must return only once they are gone.
//! (One test in its own binary: other tests' threads would blur the counts.)

use std::time::{Duration, Instant};

use duplex::asr::WhisperModel;
use duplex::audio::{FRAME_SAMPLES, load_pipeline_audio};
use duplex::config::Config;
use duplex::fixtures::fixture_path;
use duplex::runtime::{TransportIn, load_local_engines, run_session, session_channels};
use duplex::transport::playout::ReplyPlayout;

/// Names of this process's threads started by duplex (engine workers, LLM pipe readers).
fn duplex_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("procfs") {
        let comm = task.expect("task").path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            let name = name.trim().to_owned();
            if name.starts_with("duplex-") || name.starts_with("llm-worker") {
                names.push(name);
            }
        }
    }
    names.sort();
    names
}

/// Child processes of this process, zombies included (they stay listed until reaped).
fn children() -> Vec<String> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("procfs") {
        let path = task.expect("task").path().join("children");
        if let Ok(list) = std::fs::read_to_string(path) {
            pids.extend(list.split_whitespace().map(str::to_owned));
        }
    }
    pids
}

#[test]
fn a_session_ended_mid_reply_stops_its_workers_and_its_llm_process() {
    let config = Config::default();
    let whisper = WhisperModel::load(&config.models, &config.asr).expect("Whisper loads");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime");
    assert!(duplex_threads().is_empty(), "{:?}", duplex_threads());
    assert!(children().is_empty(), "{:?}", children());

    let question = load_pipeline_audio(&fixture_path("goforward.wav")).expect("fixture");
    let (threads_during, children_during) = runtime.block_on(async {
        let engines = load_local_engines(&config, &whisper).expect("engines load");
        let (io, ends) = session_channels();
        let session = tokio::spawn(run_session(config.agent_config(), engines, io));
        let mut playout = ReplyPlayout::new(16_000, ends.playout);
        let mut frame = [0.0f32; FRAME_SAMPLES];
        let mut input = question.clone();
        input.resize(question.len() + 16_000 * 20, 0.0);
        let started = Instant::now();
        // Real time: a frame every 20 ms, until the reply is audible.
        for (sent, chunk) in input.chunks(FRAME_SAMPLES).enumerate() {
            let due = started + Duration::from_millis(20 * sent as u64);
            tokio::time::sleep_until(due.into()).await;
            let mut audio = chunk.to_vec();
            audio.resize(FRAME_SAMPLES, 0.0);
            ends.input
                .send(TransportIn::Audio(audio))
                .await
                .expect("session open");
            if playout.next_period(&mut frame).is_some_and(|n| n > 0) {
                break;
            }
        }
        assert!(
            frame.iter().any(|s| s.abs() > 0.0),
            "the reply never started playing"
        );
        let during = (duplex_threads(), children());
        // The tab closes mid-reply.
        drop(ends.input);
        drop(playout);
        tokio::time::timeout(Duration::from_secs(10), session)
            .await
            .expect("the session ends within 10 s")
            .expect("the session did not panic");
        during
    });
    println!("during the reply: threads {threads_during:?}, children {children_during:?}");
    assert!(threads_during.len() >= 4, "{threads_during:?}");
    assert_eq!(children_during.len(), 1, "one LLM worker process");
    // Checked as soon as run_session returned: nothing of the session is left.
    assert!(duplex_threads().is_empty(), "left: {:?}", duplex_threads());
    assert!(children().is_empty(), "left: {:?}", children());
}
