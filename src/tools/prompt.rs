//! How the embedded brains (Qwen2.5 models, ChatML) are told about tools and how calls and
//! results are written in their conversation, in the format their chat template uses: the
//! tools as one JSON object per line inside `<tools></tools>` under a `# Tools` heading of the
//! system prompt; a call as `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>` in
//! the assistant's turn; a result inside `<tool_response></tool_response>` in a user turn.

use serde_json::{Value, json};

use super::outcome::{ToolCall, ToolOutcome};
use super::registry::ToolInfo;

/// Opens a tool call in the model's reply.
pub const CALL_OPEN: &str = "<tool_call>";
/// Closes a tool call.
pub const CALL_CLOSE: &str = "</tool_call>";

/// `system` followed by the tools section listing `tools`; `system` alone when there are none.
pub fn system_prompt_with_tools<'a>(
    system: &str,
    tools: impl IntoIterator<Item = &'a ToolInfo>,
) -> String {
    let lines: Vec<String> = tools
        .into_iter()
        .map(|t| tool_line(t).to_string())
        .collect();
    if lines.is_empty() {
        return system.to_owned();
    }
    let mut prompt = String::from(system.trim_end());
    if !prompt.is_empty() {
        prompt.push_str("\n\n");
    }
    prompt.push_str(
        "# Tools\n\n\
         When a tool would answer better than you can (the time, a sum, a lookup, an action), \
         call it; otherwise just answer. The tools, one JSON signature per line, inside \
         <tools></tools>:\n<tools>\n",
    );
    prompt.push_str(&lines.join("\n"));
    prompt.push_str(&format!(
        "\n</tools>\n\n\
         To call one, write only this, with its name and a JSON object of its arguments:\n\
         {CALL_OPEN}\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n{CALL_CLOSE}\n\
         The call is not read aloud; its result comes back inside <tool_response></tool_response>, \
         and then you answer the user in words."
    ));
    prompt
}

/// One tool as the `<tools>` section lists it.
pub fn tool_line(tool: &ToolInfo) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        }
    })
}

/// A call as the assistant's turn writes it.
pub fn call_text(call: &ToolCall) -> String {
    let name = Value::String(call.name.clone());
    let arguments = &call.arguments;
    format!("{CALL_OPEN}\n{{\"name\": {name}, \"arguments\": {arguments}}}\n{CALL_CLOSE}")
}

/// A call's outcome as the user turn after it carries it.
pub fn response_text(outcome: &ToolOutcome) -> String {
    format!("<tool_response>\n{}\n</tool_response>", outcome.describe())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tools::ToolSource;

    fn weather() -> ToolInfo {
        ToolInfo {
            name: "get_weather".into(),
            description: "The current weather in a city.".into(),
            parameters: json!({
                "type": "object",
                "properties": { "city": { "type": "string" } },
                "required": ["city"]
            }),
            source: ToolSource::Command("weather.py".into()),
            side_effects: false,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_tools_are_listed_one_json_line_each_inside_tools_tags() {
        let prompt = system_prompt_with_tools("You are a voice assistant.", &[weather()]);
        assert!(
            prompt.starts_with("You are a voice assistant.\n\n# Tools\n\n"),
            "{prompt}"
        );
        let listed = prompt
            .split("<tools>\n")
            .nth(1)
            .and_then(|rest| rest.split("\n</tools>").next())
            .unwrap();
        let line: Value = serde_json::from_str(listed).unwrap();
        assert_eq!(line["type"], "function");
        assert_eq!(line["function"]["name"], "get_weather");
        assert_eq!(line["function"]["parameters"]["required"][0], "city");
        assert!(prompt.contains("<tool_call>\n{\"name\": <function-name>"));
    }

    #[test]
    fn without_tools_the_prompt_is_unchanged() {
        assert_eq!(system_prompt_with_tools("Be brief.", &[]), "Be brief.");
    }

    #[test]
    fn calls_and_results_are_written_in_the_templates_tags() {
        let call = ToolCall {
            name: "get_weather".into(),
            arguments: json!({ "city": "Paris" }),
        };
        assert_eq!(
            call_text(&call),
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call>"
        );
        assert_eq!(
            response_text(&ToolOutcome::Failed("no such city".into())),
            "<tool_response>\nerror: no such city\n</tool_response>"
        );
    }
}
