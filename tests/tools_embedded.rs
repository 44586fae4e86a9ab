//! Tool calls from the balanced brain (Qwen2.5-Coder-0.5B) in the real `duplex-llm` worker
//! (issue 28): told about the built-in tools by duplex's prompt builder, asked for a sum, it
//! writes a call that the streaming parser takes out of the speech, whose arguments fit the
//! tool's schema (the worker holds a call to it with a grammar), and that the registry runs.
//! Build the worker first: `cargo build --release -p duplex-llm`.

#[path = "llm_common.rs"]
mod common;

use duplex::llm::{CancelToken, Conversation, TurnManager};
use duplex::tools::prompt::system_prompt_with_tools;
use duplex::tools::stream::{ReplyPiece, ToolCallParser};
use duplex::tools::{CancellationToken, ToolOutcome, ToolRegistry};

#[test]
fn asked_for_a_sum_the_brain_calls_calculate_and_the_call_is_never_speech() {
    let registry = ToolRegistry::with_builtins();
    let system = system_prompt_with_tools(
        "You are a voice assistant. Answer in one short sentence.",
        registry.tools(),
    );
    let backend = common::embedded_on(&common::default_brain_model());
    let mut manager = TurnManager::new(
        Box::new(backend),
        Conversation::new(&system, 4096),
        common::greedy(96),
    );
    let mut parser = ToolCallParser::new();
    let mut pieces = Vec::new();
    let reply = manager
        .respond(
            "What is 17.5 times 4? Use the calculator.",
            &CancelToken::new(),
            &mut |piece| pieces.extend(parser.push(piece)),
        )
        .expect("a reply");
    pieces.extend(parser.finish());
    eprintln!("reply: {:?}\npieces: {pieces:?}", reply.text);
    let calls: Vec<_> = pieces
        .iter()
        .filter_map(|p| match p {
            ReplyPiece::Call(call) => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "one call expected: {pieces:?}");
    assert_eq!(calls[0].name, "calculate");
    assert!(
        pieces.iter().all(|p| match p {
            ReplyPiece::Speech(text) => !text.contains("tool_call") && !text.contains("\"name\""),
            ReplyPiece::Call(_) => true,
            other => panic!("not a clean reply: {other:?}"),
        }),
        "{pieces:?}"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        runtime.block_on(registry.call(calls[0], &CancellationToken::new())),
        ToolOutcome::Ok("70".into())
    );
}
