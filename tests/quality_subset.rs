//! The deterministic part of the conversation-quality suite that CI keeps, with the brains'
//! default prompts and sampling (seeded): on the default brain, no reply leaks the system
//! prompt, a marker, a role name, markdown or an emoji, and plain statements get a reaction, not
//! an echo; on the `balanced` brain (the default one cannot: see the README's table), a fact
//! from turn 1 is recalled at turns 5, 10 and 20, through the history and, once it is over its
//! budget, the running memory. The whole suite, with its scores, is `duplex bench quality`.

use duplex::config::Config;
use duplex::llm::TurnManager;
use duplex::quality::run_case;
use duplex_core::quality::{CASES, Category};

fn manager(brain: Option<&str>) -> TurnManager {
    let mut config = Config::default();
    config.llm.brain = brain.map(str::to_owned);
    let model = config
        .llm_model_path()
        .expect("the brain is fetched (scripts/test.sh fetches the ones tested)");
    TurnManager::from_config(&config.llm, &model).expect("the language model starts")
}

fn run(category: Category, brain: Option<&str>) {
    let mut manager = manager(brain);
    let mut failures = Vec::new();
    for case in CASES.iter().filter(|c| c.category == category) {
        let result = run_case(&mut manager, case).expect("the model answers");
        println!("{} {:?} -> {:?}", result.id, result.ask, result.reply);
        if !result.passed {
            failures.push(format!(
                "{}: {:?} ({:?})",
                result.id, result.reply, result.why
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn no_reply_leaks() {
    run(Category::Leaks, None);
}

#[test]
fn statements_get_a_reaction_not_an_echo() {
    run(Category::Statements, None);
}

#[test]
fn a_fact_from_turn_one_is_recalled_at_turns_5_10_and_20_by_the_balanced_brain() {
    run(Category::Memory, Some("balanced"));
}
