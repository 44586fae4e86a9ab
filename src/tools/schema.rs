//! Checks a call's arguments against its tool's JSON Schema: a small validator of the subset
//! of JSON Schema that tools use (no crate: `jsonschema` brings a regex engine, big-number
//! arithmetic and a resolver of remote references, none of which a tool's arguments need).
//!
//! Checked: `type` (one or a list of `object`, `string`, `number`, `integer`, `boolean`,
//! `array`, `null`), `properties`, `required`, `additionalProperties: false`, `enum`, `items`.
//! Annotations (`description`, `title`, `default`, `examples`, `$schema`, `format`) are read by
//! the model, not checked. Any other keyword (`anyOf`, `pattern`, `minimum`, ...) is not checked
//! here: [`unchecked_keywords`] names them so that the registry can say so when it loads the tool;
//! the tool itself then has to refuse what it cannot take.

use serde_json::Value;

/// Keywords that describe and are never checked.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "default",
    "examples",
    "$schema",
    "format",
];

/// Keywords [`check_arguments`] checks.
const CHECKED: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "items",
];

/// Why arguments do not fit a schema, in words for a log and for the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct ArgumentError {
    /// Where in the arguments (`arguments.city`).
    pub path: String,
    /// What is wrong there.
    pub problem: String,
}

/// Checks `arguments` against `schema` (see the module doc for what is checked).
pub fn check_arguments(schema: &Value, arguments: &Value) -> Result<(), ArgumentError> {
    check(schema, arguments, "arguments")
}

/// The keywords in `schema`, at any depth, that [`check_arguments`] does not check and that are
/// no mere annotation, as `path.keyword`.
pub fn unchecked_keywords(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_unchecked(schema, "parameters", &mut found);
    found.sort();
    found
}

fn collect_unchecked(schema: &Value, path: &str, found: &mut Vec<String>) {
    let Some(object) = schema.as_object() else {
        return;
    };
    for (keyword, value) in object {
        if !CHECKED.contains(&keyword.as_str()) && !ANNOTATIONS.contains(&keyword.as_str()) {
            found.push(format!("{path}.{keyword}"));
        }
        match keyword.as_str() {
            "properties" => {
                for (name, inner) in value.as_object().into_iter().flatten() {
                    collect_unchecked(inner, &format!("{path}.{name}"), found);
                }
            }
            "items" => collect_unchecked(value, &format!("{path}[]"), found),
            _ => {}
        }
    }
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), ArgumentError> {
    let fail = |problem: String| ArgumentError {
        path: path.to_owned(),
        problem,
    };
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| has_type(value, t)) {
            return Err(fail(format!(
                "expected {}, got {}",
                allowed.join(" or "),
                type_name(value)
            )));
        }
    }
    if let Some(Value::Array(choices)) = schema.get("enum")
        && !choices.contains(value)
    {
        let choices: Vec<String> = choices.iter().map(Value::to_string).collect();
        return Err(fail(format!(
            "{value} is not one of {}",
            choices.join(", ")
        )));
    }
    if let Value::Object(fields) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !fields.contains_key(name) {
                return Err(fail(format!("the required {name:?} is missing")));
            }
        }
        for (name, field) in fields {
            let inner_path = format!("{path}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(inner) => check(inner, field, &inner_path)?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(fail(format!("{name:?} is not a parameter of this tool")));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|x| x.fract() == 0.0)
        }
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn weather() -> Value {
        json!({
            "type": "object",
            "properties": {
                "city": { "type": "string", "description": "A city" },
                "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] },
                "days": { "type": "integer" },
                "tags": { "type": "array", "items": { "type": "string" } }
            },
            "required": ["city"],
            "additionalProperties": false
        })
    }

    fn problem(arguments: Value) -> String {
        check_arguments(&weather(), &arguments)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn fitting_arguments_pass() {
        let arguments = json!({ "city": "Paris", "unit": "celsius", "days": 3, "tags": ["a"] });
        assert_eq!(check_arguments(&weather(), &arguments), Ok(()));
        assert_eq!(
            check_arguments(&weather(), &json!({ "city": "Oslo", "days": 2.0 })),
            Ok(())
        );
    }

    #[test]
    fn each_misfit_is_named_with_its_place() {
        assert_eq!(
            problem(json!({})),
            "arguments: the required \"city\" is missing"
        );
        assert_eq!(
            problem(json!({ "city": 5 })),
            "arguments.city: expected string, got a number"
        );
        assert_eq!(
            problem(json!({ "city": "Rome", "unit": "kelvin" })),
            "arguments.unit: \"kelvin\" is not one of \"celsius\", \"fahrenheit\""
        );
        assert_eq!(
            problem(json!({ "city": "Rome", "days": 1.5 })),
            "arguments.days: expected integer, got a number"
        );
        assert_eq!(
            problem(json!({ "city": "Rome", "tags": ["a", 2] })),
            "arguments.tags[1]: expected string, got a number"
        );
        assert_eq!(
            problem(json!({ "city": "Rome", "country": "Italy" })),
            "arguments: \"country\" is not a parameter of this tool"
        );
        assert_eq!(
            problem(json!("Rome")),
            "arguments: expected object, got a string"
        );
    }

    #[test]
    fn a_list_of_types_accepts_any_of_them() {
        let schema = json!({ "type": ["string", "null"] });
        assert_eq!(check_arguments(&schema, &json!(null)), Ok(()));
        assert!(check_arguments(&schema, &json!(true)).is_err());
    }

    #[test]
    fn keywords_left_unchecked_are_named_and_annotations_are_not() {
        let schema = json!({
            "type": "object",
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "properties": {
                "zone": { "type": "string", "pattern": "^[A-Z]", "description": "IANA name" },
                "n": { "anyOf": [{ "type": "integer" }] }
            }
        });
        assert_eq!(
            unchecked_keywords(&schema),
            ["parameters.n.anyOf", "parameters.zone.pattern"]
        );
        assert!(unchecked_keywords(&weather()).is_empty());
    }
}
