//! A llama.cpp grammar (GBNF) that holds a tool call to the tools' JSON Schemas, for the part
//! of a reply after `<tool_call>` (or a reply that opens with a bare `{`, as small models write
//! calls): `{"name": <one of the tools>, "arguments": <an object its schema allows>}`, then
//! `</tool_call>` or the end, so that a small model cannot write a broken call.
//!
//! The schema subset it follows is the one duplex checks calls against: `type` (one or a
//! list), `properties` (required ones first in their order, then optional ones in theirs),
//! `required`, `enum`, `items`. An object's properties are limited to the declared ones; a
//! schema without a `type` (or with keywords beyond these) allows any JSON value there.

use std::fmt::Write;

use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::vocab::LlamaVocab;
use serde_json::Value;

/// Rules every grammar shares: whitespace (bounded, so that a model cannot loop on spaces),
/// JSON's scalars, and any JSON value.
const COMMON_RULES: &str = r#"ws ::= [ \t\n]{0,8}
string ::= "\"" char* "\""
char ::= [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} )
number ::= integer ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
boolean ::= "true" | "false"
null ::= "null"
value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
"#;

/// The tag after which a reply is a tool call and the grammar applies.
pub const CALL_OPEN: &str = "<tool_call>";

/// Closes a tool call.
pub const CALL_CLOSE: &str = "</tool_call>";

/// The text of `token` as the reply shows it: special tokens are left out, except the tool-call
/// tags (Qwen2.5 writes `<tool_call>` and `</tool_call>` as single added tokens, which a plain
/// rendering drops, and without which a call could not be told from speech).
pub fn visible_piece(vocab: &LlamaVocab, token: LlamaToken) -> Vec<u8> {
    let plain = vocab.token_to_piece(token, false, None);
    if !plain.is_empty() {
        return plain;
    }
    let special = vocab.token_to_piece(token, true, None);
    match special == CALL_OPEN.as_bytes() || special == CALL_CLOSE.as_bytes() {
        true => special,
        false => plain,
    }
}

/// True when `piece`, the first of a reply, opens a bare call the grammar can take over from:
/// it is a start of `{"name": "` (so that accepting it cannot break the grammar, which
/// llama.cpp would answer with an abort).
pub fn opens_bare_call(piece: &str) -> bool {
    !piece.is_empty() && piece.starts_with('{') && "{\"name\": \"".starts_with(piece)
}

/// The tools a system prompt lists in its `<tools>` section, one JSON signature per line
/// (`{"type": "function", "function": {"name": ..., "parameters": ...}}`, the Qwen2.5 template's
/// format, which duplex's prompt builder writes): each name with its parameters' schema. The
/// call is held to the tools the model was shown; lines that are no signature are skipped.
pub fn tools_in_prompt(system: &str) -> Vec<(String, Value)> {
    let Some(listed) = system
        .split_once("<tools>\n")
        .and_then(|(_, rest)| rest.split_once("\n</tools>"))
        .map(|(listed, _)| listed)
    else {
        return Vec::new();
    };
    listed
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|signature| {
            let function = signature.get("function")?;
            let name = function.get("name")?.as_str()?.to_owned();
            let parameters = function
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({ "type": "object", "properties": {} }));
            Some((name, parameters))
        })
        .collect()
}

/// The grammar (root rule `root`) of a call to one of `tools`, each a name and the JSON Schema
/// of its arguments, from just after `<tool_call>` to the end of the call (`</tool_call>`
/// optional: the reply may end right after the object).
pub fn tool_call_grammar(tools: &[(String, Value)]) -> String {
    let mut rules = Rules::default();
    let calls: Vec<String> = tools
        .iter()
        .map(|(name, schema)| {
            let arguments = rules.rule_for(schema);
            let name_literal = literal(&Value::String(name.clone()).to_string());
            rules.add(format!(
                "{name_literal} ws \",\" ws \"\\\"arguments\\\"\" ws \":\" ws {arguments}"
            ))
        })
        .collect();
    let mut grammar = format!(
        "root ::= ws \"{{\" ws \"\\\"name\\\"\" ws \":\" ws ( {} ) ws \"}}\" ( ws \"</tool_call>\" )?\n",
        calls.join(" | ")
    );
    for (i, body) in rules.bodies.iter().enumerate() {
        let _ = writeln!(grammar, "r{i} ::= {body}");
    }
    grammar.push_str(COMMON_RULES);
    grammar
}

/// Generated rules `r0`, `r1`, ...
#[derive(Default)]
struct Rules {
    bodies: Vec<String>,
}

impl Rules {
    /// Adds a rule with `body`; returns its name.
    fn add(&mut self, body: String) -> String {
        self.bodies.push(body);
        format!("r{}", self.bodies.len() - 1)
    }

    /// The name of a rule (or shared rule) for values `schema` allows.
    fn rule_for(&mut self, schema: &Value) -> String {
        if let Some(Value::Array(choices)) = schema.get("enum") {
            let alternatives: Vec<String> =
                choices.iter().map(|c| literal(&c.to_string())).collect();
            if !alternatives.is_empty() {
                return self.add(alternatives.join(" | "));
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.is_empty() {
            return "value".into();
        }
        let alternatives: Vec<String> = types
            .iter()
            .map(|t| self.rule_for_type(t, schema))
            .collect();
        match &alternatives[..] {
            [one] => one.clone(),
            _ => self.add(alternatives.join(" | ")),
        }
    }

    fn rule_for_type(&mut self, name: &str, schema: &Value) -> String {
        match name {
            "object" => self.object_rule(schema),
            "array" => match schema.get("items") {
                Some(items) => {
                    let item = self.rule_for(items);
                    self.add(format!(
                        "\"[\" ws ( {item} ( ws \",\" ws {item} )* )? ws \"]\""
                    ))
                }
                None => "array".into(),
            },
            "string" | "integer" | "number" | "boolean" | "null" => name.into(),
            _ => "value".into(),
        }
    }

    /// An object of the declared properties: the required ones in order, then each optional
    /// one or not, in order.
    fn object_rule(&mut self, schema: &Value) -> String {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return "object".into();
        };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|name| properties.contains_key(*name))
            .collect();
        let pair = |rules: &mut Self, name: &str| {
            let value = rules.rule_for(&properties[name]);
            let key = literal(&Value::String(name.to_owned()).to_string());
            format!("{key} ws \":\" ws {value}")
        };
        let required_pairs: Vec<String> = required.iter().map(|n| pair(self, n)).collect();
        let optional_pairs: Vec<String> = properties
            .keys()
            .filter(|n| !required.contains(&n.as_str()))
            .map(|n| pair(self, n))
            .collect();
        let body = if !required_pairs.is_empty() {
            let mut body = required_pairs.join(" ws \",\" ws ");
            for pair in &optional_pairs {
                let _ = write!(body, " ( ws \",\" ws {pair} )?");
            }
            body
        } else if optional_pairs.is_empty() {
            String::new()
        } else {
            // No property is required: whichever comes first has no comma before it.
            let starts: Vec<String> = (0..optional_pairs.len())
                .map(|first| {
                    let mut seq = optional_pairs[first].clone();
                    for pair in &optional_pairs[first + 1..] {
                        let _ = write!(seq, " ( ws \",\" ws {pair} )?");
                    }
                    format!("( {seq} )")
                })
                .collect();
            format!("( {} )?", starts.join(" | "))
        };
        self.add(format!("\"{{\" ws {body} ws \"}}\""))
    }
}

/// `text` as a GBNF string literal.
fn literal(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::path::PathBuf;

    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::llama_backend::LlamaBackend;
    use llama_cpp_2::llama_batch::LlamaBatch;
    use llama_cpp_2::model::LlamaModel;
    use llama_cpp_2::model::params::LlamaModelParams;
    use llama_cpp_2::sampling::LlamaSampler;
    use serde_json::json;

    use super::*;

    /// The default brain (balanced), a Qwen2.5 model whose template writes `<tool_call>`.
    fn model_path() -> PathBuf {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf");
        assert!(
            path.exists(),
            "{} is missing: fetch the models with bash scripts/setup.sh",
            path.display()
        );
        path
    }

    fn weather() -> (String, Value) {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": { "type": "string" },
                "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] }
            },
            "required": ["city"]
        });
        ("get_weather".into(), schema)
    }

    fn mode() -> (String, Value) {
        let schema = json!({
            "type": "object",
            "properties": {
                "mode": { "enum": ["alpha-7", "beta-9"] },
                "level": { "type": "integer" }
            },
            "required": ["mode", "level"]
        });
        ("set_mode".into(), schema)
    }

    /// Odd but valid schemas: every grammar made from them must be one llama.cpp accepts.
    fn unusual() -> Vec<(String, Value)> {
        vec![
            (
                "no_arguments".into(),
                json!({ "type": "object", "properties": {} }),
            ),
            ("free_object".into(), json!({ "type": "object" })),
            ("untyped".into(), json!({})),
            (
                "all_optional".into(),
                json!({ "type": "object", "properties": {
                    "a": { "type": "number" }, "b": { "type": ["string", "null"] },
                    "c": { "type": "array", "items": { "type": "boolean" } }
                } }),
            ),
            (
                "nested".into(),
                json!({ "type": "object", "properties": {
                    "when": { "type": "object", "properties": { "hour": { "type": "integer" } },
                              "required": ["hour"] },
                    "tags": { "type": "array" },
                    "quote\"d": { "type": "string", "enum": ["a\"b", "c\\d"] }
                }, "required": ["when"] }),
            ),
        ]
    }

    /// A ChatML prompt in the Qwen2.5 tool format, ending just after the reply's `<tool_call>`.
    fn prompt(tools: &[(String, Value)], user: &str) -> String {
        let lines: Vec<String> = tools
            .iter()
            .map(|(name, schema)| {
                json!({ "type": "function", "function": { "name": name, "parameters": schema } })
                    .to_string()
            })
            .collect();
        format!(
            "<|im_start|>system\nYou are a voice assistant.\n\n# Tools\n\nThe tools, one JSON \
             signature per line:\n<tools>\n{}\n</tools>\n\nTo call one, write \
             <tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n\
             </tool_call><|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n\
             <|im_start|>assistant\n<tool_call>\n",
            lines.join("\n")
        )
    }

    /// Greedy generation from `prompt` under `grammar`, up to `</tool_call>` or the end.
    fn generate(backend: &LlamaBackend, model: &LlamaModel, prompt: &str, grammar: &str) -> String {
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(2048))
            .with_n_threads(2)
            .with_n_threads_batch(2);
        let mut ctx = model.new_context(backend, params).unwrap();
        let vocab = model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
        let mut batch = LlamaBatch::new(tokens.len(), 1);
        for (i, &t) in tokens.iter().enumerate() {
            batch.add(t, i as i32, &[0], i + 1 == tokens.len()).unwrap();
        }
        ctx.decode(&mut batch).unwrap();
        let grammar = LlamaSampler::grammar(model, grammar, "root").unwrap();
        let mut sampler = LlamaSampler::chain_simple([grammar, LlamaSampler::greedy()]);
        let mut index = batch.n_tokens() - 1;
        let mut text = Vec::new();
        for pos in tokens.len()..tokens.len() + 120 {
            let token = sampler.sample(&ctx, index);
            if vocab.is_eog(token) {
                break;
            }
            text.extend(vocab.token_to_piece(token, false, None));
            if text.ends_with(b"</tool_call>") {
                break;
            }
            batch.clear();
            batch.add(token, pos as i32, &[0], true).unwrap();
            ctx.decode(&mut batch).unwrap();
            index = 0;
        }
        String::from_utf8(text).unwrap()
    }

    /// The call's JSON object, from a generated `{...}` (`</tool_call>` after it or not).
    fn call_of(generated: &str) -> Value {
        let body = generated.strip_suffix("</tool_call>").unwrap_or(generated);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {generated:?}"))
    }

    #[test]
    fn a_grammar_lists_each_tool_by_name_and_escapes_literals() {
        let grammar = tool_call_grammar(&[weather(), mode()]);
        assert!(grammar.starts_with("root ::= ws \"{\" ws \"\\\"name\\\"\" ws \":\" ws ( r"));
        assert!(
            grammar.contains("\"\\\"get_weather\\\"\" ws \",\""),
            "{grammar}"
        );
        assert!(
            grammar.contains("\"\\\"alpha-7\\\"\" | \"\\\"beta-9\\\"\""),
            "{grammar}"
        );
        assert!(grammar.contains("( ws \"</tool_call>\" )?\n"), "{grammar}");
    }

    #[test]
    fn only_a_start_of_the_calls_object_opens_a_bare_call() {
        assert!(opens_bare_call("{\""));
        assert!(opens_bare_call("{"));
        assert!(opens_bare_call("{\"name"));
        assert!(!opens_bare_call("{}"));
        assert!(!opens_bare_call("{\"city"));
        assert!(!opens_bare_call("Sure"));
        assert!(!opens_bare_call(""));
    }

    #[test]
    fn the_tools_are_read_from_the_prompts_tools_section() {
        let system = "Be brief.\n\n# Tools\n\n<tools>\n\
            {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}\n\
            not a signature\n\
            {\"type\": \"function\", \"function\": {\"name\": \"get_date_time\"}}\n\
            </tools>\n\nTo call one ...";
        let tools = tools_in_prompt(system);
        let names: Vec<&str> = tools.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["get_weather", "get_date_time"]);
        assert_eq!(tools[0].1, json!({ "type": "object" }));
        assert_eq!(tools[1].1["type"], "object");
        assert!(tools_in_prompt("Be brief.").is_empty());
    }

    /// One test for everything that loads the model: llama.cpp's backend starts once a process.
    #[test]
    fn llama_cpp_accepts_the_grammars_and_holds_the_model_to_the_schema() {
        let backend = LlamaBackend::init().unwrap();
        let model =
            LlamaModel::load_from_file(&backend, model_path(), &LlamaModelParams::default())
                .unwrap();
        for tool in unusual() {
            let grammar = tool_call_grammar(std::slice::from_ref(&tool));
            assert!(
                LlamaSampler::grammar(&model, &grammar, "root").is_ok(),
                "llama.cpp refuses the grammar of {}:\n{grammar}",
                tool.0
            );
        }
        assert!(LlamaSampler::grammar(&model, &tool_call_grammar(&unusual()), "root").is_ok());

        let tools = [weather(), mode()];
        let grammar = tool_call_grammar(&tools);
        let asked = prompt(&tools, "What's the weather in Paris? In kelvin, please.");
        let call = call_of(&generate(&backend, &model, &asked, &grammar));
        assert_eq!(call["name"], "get_weather", "{call}");
        let arguments = call["arguments"].as_object().unwrap();
        assert!(arguments["city"].is_string(), "{call}");
        assert!(
            arguments.keys().all(|k| k == "city" || k == "unit"),
            "{call}"
        );
        if let Some(unit) = arguments.get("unit") {
            assert!(unit == "celsius" || unit == "fahrenheit", "{call}");
        }

        // Nothing in the request fits the schema: the grammar makes the call fit anyway.
        let asked = prompt(&[mode()], "Make it cosy, roughly medium-high.");
        let call = call_of(&generate(
            &backend,
            &model,
            &asked,
            &tool_call_grammar(&[mode()]),
        ));
        assert_eq!(call["name"], "set_mode", "{call}");
        let mode = &call["arguments"]["mode"];
        assert!(mode == "alpha-7" || mode == "beta-9", "{call}");
        assert!(call["arguments"]["level"].is_i64(), "{call}");
    }
}
