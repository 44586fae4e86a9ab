//! `duplex config [--for COMMAND]`: prints the effective configuration as commented TOML, and
//! the layering every subcommand loads its configuration through.
//!
//! The layers, each over the one before: the defaults (a subcommand may change one: `talk` and
//! `serve` turn backchannels on), the `--config` file, then the command line. A flag changes its
//! key only when it is given, so a value set in the file survives a command line without it.

use std::path::Path;

use anyhow::Context;
use duplex::config::{Config, ConfigError};
use serde::Deserialize;
use toml::{Table, Value};

use super::config_toml::commented_toml;

/// Arguments of `duplex config`.
#[derive(clap::Args)]
pub struct ConfigArgs {
    /// Print the configuration as this subcommand would use it (its own defaults applied).
    #[arg(long = "for", value_enum, value_name = "COMMAND")]
    target: Option<Target>,
}

/// The subcommands `duplex config --for` knows.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Target {
    Converse,
    Talk,
    Serve,
    Chat,
    Bench,
    Say,
    Transcribe,
}

/// Which defaults a subcommand starts from, before the `--config` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defaults {
    /// [`Config::default`] as it is.
    Plain,
    /// A live conversation (`talk`, `serve`): backchannels on.
    LiveAudio,
}

impl Defaults {
    /// The default configuration of this kind.
    pub fn config(self) -> Config {
        let mut config = Config::default();
        if self == Self::LiveAudio {
            config.agent.backchannel.enabled = true;
        }
        config
    }
}

impl ConfigArgs {
    /// The defaults of the subcommand named by `--for`.
    pub fn defaults(&self) -> Defaults {
        match self.target {
            Some(Target::Talk | Target::Serve) => Defaults::LiveAudio,
            _ => Defaults::Plain,
        }
    }
}

/// The configuration from `defaults` with the keys of `file` (if any) over them.
///
/// The file is first read as a whole configuration, so that an unknown key or a wrong type is
/// reported with the parser's line and column; then its tables are laid key by key over the
/// defaults, so a key the file does not name keeps the subcommand's default.
pub fn load(defaults: Defaults, file: Option<&Path>) -> anyhow::Result<Config> {
    let base = defaults.config();
    let Some(path) = file else {
        return Ok(base);
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |e: toml::de::Error| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    };
    toml::from_str::<Config>(&text).map_err(parse_error)?;
    let from_file: Table = toml::from_str(&text).map_err(parse_error)?;
    let mut merged = Table::try_from(&base).context("cannot serialise the defaults")?;
    overlay(&mut merged, from_file);
    Config::deserialize(Value::Table(merged))
        .with_context(|| format!("config file {} is invalid", path.display()))
}

/// Lays `top` over `base`: tables merge key by key, any other value replaces.
fn overlay(base: &mut Table, top: Table) {
    for (name, value) in top {
        match (base.get_mut(&name), value) {
            (Some(Value::Table(below)), Value::Table(above)) => overlay(below, above),
            (_, value) => {
                base.insert(name, value);
            }
        }
    }
}

/// Prints the configuration `config` (already layered by `main`) as commented TOML.
pub fn run(config: &Config, args: ConfigArgs, file: Option<&Path>) -> anyhow::Result<()> {
    let defaults = match args.defaults() {
        Defaults::LiveAudio => "the defaults of talk and serve (backchannels on)",
        Defaults::Plain => "the defaults",
    };
    let file = file.map_or("no --config file".to_owned(), |f| {
        format!("the file {}", f.display())
    });
    let preamble = format!(
        "# The effective configuration of duplex, printed by `duplex config`. Layers, each over\n\
         # the one before: {defaults}; {file}; the command line's flags.\n\
         # Every key is optional in a file of your own (a missing key keeps its default);\n\
         # use one with `duplex --config FILE ...`. A key printed commented out is unset (the\n\
         # value shown is an example).\n\n"
    );
    print!("{}", commented_toml(config, &preamble)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn a_file_value_survives_a_subcommand_default() {
        let off = file_with("[agent.backchannel]\nenabled = false\n");
        let config = load(Defaults::LiveAudio, Some(off.path())).unwrap();
        assert!(!config.agent.backchannel.enabled);
    }

    #[test]
    fn a_key_the_file_does_not_name_keeps_the_subcommand_default() {
        let other = file_with("[agent.backchannel]\nmin_gap_ms = 5000\n[vad]\nthreshold = 0.6\n");
        let live = load(Defaults::LiveAudio, Some(other.path())).unwrap();
        assert!(live.agent.backchannel.enabled);
        assert_eq!(live.agent.backchannel.min_gap_ms, 5000);
        assert_eq!(live.agent.backchannel.words, ["mm-hm", "right"]);
        assert_eq!(live.vad.threshold, 0.6);
        assert_eq!(live.vad.min_silence_ms, 100);
        let plain = load(Defaults::Plain, Some(other.path())).unwrap();
        assert!(!plain.agent.backchannel.enabled);
        assert!(
            load(Defaults::LiveAudio, None)
                .unwrap()
                .agent
                .backchannel
                .enabled
        );
    }

    #[test]
    fn a_bad_file_is_reported_with_its_line() {
        let bad = file_with("[vad]\nthreshold = 0.5\nno_such_key = 1\n");
        let error = load(Defaults::Plain, Some(bad.path())).unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("no_such_key") && text.contains("line 3"),
            "{text}"
        );
    }
}
