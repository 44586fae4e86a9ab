//! The configuration as a commented TOML file: every table and key preceded by its one-line
//! description from [`KEYS`], unset optional keys printed commented out with an example. The
//! text parses back into the same configuration.

use anyhow::Context;
use duplex::config::Config;
use toml::{Table, Value};

use super::config_keys::{KEYS, KeyKind};

/// Comment printed above a key that [`KEYS`] does not describe (a test fails on any).
const UNDOCUMENTED: &str = "(no description yet: add one in src/cli/config_keys.rs)";

/// Renders `config` as commented TOML, beginning with `preamble` (comment lines, `#` included).
pub fn commented_toml(config: &Config, preamble: &str) -> anyhow::Result<String> {
    let root = Table::try_from(config).context("cannot serialise the configuration")?;
    let mut out = String::from(preamble);
    write_keys(&mut out, "", &root);
    for section in section_paths(&root) {
        let table = table_at(&root, &section).expect("section_paths lists tables of root");
        out.push('\n');
        push_comment(&mut out, doc_of(&section));
        out.push_str(&format!("[{section}]\n"));
        write_keys(&mut out, &section, table);
    }
    Ok(out)
}

/// The dotted paths of every table under `root`: the documented ones in [`KEYS`] order, then any
/// others in the order the serialiser gave them.
fn section_paths(root: &Table) -> Vec<String> {
    let mut all = Vec::new();
    collect_tables(root, "", &mut all);
    let mut ordered: Vec<String> = KEYS
        .iter()
        .filter(|k| k.kind == KeyKind::Section && all.iter().any(|p| p == k.path))
        .map(|k| k.path.to_owned())
        .collect();
    for path in all {
        if !ordered.contains(&path) {
            ordered.push(path);
        }
    }
    ordered
}

fn collect_tables(table: &Table, prefix: &str, into: &mut Vec<String>) {
    for (name, value) in table {
        if let Value::Table(inner) = value {
            let path = join(prefix, name);
            into.push(path.clone());
            collect_tables(inner, &path, into);
        }
    }
}

/// The plain keys of the table at `path` (not its sub-tables): documented ones in [`KEYS`]
/// order, unset optional ones commented out, then any undocumented ones.
fn write_keys(out: &mut String, path: &str, table: &Table) {
    for doc in KEYS.iter().filter(|k| parent(k.path) == path) {
        let name = leaf(doc.path);
        match (table.get(name), doc.kind) {
            (Some(Value::Table(_)), _) | (None, KeyKind::Section | KeyKind::Value) => {}
            (Some(value), _) => {
                push_comment(out, doc.doc);
                out.push_str(&format!("{name} = {}\n", format_value(value)));
            }
            (None, KeyKind::Optional(example)) => {
                push_comment(out, doc.doc);
                out.push_str(&format!("# {name} = {example}\n"));
            }
        }
    }
    for (name, value) in table {
        let documented = KEYS.iter().any(|k| k.path == join(path, name));
        if !documented && !value.is_table() {
            push_comment(out, UNDOCUMENTED);
            out.push_str(&format!("{name} = {}\n", format_value(value)));
        }
    }
}

/// A value as TOML, with floats that came from an `f32` written the way the `f32` reads
/// (0.35, not 0.3499999940395355): both parse back to the same `f32`.
fn format_value(value: &Value) -> String {
    match value {
        Value::Float(x) if x.is_finite() => {
            let narrow = *x as f32;
            let text = if f64::from(narrow) == *x {
                narrow.to_string()
            } else {
                x.to_string()
            };
            if text.contains(['.', 'e', 'E']) {
                text
            } else {
                format!("{text}.0")
            }
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(format_value).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn push_comment(out: &mut String, text: &str) {
    out.push_str("# ");
    out.push_str(text);
    out.push('\n');
}

/// The description of the table or key at `path`.
fn doc_of(path: &str) -> &'static str {
    KEYS.iter()
        .find(|k| k.path == path)
        .map_or(UNDOCUMENTED, |k| k.doc)
}

fn table_at<'a>(root: &'a Table, path: &str) -> Option<&'a Table> {
    path.split('.')
        .try_fold(root, |table, name| table.get(name)?.as_table())
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(parent, _)| parent)
}

fn leaf(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, leaf)| leaf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every leaf key path of `table` (tables excluded).
    fn leaf_paths(table: &Table, prefix: &str, into: &mut Vec<String>) {
        for (name, value) in table {
            match value {
                Value::Table(inner) => leaf_paths(inner, &join(prefix, name), into),
                _ => into.push(join(prefix, name)),
            }
        }
    }

    /// A configuration with every optional key set, from the examples in [`KEYS`].
    fn config_with_every_option() -> Config {
        let mut by_section: Vec<(&str, String)> = Vec::new();
        for doc in KEYS {
            if let KeyKind::Optional(example) = doc.kind {
                let line = format!("{} = {example}\n", leaf(doc.path));
                match by_section.iter_mut().find(|(s, _)| *s == parent(doc.path)) {
                    Some((_, lines)) => lines.push_str(&line),
                    None => by_section.push((parent(doc.path), line)),
                }
            }
        }
        // Keys of the top level come before any table header.
        by_section.sort_by_key(|(section, _)| !section.is_empty());
        let text: String = by_section
            .iter()
            .map(|(section, lines)| match section.is_empty() {
                true => lines.clone(),
                false => format!("[{section}]\n{lines}"),
            })
            .collect();
        toml::from_str(&text).unwrap_or_else(|e| panic!("the examples do not parse: {e}\n{text}"))
    }

    #[test]
    fn every_key_of_the_configuration_is_described_and_every_description_is_a_key() {
        let mut paths = Vec::new();
        leaf_paths(
            &Table::try_from(config_with_every_option()).unwrap(),
            "",
            &mut paths,
        );
        let mut sections = Vec::new();
        collect_tables(
            &Table::try_from(Config::default()).unwrap(),
            "",
            &mut sections,
        );
        let undocumented: Vec<&String> = paths
            .iter()
            .chain(&sections)
            .filter(|p| !KEYS.iter().any(|k| &k.path == p))
            .collect();
        assert!(
            undocumented.is_empty(),
            "keys with no line in KEYS: {undocumented:?}"
        );
        let unknown: Vec<&str> = KEYS
            .iter()
            .map(|k| k.path)
            .filter(|p| !paths.iter().chain(&sections).any(|q| q == p))
            .collect();
        assert!(
            unknown.is_empty(),
            "KEYS entries that are no key: {unknown:?}"
        );
    }

    #[test]
    fn the_printed_defaults_parse_back_into_the_same_configuration() {
        let config = Config::default();
        let printed = commented_toml(&config, "").unwrap();
        let parsed: Config = toml::from_str(&printed).unwrap();
        assert_eq!(
            Table::try_from(&parsed).unwrap(),
            Table::try_from(&config).unwrap()
        );
        assert!(printed.contains("\nthreshold = 0.5\n"), "{printed}");
        assert!(printed.contains("\nneg_threshold = 0.35\n"), "{printed}");
        assert!(printed.contains("\n# brain = \"balanced\"\n"), "{printed}");
    }

    #[test]
    fn a_configuration_with_every_option_set_parses_back_the_same() {
        let mut config = config_with_every_option();
        config.agent.backchannel.words = vec!["mm-hm".into(), "say \"what\"".into()];
        config.llm.system_prompt = "Line one.\nLine two.".into();
        config.vad.threshold = 0.123_456_79;
        let printed = commented_toml(&config, "# header\n").unwrap();
        assert!(printed.starts_with("# header\n"));
        let parsed: Config = toml::from_str(&printed).unwrap();
        assert_eq!(
            Table::try_from(&parsed).unwrap(),
            Table::try_from(&config).unwrap()
        );
        assert_eq!(parsed.vad.threshold, 0.123_456_79);
        assert_eq!(commented_toml(&parsed, "# header\n").unwrap(), printed);
    }

    #[test]
    fn every_key_line_has_a_comment_line_above_it() {
        let printed = commented_toml(&config_with_every_option(), "").unwrap();
        let lines: Vec<&str> = printed.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let is_key = line.contains(" = ") && !line.starts_with('#');
            let is_section = line.starts_with('[');
            if is_key || is_section {
                assert!(
                    i > 0 && lines[i - 1].starts_with("# ") && !lines[i - 1].contains(UNDOCUMENTED),
                    "no description above {line:?}"
                );
            }
        }
    }
}
