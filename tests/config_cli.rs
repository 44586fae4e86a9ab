//! `duplex config` against the shipped binary: the printed configuration parses back into the
//! same configuration (`duplex --config <printed file>` prints it again, key for key), the
//! layers apply in order (defaults, `--config` file, flags), and a flag changes its key only
//! when it is given. No model is needed: `duplex config` loads none.

use std::path::Path;
use std::process::Command;

use duplex::config::Config;
use toml::{Table, Value};

/// Runs `duplex ARGS` and returns its stdout; panics with stderr when it fails.
fn duplex(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .args(args)
        .output()
        .expect("run duplex");
    assert!(
        out.status.success(),
        "duplex {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The printed file without its comment lines: what a parser reads.
fn settings(printed: &str) -> Vec<&str> {
    printed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
}

fn value<'a>(printed: &'a Table, path: &str) -> Option<&'a Value> {
    let (tables, key) = path.rsplit_once('.').unwrap_or(("", path));
    let mut table = printed;
    for name in tables.split('.').filter(|n| !n.is_empty()) {
        table = table.get(name)?.as_table()?;
    }
    table.get(key)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn the_printed_configuration_is_read_back_as_the_same_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mine = write(
        dir.path(),
        "mine.toml",
        "[vad]\nthreshold = 0.62\n[llm]\nbrain = \"fast\"\ntemperature = 0.3\n\
         [agent.backchannel]\nwords = [\"uh-huh\"]\n",
    );
    for layers in [vec![], vec!["--config", mine.as_str()]] {
        let first = duplex(&[layers.as_slice(), &["config"]].concat());
        let printed = write(dir.path(), "printed.toml", &first);
        let parsed: Config = toml::from_str(&first).expect("the printed file parses as a Config");
        let second = duplex(&["--config", &printed, "config"]);
        assert_eq!(settings(&second), settings(&first), "{first}");
        let again: Config = toml::from_str(&second).unwrap();
        assert_eq!(
            Table::try_from(&again).unwrap(),
            Table::try_from(&parsed).unwrap()
        );
    }
    let printed: Table = toml::from_str(&duplex(&["--config", &mine, "config"])).unwrap();
    assert_eq!(value(&printed, "vad.threshold"), Some(&Value::Float(0.62)));
    assert_eq!(
        value(&printed, "vad.min_silence_ms"),
        Some(&Value::Integer(100))
    );
    assert_eq!(
        value(&printed, "llm.brain"),
        Some(&Value::String("fast".into()))
    );
    assert_eq!(value(&printed, "llm.temperature"), Some(&Value::Float(0.3)));
}

#[test]
fn every_key_is_printed_with_a_comment_above_it() {
    let printed = duplex(&["config"]);
    let lines: Vec<&str> = printed.lines().collect();
    let mut keys = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with('#') && (line.contains(" = ") || line.starts_with('[')) {
            keys += 1;
            assert!(
                lines[i - 1].starts_with("# ") && !lines[i - 1].contains("no description"),
                "no description above {line:?}"
            );
        }
    }
    assert!(keys > 60, "only {keys} keys and tables printed:\n{printed}");
    assert!(
        printed.contains("\n# brain = \"balanced\"\n"),
        "unset keys are shown commented out"
    );
}

#[test]
fn flags_apply_over_the_file_and_only_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "f.toml",
        "[llm]\nbrain = \"quality\"\n[memory]\nenabled = true\nrecall_facts = 4\n",
    );
    let without: Table = toml::from_str(&duplex(&["--config", &file, "config"])).unwrap();
    assert_eq!(
        value(&without, "llm.brain"),
        Some(&Value::String("quality".into()))
    );
    assert_eq!(
        value(&without, "memory.enabled"),
        Some(&Value::Boolean(true))
    );
    let with: Table = toml::from_str(&duplex(&[
        "--config",
        &file,
        "--brain",
        "fast",
        "--no-memory",
        "config",
    ]))
    .unwrap();
    assert_eq!(
        value(&with, "llm.brain"),
        Some(&Value::String("fast".into()))
    );
    assert_eq!(value(&with, "memory.enabled"), Some(&Value::Boolean(false)));
    assert_eq!(
        value(&with, "memory.recall_facts"),
        Some(&Value::Integer(4))
    );
}

#[test]
fn a_toml_value_survives_when_the_flag_is_absent() {
    // `talk` and `serve` turn backchannels on by default, `--no-backchannels` off; a file that
    // turns them off must win over the default when the flag is not given.
    let dir = tempfile::tempdir().unwrap();
    let off = write(
        dir.path(),
        "off.toml",
        "[agent.backchannel]\nenabled = false\n",
    );
    let enabled = |args: &[&str]| {
        let printed: Table = toml::from_str(&duplex(args)).unwrap();
        value(&printed, "agent.backchannel.enabled").cloned()
    };
    for target in ["talk", "serve"] {
        assert_eq!(
            enabled(&["config", "--for", target]),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            enabled(&["--config", &off, "config", "--for", target]),
            Some(Value::Boolean(false)),
            "the file's value was overridden for {target}"
        );
    }
    assert_eq!(enabled(&["config"]), Some(Value::Boolean(false)));
}
