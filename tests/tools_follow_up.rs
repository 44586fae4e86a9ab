//! A whole tool round with the balanced brain (Qwen2.5-Coder-0.5B) in the real `duplex-llm`
//! worker (issue 28): asked for a sum, it writes a call that the streaming parser takes out of
//! the speech; the call runs as the conversation core would have it run ([`ToolRunner`], the
//! built-in calculator of the real registry); its outcome goes back with
//! [`TurnManager::respond_after_tools`], and the model says the result in words, with no tool
//! markup in its speech. Build the worker first: `cargo build --release -p duplex-llm`.

#[path = "llm_common.rs"]
mod common;

use std::sync::{Arc, mpsc};
use std::time::Duration;

use duplex::agent::{ToolCallId, ToolOutcome as CoreOutcome, ToolResult};
use duplex::llm::{CancelToken, Conversation, TurnManager};
use duplex::tools::prompt::system_prompt_with_tools;
use duplex::tools::stream::{ReplyPiece, ToolCallParser};
use duplex::tools::{ToolRegistry, ToolRunner};

#[test]
fn the_brain_calls_the_calculator_then_says_its_result() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let runner = ToolRunner::new(
        Arc::new(ToolRegistry::with_builtins()),
        runtime.handle().clone(),
    );
    let system = system_prompt_with_tools(
        "You are a voice assistant. Answer in one short sentence.",
        runner.registry().tools(),
    );
    let backend = common::embedded_on(&common::default_brain_model());
    let mut manager = TurnManager::new(
        Box::new(backend),
        Conversation::new(&system, 4096),
        common::greedy(96),
    );
    let mut parser = ToolCallParser::new();
    let mut pieces = Vec::new();
    manager
        .respond(
            "What is 17.5 times 4? Use the calculator.",
            &CancelToken::new(),
            &mut |piece| pieces.extend(parser.push(piece)),
        )
        .expect("a reply");
    pieces.extend(parser.finish());
    let call = pieces
        .iter()
        .find_map(|p| match p {
            ReplyPiece::Call(call) => Some(call.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no call: {pieces:?}"));
    let core_call = runner.core_call(ToolCallId("call-1".into()), &call);
    let (tx, rx) = mpsc::channel();
    runner.run(core_call.clone(), move |id, outcome| {
        let _ = tx.send((id, outcome));
    });
    let (id, outcome) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the call's outcome");
    assert_eq!(id, core_call.id);
    assert_eq!(outcome, CoreOutcome::Ok("70".into()));
    let told = runner.told(&ToolResult {
        call: core_call,
        outcome,
    });

    let mut spoken = String::new();
    let mut parser = ToolCallParser::new();
    let mut after = Vec::new();
    let reply = manager
        .respond_after_tools(&[told], &CancelToken::new(), &mut |piece| {
            after.extend(parser.push(piece))
        })
        .expect("the answer after the call");
    after.extend(parser.finish());
    for piece in &after {
        match piece {
            ReplyPiece::Speech(text) => spoken.push_str(text),
            other => panic!("the answer should be speech only: {other:?} in {after:?}"),
        }
    }
    eprintln!("answer: {:?}", reply.text);
    assert!(spoken.contains("70"), "{spoken:?}");
    assert!(!spoken.contains('<'), "{spoken:?}");
    // The history: the question, the call, its result, the answer.
    let turns: Vec<(&str, &str)> = manager
        .memory()
        .turns()
        .map(|t| (t.role.as_str(), t.text.as_str()))
        .collect();
    assert_eq!(turns.len(), 4, "{turns:?}");
    assert!(turns[1].1.contains("calculate"), "{turns:?}");
    assert!(
        turns[2]
            .1
            .starts_with("<tool_response>\n70\n</tool_response>\n"),
        "{turns:?}"
    );
    assert_eq!(turns[3].0, "assistant");
}
