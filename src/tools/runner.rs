//! Carries out the conversation core's tool calls with a [`ToolRegistry`]: a call the model
//! wrote becomes the core's [`agent::ToolCall`] (an id, and whether it has side effects, which
//! the registry says, not the model); [`ToolRunner::run`] runs it as a task on a tokio runtime
//! and hands its outcome, in the core's terms, to a callback (the runtime feeds it back as
//! `Input::ToolDone`); [`ToolRunner::cancel`] stops a call the core cancels (a command tool's
//! process group is killed by the registry). [`ToolRunner::told`] turns an outcome back into
//! the registry's terms, to write it for the model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::outcome::{ToolCall, ToolOutcome};
use super::registry::ToolRegistry;
use crate::agent;

/// Runs calls with a registry and cancels them by id.
pub struct ToolRunner {
    registry: Arc<ToolRegistry>,
    runtime: Handle,
    /// The cancel token of each call still running.
    running: Arc<Mutex<HashMap<agent::ToolCallId, CancellationToken>>>,
}

impl ToolRunner {
    /// Runs calls with `registry`, each as a task on `runtime`.
    pub fn new(registry: Arc<ToolRegistry>, runtime: Handle) -> Self {
        Self {
            registry,
            runtime,
            running: Default::default(),
        }
    }

    /// The registry calls run with.
    pub fn registry(&self) -> &ToolRegistry {
        &self.registry
    }

    /// The core's call for `call`, under `id`: its side effects are the tool's as the registry
    /// declares it (an unknown tool has none: it fails without running).
    pub fn core_call(&self, id: agent::ToolCallId, call: &ToolCall) -> agent::ToolCall {
        agent::ToolCall {
            id,
            name: call.name.clone(),
            arguments: call.arguments.to_string(),
            side_effects: self
                .registry
                .get(&call.name)
                .is_some_and(|t| t.side_effects),
        }
    }

    /// Starts `call`; `done` gets its outcome, once, from the runtime's thread (a cancelled
    /// call answers [`agent::ToolOutcome::Cancelled`]).
    pub fn run(
        &self,
        call: agent::ToolCall,
        done: impl FnOnce(agent::ToolCallId, agent::ToolOutcome) + Send + 'static,
    ) {
        let cancel = CancellationToken::new();
        self.lock().insert(call.id.clone(), cancel.clone());
        let registry = Arc::clone(&self.registry);
        let running = Arc::clone(&self.running);
        self.runtime.spawn(async move {
            let outcome = match serde_json::from_str(&call.arguments) {
                Ok(arguments) => {
                    let parsed = ToolCall {
                        name: call.name.clone(),
                        arguments,
                    };
                    core_outcome(registry.call(&parsed, &cancel).await)
                }
                Err(e) => agent::ToolOutcome::Failed(format!(
                    "the arguments of {:?} are not a JSON object: {e}",
                    call.name
                )),
            };
            running
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&call.id);
            done(call.id, outcome);
        });
    }

    /// Stops the call `id` if it still runs.
    pub fn cancel(&self, id: &agent::ToolCallId) {
        if let Some(token) = self.lock().remove(id) {
            token.cancel();
        }
    }

    /// Stops every call still running (the session ends).
    pub fn cancel_all(&self) {
        for (_, token) in self.lock().drain() {
            token.cancel();
        }
    }

    /// How many calls are running.
    pub fn running(&self) -> usize {
        self.lock().len()
    }

    /// `result`'s outcome as the registry words it for the model (a timeout names the tool's
    /// limit).
    pub fn told(&self, result: &agent::ToolResult) -> ToolOutcome {
        match &result.outcome {
            agent::ToolOutcome::Ok(text) => ToolOutcome::Ok(text.clone()),
            agent::ToolOutcome::Failed(why) => ToolOutcome::Failed(why.clone()),
            agent::ToolOutcome::Cancelled => ToolOutcome::Cancelled,
            agent::ToolOutcome::TimedOut => ToolOutcome::TimedOut {
                after: self
                    .registry
                    .get(&result.call.name)
                    .map(|t| t.timeout)
                    .unwrap_or_default(),
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<agent::ToolCallId, CancellationToken>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The registry's outcome in the core's terms.
pub fn core_outcome(outcome: ToolOutcome) -> agent::ToolOutcome {
    match outcome {
        ToolOutcome::Ok(text) => agent::ToolOutcome::Ok(text),
        ToolOutcome::Failed(why) => agent::ToolOutcome::Failed(why),
        ToolOutcome::TimedOut { .. } => agent::ToolOutcome::TimedOut,
        ToolOutcome::Cancelled => agent::ToolOutcome::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::tools::ToolSpec;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    fn runner(runtime: &tokio::runtime::Runtime, specs: &[ToolSpec]) -> ToolRunner {
        let mut registry = ToolRegistry::with_builtins();
        for spec in specs {
            registry.add_command(spec).unwrap();
        }
        ToolRunner::new(Arc::new(registry), runtime.handle().clone())
    }

    fn sleeper(timeout_ms: u64, side_effects: bool) -> ToolSpec {
        ToolSpec {
            name: "slow".into(),
            description: "Sleeps.".into(),
            parameters: json!({ "type": "object", "properties": {} }),
            command: vec!["sleep".into(), "30".into()],
            timeout_ms,
            side_effects,
        }
    }

    /// Runs `call` and waits (up to 20 s) for its outcome.
    fn start(
        runner: &ToolRunner,
        call: agent::ToolCall,
    ) -> mpsc::Receiver<(agent::ToolCallId, agent::ToolOutcome)> {
        let (tx, rx) = mpsc::channel();
        runner.run(call, move |id, outcome| {
            let _ = tx.send((id, outcome));
        });
        rx
    }

    fn wait(
        rx: &mpsc::Receiver<(agent::ToolCallId, agent::ToolOutcome)>,
    ) -> (agent::ToolCallId, agent::ToolOutcome) {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("an outcome")
    }

    #[test]
    fn a_built_in_runs_to_the_cores_outcome() {
        let rt = runtime();
        let runner = runner(&rt, &[]);
        let call = ToolCall {
            name: "calculate".into(),
            arguments: json!({ "expression": "17.5 * 4" }),
        };
        let core = runner.core_call(agent::ToolCallId("c1".into()), &call);
        assert!(!core.side_effects);
        let (id, outcome) = wait(&start(&runner, core));
        assert_eq!(id, agent::ToolCallId("c1".into()));
        assert_eq!(outcome, agent::ToolOutcome::Ok("70".into()));
        assert_eq!(runner.running(), 0);
    }

    #[test]
    fn a_cancelled_command_answers_cancelled() {
        let rt = runtime();
        let runner = runner(&rt, &[sleeper(60_000, false)]);
        let call = ToolCall {
            name: "slow".into(),
            arguments: json!({}),
        };
        let rx = start(
            &runner,
            runner.core_call(agent::ToolCallId("c2".into()), &call),
        );
        assert_eq!(runner.running(), 1);
        runner.cancel(&agent::ToolCallId("c2".into()));
        assert_eq!(wait(&rx).1, agent::ToolOutcome::Cancelled);
    }

    #[test]
    fn a_timeout_is_the_cores_timeout_and_is_told_with_the_tools_limit() {
        let rt = runtime();
        let runner = runner(&rt, &[sleeper(200, true)]);
        let call = ToolCall {
            name: "slow".into(),
            arguments: json!({}),
        };
        let core = runner.core_call(agent::ToolCallId("c3".into()), &call);
        assert!(core.side_effects, "the registry's declaration");
        let (_, outcome) = wait(&start(&runner, core.clone()));
        assert_eq!(outcome, agent::ToolOutcome::TimedOut);
        let told = runner.told(&agent::ToolResult {
            call: core,
            outcome,
        });
        assert_eq!(
            told.describe(),
            "error: the tool did not answer within 0.2 s and was stopped"
        );
    }

    #[test]
    fn arguments_that_are_not_json_fail_in_words() {
        let rt = runtime();
        let runner = runner(&rt, &[]);
        let call = agent::ToolCall {
            id: agent::ToolCallId("c4".into()),
            name: "calculate".into(),
            arguments: "{\"expression\": ".into(),
            side_effects: false,
        };
        match wait(&start(&runner, call)).1 {
            agent::ToolOutcome::Failed(why) => {
                assert!(why.starts_with("the arguments of \"calculate\" are not a JSON object"))
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
