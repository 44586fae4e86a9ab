//! The server's shared LLM worker (`duplex serve --shared-llm`, `src/llm/shared.rs`), with the
//! real model: two conversations on two sequences of one worker process answer at the same time
//! and each remembers its own words; a third conversation, with no sequence left, gets a worker
//! of its own; when the shared worker is killed, both conversations recover on a new one.

#[path = "llm_common.rs"]
mod common;

use duplex::llm::config::LlmConfig;
use duplex::llm::shared::{self, SharedWorker};
use duplex::llm::{TurnManager, build_backend};

fn conversation() -> TurnManager {
    let config = LlmConfig {
        embedded: common::embedded_config(),
        ..LlmConfig::default()
    };
    common::manager(
        build_backend(&config, &common::model()).expect("a backend"),
        40,
    )
}

#[test]
fn two_conversations_share_one_worker_and_recover_together() {
    let pool = SharedWorker::new(common::embedded_config(), &common::model(), 2);
    assert!(shared::install(pool.clone()));
    let mut ada = conversation();
    let mut bob = conversation();
    let pid = ada.backend_mut().process_id().expect("a worker");
    assert_eq!(bob.backend_mut().process_id(), Some(pid), "one worker");
    // A third conversation finds no free sequence: it gets a worker of its own.
    let mut third = conversation();
    let own = third.backend_mut().process_id().expect("a worker");
    assert_ne!(own, pid, "the third has its own worker");
    drop(third);

    // Both speak at once, on two threads.
    let (ada, bob) = std::thread::scope(|s| {
        let a = s.spawn(move || {
            common::say(&mut ada, "My name is Ada.");
            ada
        });
        let b = s.spawn(move || {
            common::say(&mut bob, "My name is Bob.");
            bob
        });
        (a.join().expect("ada"), b.join().expect("bob"))
    });
    let (mut ada, mut bob) = (ada, bob);
    let a = common::say(&mut ada, "What is my name?");
    let b = common::say(&mut bob, "What is my name?");
    assert!(a.text.to_lowercase().contains("ada"), "{:?}", a.text);
    assert!(b.text.to_lowercase().contains("bob"), "{:?}", b.text);
    // Each conversation found its own history cached in its own sequence.
    for reply in [&a, &b] {
        let w = reply.finish.worker.as_ref().expect("worker stats");
        assert!(w.prompt_tokens - w.cached_tokens < 25, "{w:?}");
    }

    // The shared worker dies: each conversation restarts it (the first to notice starts a new
    // one, the other leases a sequence of it) and goes on with its history.
    common::kill(pid);
    for (m, name) in [(&mut ada, "Ada"), (&mut bob, "Bob")] {
        let reply = common::say(m, "Say my name again, please.");
        assert!(!reply.text.trim().is_empty());
        // The whole history went to the new worker (the tiny model may still misname).
        let w = reply.finish.worker.as_ref().expect("worker stats");
        assert!(w.prompt_tokens > 100, "{w:?}");
        let history: String = m.memory().turns().map(|t| t.text.clone()).collect();
        assert!(history.contains(name), "{history}");
    }
    let new_pid = ada.backend_mut().process_id().expect("a worker");
    assert_ne!(new_pid, pid, "a new worker");
    assert_eq!(
        bob.backend_mut().process_id(),
        Some(new_pid),
        "still one worker"
    );
    assert_eq!(pool.pid(), Some(new_pid));
}
