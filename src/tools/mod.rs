//! Tools the agent can call (issue 28): declared in the configuration (`[[tools]]` command
//! tools, `[[mcp_servers]]`), built in (date and time, arithmetic, timers), held with their
//! JSON Schemas by a [`ToolRegistry`] that checks a call's arguments and runs it with a time
//! limit, cancellable, to a [`ToolOutcome`] in words. The embedded brains' side: the prompt that
//! lists the tools and the streaming parser that takes a tool call out of a reply before it
//! would be spoken. [`ToolRunner`] carries out the conversation core's calls with a registry.

pub mod builtin;
pub mod command;
pub mod listing;
pub mod mcp;
pub mod outcome;
pub mod prompt;
pub mod registry;
pub mod runner;
pub mod schema;
pub mod spec;
pub mod stream;

pub use listing::tool_listing;
pub use outcome::{ToolCall, ToolOutcome};
pub use registry::{ToolError, ToolInfo, ToolRegistry, ToolSource};
pub use runner::ToolRunner;
pub use spec::{McpServerSpec, ToolSpec};
pub use tokio_util::sync::CancellationToken;
