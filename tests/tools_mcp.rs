//! MCP servers as tool sources (issue 28), against a real server from PyPI: `mcp-server-time`
//! (`pip install mcp-server-time`, or `bash scripts/setup_test_deps.sh`). Its tools are listed
//! as `time_{tool}`, called through the registry, and a server that dies mid-call ends the call
//! with a clear outcome while the registry goes on.

use std::process::Command;

use duplex::tools::{
    CancellationToken, McpServerSpec, ToolCall, ToolOutcome, ToolRegistry, ToolSource,
};
use serde_json::{Value, json};

/// Generous: the Python server starts slowly on a loaded machine.
const START_MS: u64 = 60_000;

fn require_mcp_server_time() {
    let found = Command::new("python3")
        .args(["-c", "import mcp_server_time"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the MCP server for this test is missing: pip install mcp-server-time \
         (or bash scripts/setup_test_deps.sh)"
    );
}

fn server(name: &str, command: &[&str]) -> McpServerSpec {
    McpServerSpec {
        name: name.into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        timeout_ms: START_MS,
    }
}

fn time_server() -> McpServerSpec {
    server(
        "time",
        &[
            "python3",
            "-m",
            "mcp_server_time",
            "--local-timezone",
            "UTC",
        ],
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn call(registry: &ToolRegistry, name: &str, arguments: Value) -> ToolOutcome {
    let call = ToolCall {
        name: name.into(),
        arguments,
    };
    registry.call(&call, &CancellationToken::new()).await
}

#[test]
fn the_time_servers_tools_are_listed_and_answer() {
    require_mcp_server_time();
    runtime().block_on(async {
        let registry = ToolRegistry::from_config(&[], &[time_server()])
            .await
            .unwrap();
        assert_eq!(registry.problems(), [] as [String; 0]);
        let current = registry.get("time_get_current_time").expect("listed");
        assert_eq!(current.source, ToolSource::Mcp("time".into()));
        assert!(!current.description.is_empty());
        assert_eq!(current.parameters["type"], "object");
        assert!(registry.get("time_convert_time").is_some());

        let ToolOutcome::Ok(now) = call(
            &registry,
            "time_get_current_time",
            json!({ "timezone": "Asia/Tokyo" }),
        )
        .await
        else {
            panic!("no answer from get_current_time");
        };
        assert!(now.contains("Asia/Tokyo"), "{now}");

        // Tokyo keeps no daylight saving time: noon UTC is 21:00 there on any date.
        let converted = call(
            &registry,
            "time_convert_time",
            json!({ "source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo" }),
        )
        .await;
        let ToolOutcome::Ok(converted) = converted else {
            panic!("no answer from convert_time: {converted:?}");
        };
        assert!(converted.contains("T21:00"), "{converted}");

        let refused = call(
            &registry,
            "time_get_current_time",
            json!({ "timezone": "Mars/Olympus" }),
        )
        .await;
        let ToolOutcome::Failed(why) = refused else {
            panic!("an unknown zone was answered: {refused:?}");
        };
        assert!(
            why.starts_with("the MCP tool \"get_current_time\" reported an error"),
            "{why}"
        );
    });
}

#[test]
fn a_server_that_dies_mid_call_gives_a_clear_outcome_and_the_registry_goes_on() {
    require_mcp_server_time();
    // The real server behind a filter that passes MCP's messages through until the first
    // `tools/call`, then ends the server's input: the server exits while the call waits.
    let dying = server(
        "dying",
        &[
            "sh",
            "-c",
            "sed -u '/tools\\/call/Q' | exec python3 -m mcp_server_time --local-timezone UTC",
        ],
    );
    runtime().block_on(async {
        let registry = ToolRegistry::from_config(&[], &[dying]).await.unwrap();
        assert!(registry.get("dying_get_current_time").is_some());
        let outcome = call(
            &registry,
            "dying_get_current_time",
            json!({ "timezone": "UTC" }),
        )
        .await;
        assert_eq!(
            outcome,
            ToolOutcome::Failed(
                "the MCP server \"dying\" stopped during the call to \"get_current_time\"".into()
            )
        );
        let again = call(
            &registry,
            "dying_get_current_time",
            json!({ "timezone": "UTC" }),
        )
        .await;
        assert!(!again.is_ok(), "{again:?}");
        assert_eq!(
            call(&registry, "calculate", json!({ "expression": "6 * 7" })).await,
            ToolOutcome::Ok("42".into())
        );
    });
}

#[test]
fn a_server_that_does_not_start_is_named_and_left_out() {
    runtime().block_on(async {
        let missing = server("ghost", &["duplex-no-such-mcp-server"]);
        let registry = ToolRegistry::from_config(&[], &[missing]).await.unwrap();
        assert_eq!(registry.problems().len(), 1);
        assert!(
            registry.problems()[0].starts_with(
                "the MCP server \"ghost\" did not start (\"duplex-no-such-mcp-server\")"
            ),
            "{:?}",
            registry.problems()
        );
        assert!(registry.tools().all(|t| t.source == ToolSource::Builtin));
    });
}
