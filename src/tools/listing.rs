//! The tools as `duplex chat`'s `/tools` lists them: one line per tool with where it comes from
//! and what it does, then anything that went wrong while loading them.

use super::registry::ToolRegistry;

/// Every tool of `registry`, one per line: `name  [source, side effects]  description`.
pub fn tool_listing(registry: &ToolRegistry) -> String {
    let width = registry.tools().map(|t| t.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for tool in registry.tools() {
        let effects = if tool.side_effects {
            ", side effects"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:width$}  [{}{effects}]  {}\n",
            tool.name,
            tool.source,
            tool.description.trim()
        ));
    }
    for problem in registry.problems() {
        out.push_str(&format!("(not loaded: {problem})\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::ToolSpec;

    #[test]
    fn each_tool_is_one_line_with_its_source_and_description() {
        let mut registry = ToolRegistry::with_builtins();
        registry
            .add_command(&ToolSpec {
                name: "lights_off".into(),
                description: "Turns the lights off.".into(),
                parameters: crate::tools::spec::no_parameters(),
                command: vec!["lights".into(), "off".into()],
                timeout_ms: 1000,
                side_effects: true,
            })
            .unwrap();
        let listing = tool_listing(&registry);
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("get_date_time  [built-in]  The current local date"));
        assert_eq!(
            lines[3],
            "lights_off     [command lights, side effects]  Turns the lights off."
        );
    }
}
