//! Command tools and built-ins through the `ToolRegistry` (issue 28): arguments on stdin, the
//! answer on stdout; a missing command, a hang, garbage and a non-zero exit each end in a clear
//! outcome; a timed-out or cancelled call's whole process group is killed.

use std::path::Path;
use std::time::{Duration, SystemTime};

use duplex::tools::{
    CancellationToken, ToolCall, ToolError, ToolOutcome, ToolRegistry, ToolSource, ToolSpec,
};
use serde_json::{Value, json};

fn tool(name: &str, command: &[&str], timeout_ms: u64) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: format!("The {name} tool."),
        parameters: json!({
            "type": "object",
            "properties": { "city": { "type": "string" } },
            "required": ["city"]
        }),
        command: command.iter().map(|s| s.to_string()).collect(),
        timeout_ms,
        side_effects: false,
    }
}

fn registry(tools: &[ToolSpec]) -> ToolRegistry {
    let mut registry = ToolRegistry::with_builtins();
    for spec in tools {
        registry.add_command(spec).unwrap();
    }
    registry
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn call(registry: &ToolRegistry, name: &str, arguments: Value) -> ToolOutcome {
    let call = ToolCall {
        name: name.into(),
        arguments,
    };
    runtime().block_on(registry.call(&call, &CancellationToken::new()))
}

fn failure(outcome: ToolOutcome) -> String {
    match outcome {
        ToolOutcome::Failed(why) => why,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Waits (up to 10 s) until the process `pid` is gone or a zombie; false if it still runs.
fn process_ends(pid: u32) -> bool {
    for _ in 0..200 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) if stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z')) => {
                return true;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    false
}

/// The process id a tool wrote into `file`, waiting up to 10 s for it.
fn pid_in(file: &Path) -> u32 {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the tool never wrote its process id to {}", file.display());
}

#[test]
fn a_command_reads_its_arguments_on_stdin_and_answers_on_stdout() {
    let weather = tool(
        "get_weather",
        &["sh", "-c", "read args; echo \"sunny; asked with $args\""],
        20_000,
    );
    let registry = registry(&[weather]);
    assert_eq!(
        call(&registry, "get_weather", json!({ "city": "Paris" })),
        ToolOutcome::Ok("sunny; asked with {\"city\":\"Paris\"}".into())
    );
    let info = registry.get("get_weather").unwrap();
    assert_eq!(info.source, ToolSource::Command("sh".into()));
    assert_eq!(info.timeout, Duration::from_secs(20));
}

#[test]
fn a_missing_command_is_named() {
    let registry = registry(&[tool("lookup", &["duplex-no-such-program"], 20_000)]);
    assert_eq!(
        failure(call(&registry, "lookup", json!({ "city": "Oslo" }))),
        "the command \"duplex-no-such-program\" was not found"
    );
}

#[test]
fn a_non_zero_exit_is_told_with_its_stderr() {
    let script = "echo 'looking up' >&2; echo 'no such city' >&2; exit 3";
    let registry = registry(&[tool("lookup", &["sh", "-c", script], 20_000)]);
    assert_eq!(
        failure(call(&registry, "lookup", json!({ "city": "Atlantis" }))),
        "the command \"sh\" exited with status 3: looking up / no such city"
    );
}

#[test]
fn garbage_on_stdout_is_not_passed_on() {
    let registry = registry(&[
        tool("binary", &["printf", "\\377\\376\\000x"], 20_000),
        tool("terminal", &["printf", "ok\\033[2J"], 20_000),
    ]);
    assert_eq!(
        failure(call(&registry, "binary", json!({ "city": "Rome" }))),
        "the command \"printf\" printed something that is not text (invalid UTF-8 at byte 0)"
    );
    assert_eq!(
        failure(call(&registry, "terminal", json!({ "city": "Rome" }))),
        "the command \"printf\" printed control characters, not text"
    );
}

#[test]
fn a_hanging_command_times_out_and_its_whole_group_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
    // Long enough for the shell to start and write the id on a loaded machine.
    let registry = registry(&[tool("hang", &["sh", "-c", &script], 3_000)]);
    let outcome = call(&registry, "hang", json!({ "city": "Lima" }));
    assert_eq!(
        outcome,
        ToolOutcome::TimedOut {
            after: Duration::from_millis(3_000)
        }
    );
    let grandchild = pid_in(&pid_file);
    assert!(
        process_ends(grandchild),
        "the tool's child {grandchild} still runs"
    );
}

#[test]
fn a_cancelled_call_ends_cancelled_and_its_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!("echo $$ > {}; sleep 60", pid_file.display());
    let registry = registry(&[tool("slow", &["sh", "-c", &script], 60_000)]);
    let cancel = CancellationToken::new();
    let runtime = runtime();
    let canceller = {
        let cancel = cancel.clone();
        let pid_file = pid_file.clone();
        std::thread::spawn(move || {
            let pid = pid_in(&pid_file);
            cancel.cancel();
            pid
        })
    };
    let call = ToolCall {
        name: "slow".into(),
        arguments: json!({ "city": "Quito" }),
    };
    assert_eq!(
        runtime.block_on(registry.call(&call, &cancel)),
        ToolOutcome::Cancelled
    );
    let pid = canceller.join().unwrap();
    assert!(process_ends(pid), "the cancelled tool {pid} still runs");
}

#[test]
fn arguments_that_do_not_fit_the_schema_never_reach_the_tool() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let script = format!("touch {}", marker.display());
    let registry = registry(&[tool("mark", &["sh", "-c", &script], 20_000)]);
    assert_eq!(
        failure(call(&registry, "mark", json!({ "town": "Oslo" }))),
        "the arguments do not fit the tool \"mark\": arguments: the required \"city\" is missing"
    );
    assert!(!marker.exists());
    let unknown = failure(call(&registry, "weather", json!({})));
    assert!(
        unknown.starts_with("there is no tool named \"weather\"; the tools are: get_date_time"),
        "{unknown}"
    );
}

#[test]
fn wrongly_declared_tools_are_refused() {
    let mut registry = ToolRegistry::with_builtins();
    let error = registry
        .add_command(&tool("calculate", &["true"], 1000))
        .unwrap_err();
    assert!(
        matches!(error, ToolError::Duplicate(ref n) if n == "calculate"),
        "{error}"
    );
    let error = registry
        .add_command(&tool("get weather", &["true"], 1000))
        .unwrap_err();
    assert!(matches!(error, ToolError::BadName(_)), "{error}");
    let error = registry.add_command(&tool("empty", &[], 1000)).unwrap_err();
    assert!(matches!(error, ToolError::EmptyCommand(_)), "{error}");
}

#[test]
fn the_builtins_are_listed_and_a_timer_comes_due_once() {
    let registry = ToolRegistry::with_builtins();
    let names: Vec<&str> = registry.tools().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["get_date_time", "calculate", "set_timer"]);
    assert!(registry.tools().all(|t| t.source == ToolSource::Builtin));
    assert_eq!(
        call(
            &registry,
            "calculate",
            json!({ "expression": "(3 + 4) * 2.5" })
        ),
        ToolOutcome::Ok("17.5".into())
    );
    let before = SystemTime::now();
    assert_eq!(
        call(
            &registry,
            "set_timer",
            json!({ "minutes": 10, "label": "pasta" })
        ),
        ToolOutcome::Ok("Set a timer for pasta of 10 minutes.".into())
    );
    let pending = registry.pending_timers();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].due >= before + Duration::from_secs(600));
    assert!(registry.take_due_timers(before).is_empty());
    let due = registry.take_due_timers(before + Duration::from_secs(3600));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].label, "pasta");
    assert!(registry.pending_timers().is_empty());
}
