//! The deterministic part of the conversation-quality suite that CI keeps, on the default brain
//! with its default prompt and sampling: no reply leaks the system prompt, a marker, a role
//! name, markdown or an emoji; plain statements get a reaction, not an echo; a fact from turn 1
//! is recalled at turns 5, 10 and 20, through the history and, once it is over its budget, the
//! running memory, with an answer that is in nothing the user said (the name's initial, the
//! city's country), so that copying the user's words back cannot pass. The whole suite, with its
//! scores, is `duplex bench quality`.

use duplex::config::Config;
use duplex::llm::TurnManager;
use duplex::quality::run_case;
use duplex_core::quality::{CASES, Category, Expect, FILLERS, Step};

fn manager() -> TurnManager {
    let config = Config::default();
    let model = config.llm_model_path().unwrap_or_else(|e| panic!("{e}"));
    TurnManager::from_config(&config.llm, &model).expect("the language model starts")
}

fn run(category: Category) {
    let mut manager = manager();
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
    run(Category::Leaks);
}

#[test]
fn statements_get_a_reaction_not_an_echo() {
    run(Category::Statements);
}

#[test]
fn a_fact_from_turn_one_is_recalled_at_turns_5_10_and_20() {
    run(Category::Memory);
}

/// Lower-case words of `text`, punctuation dropped.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn no_recall_answer_is_in_what_the_user_said() {
    let memory: Vec<_> = CASES
        .iter()
        .filter(|c| c.category == Category::Memory)
        .collect();
    assert_eq!(memory.len(), 9);
    for case in memory {
        let Expect::Mentions(answers) = case.expect else {
            panic!("{}: a recall case names its answer", case.id);
        };
        let mut said: Vec<&str> = vec![case.ask];
        let mut fillers = FILLERS.iter();
        for step in case.script {
            match *step {
                Step::Say(text) | Step::SayCut { text, .. } => said.push(text),
                Step::Fillers(n) => said.extend(fillers.by_ref().take(n)),
            }
        }
        for answer in answers {
            let answer = words(answer);
            for text in &said {
                let text = words(text);
                assert!(
                    !text.windows(answer.len()).any(|w| w == answer),
                    "{}: the user said {answer:?} ({text:?})",
                    case.id
                );
            }
        }
    }
}
