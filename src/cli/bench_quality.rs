//! `duplex bench quality`: the conversation-quality suite on the configured language model
//! (brain, system prompt, sampling), greedy or seeded so that a run is repeatable; scores per
//! category and every reply, written as JSON.
//!
//! The text cases always run as shipped (`[llm] cue_notes` off, so their figures stay
//! comparable); the cue cases run with the words alone, with their notes and the system prompt's
//! hint (`cue_notes` on), or both ways (`--cues`).

use std::path::PathBuf;

use duplex::config::Config;
use duplex::cues::SYSTEM_HINT;
use duplex::llm::TurnManager;
use duplex::quality::{CaseResult, Score, run_case, run_case_with_note, score_cues, summarize};
use duplex_core::quality::{Case, Category, all_cases};
use serde_json::json;

/// How the cue cases are run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CueRuns {
    /// The words alone, no hint in the system prompt.
    Off,
    /// The words with their notes, the hint in the system prompt.
    On,
    /// Both, to compare.
    Both,
}

/// Arguments of `duplex bench quality`.
#[derive(clap::Args)]
pub struct QualityArgs {
    /// Only the cases whose id or category starts with one of these.
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// How the cue cases run: without their notes, with them, or both ways.
    #[arg(long, value_enum, default_value_t = CueRuns::Both)]
    cues: CueRuns,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-results/quality.json")]
    output: PathBuf,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    (!values.is_empty()).then(|| values[values.len() / 2])
}

fn selected(case: &Case, prefixes: &[String]) -> bool {
    let category = serde_json::to_value(case.category).unwrap_or_default();
    prefixes.is_empty()
        || prefixes.iter().any(|p| {
            case.id.starts_with(p.as_str())
                || category.as_str().is_some_and(|s| s.starts_with(p.as_str()))
        })
}

/// Runs `cases` on a manager built with `cue_notes` as given, printing each verdict.
fn run_all(
    config: &Config,
    model: &std::path::Path,
    cases: &[&Case],
    cue_notes: bool,
) -> anyhow::Result<Vec<CaseResult>> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    let mut llm = config.llm.clone();
    llm.cue_notes = cue_notes;
    let mut manager = TurnManager::from_config(&llm, model)?;
    let mut results = Vec::new();
    for case in cases {
        let result = if cue_notes {
            run_case_with_note(&mut manager, case)?
        } else {
            run_case(&mut manager, case)?
        };
        println!(
            "{:5} {:22} {:?} -> {:?}{}",
            if result.passed { "pass" } else { "FAIL" },
            result.id,
            case.user_turn(cue_notes),
            result.reply,
            result
                .why
                .as_ref()
                .map(|w| format!("  ({w})"))
                .unwrap_or_default(),
        );
        results.push(result);
    }
    Ok(results)
}

/// Runs the subcommand.
pub fn run(config: &Config, args: QualityArgs) -> anyhow::Result<()> {
    let model = config.llm_model_path()?;
    let (cue_cases, text_cases): (Vec<&Case>, Vec<&Case>) = all_cases()
        .filter(|c| selected(c, &args.cases))
        .partition(|c| c.category == Category::Cues);
    let mut plain_cases = text_cases;
    if args.cues != CueRuns::On {
        plain_cases.extend(&cue_cases);
    }
    let mut results = run_all(config, &model, &plain_cases, false)?;
    if args.cues != CueRuns::Off {
        results.extend(run_all(config, &model, &cue_cases, true)?);
    }

    let without_notes: Vec<CaseResult> = results
        .iter()
        .filter(|r| r.note.is_none())
        .cloned()
        .collect();
    let summary = summarize(&without_notes);
    let cues = score_cues(&results);
    let with_cue_notes = cues.with_notes.is_some().then(|| {
        Score::of(
            results
                .iter()
                .filter(|r| r.category != Category::Cues || r.note.is_some()),
        )
    });
    let first_token_at = |turn: usize| {
        median(
            results
                .iter()
                .filter(|r| r.turn == turn && r.category != Category::Cues)
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
        "cue_system_hint": cues.with_notes.is_some().then_some(SYSTEM_HINT),
        "sampling": config.llm.sampling(),
        "history_budget_tokens": config.llm.history_budget_tokens,
        "summary": summary,
        "cues": cues,
        "overall_with_cue_notes": with_cue_notes,
        "first_token_ms_median": { "turn_1": first_token_at(1), "turn_20": first_token_at(20) },
        "results": results,
    });
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.output, serde_json::to_string_pretty(&report)?)?;
    println!(
        "overall {}/{} (cue cases without notes)",
        summary.overall.passed, summary.overall.cases
    );
    if let Some(score) = &with_cue_notes {
        println!(
            "overall {}/{} (cue cases with notes)",
            score.passed, score.cases
        );
    }
    for (category, score) in &summary.categories {
        println!("  {category:?}: {}/{}", score.passed, score.cases);
    }
    for (way, score) in [
        ("without notes", &cues.without_notes),
        ("with notes", &cues.with_notes),
    ] {
        if let Some(score) = score {
            println!("  Cues {way}: {}/{}", score.passed, score.cases);
        }
    }
    println!("-> {}", args.output.display());
    Ok(())
}
