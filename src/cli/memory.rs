//! `duplex memory list | export | forget ID | forget --all`: what duplex remembers between calls
//! (see `duplex::profile`), every profile's, in the data directory's store; and the local
//! profile that `talk`, `converse` and `chat` share.

use std::io::Write;

use anyhow::Context;
use duplex::config::Config;
use duplex::profile::{LOCAL_PROFILE, Profile, Store, StoreError, store::DB_FILE};

/// Arguments of `duplex memory`.
#[derive(clap::Args)]
pub struct MemoryArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List what is remembered: each fact and call summary, newest first, with its id.
    List,
    /// Write everything remembered as JSON to stdout.
    Export,
    /// Forget one memory by its id (from `list`), or everything with --all. Forgotten text is
    /// gone from the database's files, not only from its queries.
    Forget {
        /// The memory's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Forget every memory of every profile (a damaged database is removed).
        #[arg(long)]
        all: bool,
    },
}

/// Runs the subcommand.
pub fn run(config: &Config, args: MemoryArgs) -> anyhow::Result<()> {
    let dir = config.data_dir();
    let path = dir.join(DB_FILE);
    let store = match (Store::open(&dir, false), &args.action) {
        (Err(StoreError::Damaged { .. }), Action::Forget { all: true, .. }) => {
            remove_store(&path)?;
            println!("the damaged memory database {} was removed", path.display());
            return Ok(());
        }
        (opened, _) => opened?,
    };
    let Some(store) = store else {
        match args.action {
            Action::Export => println!("{}", export_json(&path, &[])?),
            _ => eprintln!("nothing is remembered ({} does not exist)", path.display()),
        }
        return Ok(());
    };
    match args.action {
        Action::List => {
            let memories = store.list(None)?;
            if memories.is_empty() {
                eprintln!("nothing is remembered ({})", path.display());
            }
            let mut out = std::io::stdout().lock();
            for m in memories {
                let kind = match m.kind {
                    duplex::profile::store::Kind::Fact => "fact",
                    duplex::profile::store::Kind::Call => "call",
                };
                writeln!(
                    out,
                    "{:>5}  {}  {:<20}  {kind}  {}",
                    m.id, m.when, m.profile, m.text
                )?;
                if !m.said.is_empty() && m.said != m.text {
                    writeln!(out, "{:>5}  said: \"{}\"", "", m.said)?;
                }
            }
        }
        Action::Export => println!("{}", export_json(&path, &store.list(None)?)?),
        Action::Forget { all: true, .. } => {
            let n = store.forget_all(None)?;
            println!("forgot {n} memories ({})", path.display());
        }
        Action::Forget { id: Some(id), .. } => {
            if !store.forget(None, id)? {
                anyhow::bail!("there is no memory {id}; `duplex memory list` shows their ids");
            }
            println!("forgot memory {id}");
        }
        Action::Forget {
            id: None,
            all: false,
        } => unreachable!("clap requires an id or --all"),
    }
    Ok(())
}

/// The export's JSON: the store's path and every memory.
fn export_json(
    path: &std::path::Path,
    memories: &[duplex::profile::Memory],
) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&serde_json::json!({
        "store": path,
        "memories": memories,
    }))?)
}

/// Removes a damaged database and its log files.
fn remove_store(path: &std::path::Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", file.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The local profile (shared by `talk`, `converse` and `chat`) for a call, unless memory is off.
/// A store that cannot be used is said once, and the call goes on without memory.
pub fn local_profile(config: &Config) -> Option<Profile> {
    if !config.memory.enabled {
        return None;
    }
    match Profile::open(&config.data_dir(), LOCAL_PROFILE, &config.memory) {
        Ok(profile) => Some(profile),
        Err(e) => {
            eprintln!("memory: {e}. This call goes on without memory.");
            None
        }
    }
}
