//! The `[[tools]]` and `[[mcp_servers]]` sections of the configuration file.
//!
//! ```toml
//! [[tools]]
//! name = "get_weather"
//! description = "The current weather in a city."
//! parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }
//! command = ["python3", "weather.py"]   # arguments as one JSON object on stdin; the result is its stdout
//! timeout_ms = 5000
//! side_effects = false                  # true: confirmed aloud before it runs, never cancelled once started
//!
//! [[mcp_servers]]
//! name = "time"
//! command = ["mcp-server-time"]          # stdio transport; its tools are listed at start
//! ```

use serde::{Deserialize, Serialize};

/// How long a command tool may run when its `timeout_ms` is not given.
pub const DEFAULT_TOOL_TIMEOUT_MS: u64 = 5_000;

/// How long an MCP server may take to start, list its tools, or answer one call, when its
/// `timeout_ms` is not given.
pub const DEFAULT_MCP_TIMEOUT_MS: u64 = 10_000;

/// One `[[tools]]` entry: a command the agent may run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// The name the model calls it by (letters, digits, `_` and `-`).
    pub name: String,
    /// What it does, for the model: when to call it.
    pub description: String,
    /// A JSON Schema of its arguments (an object); unset: it takes none.
    #[serde(default = "no_parameters")]
    pub parameters: serde_json::Value,
    /// The program and its arguments; the call's arguments arrive on stdin as one JSON object,
    /// the result is what it prints on stdout.
    pub command: Vec<String>,
    /// How long it may run before it is killed.
    #[serde(default = "default_tool_timeout_ms")]
    pub timeout_ms: u64,
    /// It changes something in the world: confirmed aloud before it runs, never cancelled once
    /// started.
    #[serde(default)]
    pub side_effects: bool,
}

/// One `[[mcp_servers]]` entry: a Model Context Protocol server over stdio whose tools the agent
/// may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSpec {
    /// Its name; its tools are called `{name}_{tool}`.
    pub name: String,
    /// The program that serves MCP on its stdin and stdout, and its arguments.
    pub command: Vec<String>,
    /// How long it may take to start and list its tools, and to answer one call.
    #[serde(default = "default_mcp_timeout_ms")]
    pub timeout_ms: u64,
}

/// The schema of a tool without arguments.
pub fn no_parameters() -> serde_json::Value {
    serde_json::json!({ "type": "object", "properties": {} })
}

fn default_tool_timeout_ms() -> u64 {
    DEFAULT_TOOL_TIMEOUT_MS
}

fn default_mcp_timeout_ms() -> u64 {
    DEFAULT_MCP_TIMEOUT_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(default)]
    #[derive(Default)]
    struct File {
        tools: Vec<ToolSpec>,
        mcp_servers: Vec<McpServerSpec>,
    }

    #[test]
    fn the_sections_of_the_issue_parse_with_their_defaults() {
        let text = r#"
            [[tools]]
            name = "get_weather"
            description = "The current weather in a city."
            parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }
            command = ["python3", "weather.py"]
            timeout_ms = 5000
            side_effects = false

            [[tools]]
            name = "lights_off"
            description = "Turns the lights off."
            command = ["lights", "off"]
            side_effects = true

            [[mcp_servers]]
            name = "time"
            command = ["mcp-server-time"]
        "#;
        let file: File = toml::from_str(text).unwrap();
        assert_eq!(file.tools.len(), 2);
        let weather = &file.tools[0];
        assert_eq!(weather.parameters["required"][0], "city");
        assert_eq!(weather.parameters["properties"]["city"]["type"], "string");
        assert_eq!(weather.command, ["python3", "weather.py"]);
        let lights = &file.tools[1];
        assert_eq!(lights.parameters, no_parameters());
        assert_eq!(lights.timeout_ms, DEFAULT_TOOL_TIMEOUT_MS);
        assert!(lights.side_effects);
        assert_eq!(file.mcp_servers[0].name, "time");
        assert_eq!(file.mcp_servers[0].timeout_ms, DEFAULT_MCP_TIMEOUT_MS);
    }

    #[test]
    fn a_misspelt_key_is_an_error() {
        let text = "[[tools]]\nname = \"a\"\ndescription = \"b\"\ncommand = [\"c\"]\ntimeout = 3\n";
        let error = toml::from_str::<File>(text).err().unwrap().to_string();
        assert!(error.contains("timeout"), "{error}");
    }
}
