//! Every tool the agent may call, with its schema and where it comes from: the built-ins, the
//! command tools of `[[tools]]` and the tools each `[[mcp_servers]]` lists (named
//! `{server}_{tool}`, so that two servers' tools cannot collide). A call is checked against its
//! tool's schema, then run with its time limit and a cancellation token.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::builtin::Builtin;
use super::builtin::timer::{Timer, TimerBook};
use super::command::run_command;
use super::mcp::{McpError, McpServer};
use super::outcome::{ToolCall, ToolOutcome};
use super::schema::{check_arguments, unchecked_keywords};
use super::spec::{McpServerSpec, ToolSpec};

/// Longest tool name (OpenAI's function names are limited to 64 characters).
pub const MAX_NAME_LEN: usize = 64;

/// Where a tool comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolSource {
    /// Built into duplex.
    Builtin,
    /// A `[[tools]]` command: the program it runs.
    Command(String),
    /// A tool of the `[[mcp_servers]]` entry of this name.
    Mcp(String),
}

impl std::fmt::Display for ToolSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Builtin => write!(f, "built-in"),
            Self::Command(program) => write!(f, "command {program}"),
            Self::Mcp(server) => write!(f, "MCP server {server}"),
        }
    }
}

/// What the model and the user are told about a tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    /// The name the model calls it by.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The JSON Schema of its arguments.
    pub parameters: Value,
    /// Where it comes from.
    pub source: ToolSource,
    /// It changes something in the world (confirmed before it runs, never cancelled).
    pub side_effects: bool,
    /// How long a call may run.
    pub timeout: Duration,
}

/// A tool the configuration declares wrongly.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// A name the model could not call.
    #[error("the tool name {0:?} is not usable: 1 to {MAX_NAME_LEN} letters, digits, '_' or '-'")]
    BadName(String),
    /// Two tools of the same name.
    #[error("two tools are named {0:?}")]
    Duplicate(String),
    /// A command tool without a command.
    #[error("the tool {0:?} has an empty command")]
    EmptyCommand(String),
    /// Parameters that are not an object schema.
    #[error("the parameters of the tool {0:?} must be a JSON Schema of type \"object\"")]
    ParametersNotObject(String),
}

enum Runner {
    Builtin(Builtin),
    Command(Vec<String>),
    Mcp { server: usize, tool: String },
}

/// The tools, and what running them needs (the MCP servers' connections, the timers).
#[derive(Default)]
pub struct ToolRegistry {
    tools: Vec<(ToolInfo, Runner)>,
    servers: Vec<McpServer>,
    timers: TimerBook,
    problems: Vec<String>,
}

impl ToolRegistry {
    /// A registry of the built-ins only.
    pub fn with_builtins() -> Self {
        let mut registry = Self::default();
        for builtin in Builtin::ALL {
            let info = ToolInfo {
                name: builtin.name().to_owned(),
                description: builtin.description().to_owned(),
                parameters: builtin.parameters(),
                source: ToolSource::Builtin,
                side_effects: false,
                timeout: Duration::from_secs(1),
            };
            registry
                .insert(info, Runner::Builtin(builtin))
                .expect("the built-ins have distinct, valid names");
        }
        registry
    }

    /// The built-ins, the command tools of `tools` and the tools of every server in
    /// `mcp_servers`. A server that does not start is left out and named in [`Self::problems`]
    /// (and logged); a wrongly declared command tool is an error.
    pub async fn from_config(
        tools: &[ToolSpec],
        mcp_servers: &[McpServerSpec],
    ) -> Result<Self, ToolError> {
        let mut registry = Self::with_builtins();
        for spec in tools {
            registry.add_command(spec)?;
        }
        for spec in mcp_servers {
            if let Err(e) = registry.add_mcp_server(spec).await {
                tracing::warn!("{e}; going on without its tools");
                registry.problems.push(e.to_string());
            }
        }
        Ok(registry)
    }

    /// Adds the command tool of `spec`.
    pub fn add_command(&mut self, spec: &ToolSpec) -> Result<(), ToolError> {
        let Some(program) = spec.command.first() else {
            return Err(ToolError::EmptyCommand(spec.name.clone()));
        };
        if spec.parameters.get("type").and_then(Value::as_str) != Some("object") {
            return Err(ToolError::ParametersNotObject(spec.name.clone()));
        }
        let info = ToolInfo {
            name: spec.name.clone(),
            description: spec.description.clone(),
            parameters: spec.parameters.clone(),
            source: ToolSource::Command(program.clone()),
            side_effects: spec.side_effects,
            timeout: Duration::from_millis(spec.timeout_ms),
        };
        self.insert(info, Runner::Command(spec.command.clone()))
    }

    /// Starts the MCP server of `spec` and adds its tools as `{server}_{tool}`; returns how
    /// many. A tool whose name would be unusable or taken is left out and named in
    /// [`Self::problems`].
    pub async fn add_mcp_server(&mut self, spec: &McpServerSpec) -> Result<usize, McpError> {
        let (server, tools) = McpServer::start(spec).await?;
        let index = self.servers.len();
        let mut added = 0;
        for tool in tools {
            let info = ToolInfo {
                name: format!("{}_{}", spec.name, tool.name),
                description: tool.description,
                parameters: tool.input_schema,
                source: ToolSource::Mcp(spec.name.clone()),
                side_effects: tool.side_effects,
                timeout: server.timeout(),
            };
            let runner = Runner::Mcp {
                server: index,
                tool: tool.name,
            };
            match self.insert(info, runner) {
                Ok(()) => added += 1,
                Err(e) => self
                    .problems
                    .push(format!("MCP server {:?}: {e}", spec.name)),
            }
        }
        self.servers.push(server);
        Ok(added)
    }

    fn insert(&mut self, info: ToolInfo, runner: Runner) -> Result<(), ToolError> {
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if info.name.is_empty() || info.name.len() > MAX_NAME_LEN || !info.name.chars().all(valid) {
            return Err(ToolError::BadName(info.name));
        }
        if self.get(&info.name).is_some() {
            return Err(ToolError::Duplicate(info.name));
        }
        let unchecked = unchecked_keywords(&info.parameters);
        if !unchecked.is_empty() {
            tracing::info!(
                "tool {}: the schema's {} are not checked before a call (the tool checks them)",
                info.name,
                unchecked.join(", ")
            );
        }
        self.tools.push((info, runner));
        Ok(())
    }

    /// Every tool, in the order they were added (built-ins first).
    pub fn tools(&self) -> impl Iterator<Item = &ToolInfo> {
        self.tools.iter().map(|(info, _)| info)
    }

    /// The tool named `name`.
    pub fn get(&self, name: &str) -> Option<&ToolInfo> {
        self.tools().find(|t| t.name == name)
    }

    /// What went wrong while loading (servers that did not start, tools left out).
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Runs `call`: its arguments checked against the tool's schema, then the tool run within
    /// its time limit unless `cancel` fires first. Every failure is an outcome in words.
    pub async fn call(&self, call: &ToolCall, cancel: &CancellationToken) -> ToolOutcome {
        let Some((info, runner)) = self.tools.iter().find(|(t, _)| t.name == call.name) else {
            let names: Vec<&str> = self.tools().map(|t| t.name.as_str()).collect();
            return ToolOutcome::Failed(format!(
                "there is no tool named {:?}; the tools are: {}",
                call.name,
                names.join(", ")
            ));
        };
        let empty = Value::Object(Default::default());
        let arguments = match &call.arguments {
            Value::Null => &empty,
            arguments => arguments,
        };
        if let Err(e) = check_arguments(&info.parameters, arguments) {
            return ToolOutcome::Failed(format!(
                "the arguments do not fit the tool {:?}: {e}",
                info.name
            ));
        }
        if cancel.is_cancelled() {
            return ToolOutcome::Cancelled;
        }
        match runner {
            Runner::Builtin(builtin) => builtin.run(arguments, SystemTime::now(), &self.timers),
            Runner::Command(argv) => run_command(argv, arguments, info.timeout, cancel).await,
            Runner::Mcp { server, tool } => {
                self.servers[*server]
                    .call(tool, arguments, info.timeout, cancel)
                    .await
            }
        }
    }

    /// The timers that are due at `now`, taken out of the registry: each is said once.
    pub fn take_due_timers(&self, now: SystemTime) -> Vec<Timer> {
        self.timers.take_due(now)
    }

    /// The timers set and not yet taken.
    pub fn pending_timers(&self) -> Vec<Timer> {
        self.timers.pending()
    }
}
