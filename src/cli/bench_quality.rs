//! `duplex bench quality`: the conversation-quality suite on the configured language model
//! (brain, system prompt, sampling), greedy or seeded so that a run is repeatable; scores per
//! category and every reply, written as JSON.

use std::path::PathBuf;

use duplex::config::Config;
use duplex::llm::TurnManager;
use duplex::quality::{run_case, summarize};
use duplex_core::quality::CASES;
use serde_json::json;

/// Arguments of `duplex bench quality`.
#[derive(clap::Args)]
pub struct QualityArgs {
    /// Only the cases whose id or category starts with one of these.
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-results/quality.json")]
    output: PathBuf,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    (!values.is_empty()).then(|| values[values.len() / 2])
}

/// Runs the subcommand.
pub fn run(config: &Config, args: QualityArgs) -> anyhow::Result<()> {
    let model = config.llm_model_path()?;
    let mut manager = TurnManager::from_config(&config.llm, &model)?;
    let selected: Vec<_> = CASES
        .iter()
        .filter(|c| {
            let category = serde_json::to_value(c.category).unwrap_or_default();
            args.cases.is_empty()
                || args.cases.iter().any(|p| {
                    c.id.starts_with(p.as_str())
                        || category.as_str().is_some_and(|s| s.starts_with(p.as_str()))
                })
        })
        .collect();
    let mut results = Vec::new();
    for case in selected {
        let result = run_case(&mut manager, case)?;
        println!(
            "{:5} {:18} {:?} -> {:?}{}",
            if result.passed { "pass" } else { "FAIL" },
            result.id,
            result.ask,
            result.reply,
            result
                .why
                .as_ref()
                .map(|w| format!("  ({w})"))
                .unwrap_or_default(),
        );
        results.push(result);
    }
    let summary = summarize(&results);
    let first_token_at = |turn: usize| {
        median(
            results
                .iter()
                .filter(|r| r.turn == turn)
                .filter_map(|r| r.first_token_ms)
                .collect(),
        )
    };
    let report = json!({
        "bench": "quality",
        "model": model.file_name().map(|n| n.to_string_lossy()),
        "brain": config.llm.brain,
        "backend": config.llm.backend,
        "system_prompt": config.llm.system_prompt(),
        "sampling": config.llm.sampling(),
        "history_budget_tokens": config.llm.history_budget_tokens,
        "summary": summary,
        "first_token_ms_median": { "turn_1": first_token_at(1), "turn_20": first_token_at(20) },
        "results": results,
    });
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.output, serde_json::to_string_pretty(&report)?)?;
    println!(
        "overall {}/{}",
        summary.overall.passed, summary.overall.cases
    );
    for (category, score) in &summary.categories {
        println!("  {category:?}: {}/{}", score.passed, score.cases);
    }
    println!("-> {}", args.output.display());
    Ok(())
}
