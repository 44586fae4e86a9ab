//! MCP servers as a source of tools, through the official Rust SDK (`rmcp`) over a child
//! process's stdio: the server is started, its tools are listed once, and each call is one
//! `tools/call` request. The server's process is killed when the [`McpServer`] is dropped.

use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::outcome::ToolOutcome;
use super::spec::McpServerSpec;

/// Why an MCP server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// Its command is empty.
    #[error("the MCP server {server:?} has an empty command")]
    EmptyCommand {
        /// The server's name.
        server: String,
    },
    /// Its process did not start.
    #[error("the MCP server {server:?} did not start ({program:?}): {source}")]
    Spawn {
        /// The server's name.
        server: String,
        /// The program named by its command.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It started but did not complete MCP's initialisation or list its tools.
    #[error("the MCP server {server:?} {what}")]
    Protocol {
        /// The server's name.
        server: String,
        /// What went wrong, in words.
        what: String,
    },
}

/// One tool an MCP server offers, as it lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct McpTool {
    /// The server's own name for it.
    pub name: String,
    /// Its description (empty when the server gives none).
    pub description: String,
    /// The JSON Schema of its arguments.
    pub input_schema: Value,
    /// False only when the server says it is read-only (MCP's `readOnlyHint`); a tool without
    /// the hint is taken to have side effects, as MCP's defaults say.
    pub side_effects: bool,
}

/// A running MCP server.
pub struct McpServer {
    name: String,
    timeout: Duration,
    service: RunningService<RoleClient, ()>,
}

impl McpServer {
    /// Starts the server of `spec` and lists its tools, within its `timeout_ms`.
    pub async fn start(spec: &McpServerSpec) -> Result<(Self, Vec<McpTool>), McpError> {
        let server = spec.name.clone();
        let Some((program, args)) = spec.command.split_first() else {
            return Err(McpError::EmptyCommand { server });
        };
        let mut command = tokio::process::Command::new(program);
        command.args(args);
        let spawn_error = |source| McpError::Spawn {
            server: server.clone(),
            program: program.clone(),
            source,
        };
        // Its log on stderr is not ours to print (it would land in the middle of a chat).
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn_error)?;
        let timeout = Duration::from_millis(spec.timeout_ms);
        let protocol = |what: String| McpError::Protocol {
            server: server.clone(),
            what,
        };
        let service = tokio::time::timeout(timeout, ().serve(transport))
            .await
            .map_err(|_| protocol(format!("did not start within {} ms", spec.timeout_ms)))?
            .map_err(|e| protocol(format!("failed MCP's initialisation: {e}")))?;
        let listed = tokio::time::timeout(timeout, service.list_all_tools())
            .await
            .map_err(|_| {
                protocol(format!(
                    "did not list its tools within {} ms",
                    spec.timeout_ms
                ))
            })?
            .map_err(|e| protocol(format!("did not list its tools: {e}")))?;
        let tools = listed
            .into_iter()
            .map(|tool| McpTool {
                name: tool.name.to_string(),
                description: tool.description.as_deref().unwrap_or_default().to_owned(),
                input_schema: Value::Object((*tool.input_schema).clone()),
                side_effects: tool.annotations.and_then(|a| a.read_only_hint) != Some(true),
            })
            .collect();
        Ok((
            Self {
                name: spec.name.clone(),
                timeout,
                service,
            },
            tools,
        ))
    }

    /// Its name from the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Calls its tool `tool` with `arguments`; at most `timeout`, or until `cancel` fires.
    pub async fn call(
        &self,
        tool: &str,
        arguments: &Value,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> ToolOutcome {
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(fields) = arguments {
            params = params.with_arguments(fields.clone());
        }
        let request = self.service.call_tool(params);
        let answer = tokio::select! {
            answer = request => answer,
            () = tokio::time::sleep(timeout) => return ToolOutcome::TimedOut { after: timeout },
            () = cancel.cancelled() => return ToolOutcome::Cancelled,
        };
        match answer {
            Ok(result) => self.judge(tool, result),
            Err(ServiceError::TransportClosed | ServiceError::TransportSend(_)) => {
                ToolOutcome::Failed(format!(
                    "the MCP server {:?} stopped during the call to {tool:?}",
                    self.name
                ))
            }
            Err(ServiceError::McpError(e)) => ToolOutcome::Failed(format!(
                "the MCP server {:?} refused the call to {tool:?}: {}",
                self.name, e.message
            )),
            Err(e) => ToolOutcome::Failed(format!(
                "the call to {tool:?} on the MCP server {:?} failed: {e}",
                self.name
            )),
        }
    }

    /// The outcome of a result: its text blocks joined, an error when the server flags one.
    fn judge(&self, tool: &str, result: CallToolResult) -> ToolOutcome {
        let mut text: Vec<String> = result
            .content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text(t) => Some(t.text.trim().to_owned()),
                _ => None,
            })
            .collect();
        if text.is_empty()
            && let Some(structured) = &result.structured_content
        {
            text.push(structured.to_string());
        }
        let text = text.join("\n");
        if result.is_error == Some(true) {
            return ToolOutcome::Failed(match text.is_empty() {
                true => format!("the MCP tool {tool:?} reported an error"),
                false => format!("the MCP tool {tool:?} reported an error: {text}"),
            });
        }
        if text.is_empty() && !result.content.is_empty() {
            return ToolOutcome::Failed(format!(
                "the MCP tool {tool:?} answered with no text (only images, audio or resources)"
            ));
        }
        ToolOutcome::Ok(text)
    }
}
