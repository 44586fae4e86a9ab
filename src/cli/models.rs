//! `duplex models [--verify]`: lists the pinned model files and checks them.

use duplex::config::Config;
use duplex::models::{check_present, pinned_files, verify_pinned};

/// Arguments of `duplex models`.
#[derive(clap::Args)]
pub struct ModelsArgs {
    /// Hash every file and compare with the pinned sha256 (slower).
    #[arg(long)]
    verify: bool,
}

/// Runs the subcommand; fails if any file is missing or differs.
pub fn run(config: &Config, args: ModelsArgs) -> anyhow::Result<()> {
    let dir = &config.models.dir;
    let mut bad = 0;
    for pin in pinned_files() {
        if pin.optional && !dir.join(&pin.file).exists() {
            let brain = pin.brain.as_deref().unwrap_or("?");
            println!(
                "absent  {} (optional, brain {brain}: python3 scripts/fetch_models.py --brain {brain})",
                pin.file
            );
            continue;
        }
        let result = if args.verify {
            verify_pinned(dir, &pin)
        } else {
            check_present(&dir.join(&pin.file), "model file")
        };
        match result {
            Ok(()) => println!("ok      {} ({} bytes)", pin.file, pin.size),
            Err(e) => {
                bad += 1;
                println!("FAILED  {}: {e}", pin.file);
            }
        }
    }
    if bad > 0 {
        anyhow::bail!(
            "{bad} model file(s) missing or corrupt in {}",
            dir.display()
        );
    }
    Ok(())
}
