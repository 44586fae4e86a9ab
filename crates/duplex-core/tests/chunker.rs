//! The sentence chunker on token streams: exactly which chunks come out, and after which token.
//!
//! Each case feeds tokens one at a time and records, for every chunk, the token whose arrival
//! released it (or `<end>` when `finish()` did). Pure and model-free.

use duplex_core::text::{ChunkerConfig, SentenceChunker};

/// Feeds `tokens` and returns (releasing token, chunk text) pairs, checking offsets on the way.
fn run(tokens: &[&str]) -> Vec<(String, String)> {
    run_with(ChunkerConfig::default(), tokens)
}

fn run_with(config: ChunkerConfig, tokens: &[&str]) -> Vec<(String, String)> {
    let reply: String = tokens.concat();
    let mut chunker = SentenceChunker::new(config);
    let mut out = Vec::new();
    let mut expected_index = 0;
    let mut check =
        |chunk: duplex_core::text::Chunk, by: String, out: &mut Vec<(String, String)>| {
            assert_eq!(chunk.index, expected_index, "chunk indices count up");
            assert_eq!(
                &reply[chunk.start..chunk.end],
                chunk.text,
                "offsets into the reply"
            );
            expected_index += 1;
            out.push((by, chunk.text));
        };
    for token in tokens {
        for chunk in chunker.push(token) {
            check(chunk, (*token).to_owned(), &mut out);
        }
    }
    if let Some(chunk) = chunker.finish() {
        check(chunk, "<end>".to_owned(), &mut out);
    }
    out
}

/// Splits text into word tokens with their leading space, like an LLM's.
fn words(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' && i > start {
            tokens.push(&text[start..i]);
            start = i;
        }
    }
    tokens.push(&text[start..]);
    tokens
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn split_tokens_are_joined_and_a_period_waits_for_the_next_token() {
    let got = run(&["Hel", "lo", " wor", "ld", ".", " How", " are", " you", "?"]);
    assert_eq!(
        got,
        pairs(&[(" How", "Hello world."), ("<end>", "How are you?")])
    );
}

#[test]
fn dr_smith_is_not_a_sentence_end() {
    let got = run(&["Dr", ".", " Smith", " is", " in", ".", " He", " waits"]);
    assert_eq!(
        got,
        pairs(&[(" He", "Dr. Smith is in."), ("<end>", "He waits")])
    );
}

#[test]
fn a_decimal_split_across_tokens_stays_whole() {
    let got = run(&["It", "'s", " 3", ".", "5", " km", ".", " Go", "!"]);
    assert_eq!(got, pairs(&[(" Go", "It's 3.5 km."), ("<end>", "Go!")]));
}

#[test]
fn e_g_is_not_a_sentence_end() {
    let got = run(&[
        "Fruit", " e", ".", "g", ".", " apples", " are", " good", ".", " Yes",
    ]);
    assert_eq!(
        got,
        pairs(&[(" Yes", "Fruit e.g. apples are good."), ("<end>", "Yes")])
    );
}

#[test]
fn no_final_punctuation_is_flushed_at_the_end_only() {
    let got = run(&["Sure", " thing", " my", " friend"]);
    assert_eq!(got, pairs(&[("<end>", "Sure thing my friend")]));
}

#[test]
fn markdown_lines_and_list_numbers() {
    let got = run(&[
        "**Sure!**",
        " Here",
        " are",
        " tips",
        ":\n",
        "1",
        ".",
        " Drink",
        " water",
        "\n",
        "2",
        ". Sleep",
        " well",
        ".",
    ]);
    assert_eq!(
        got,
        pairs(&[
            (" Here", "**Sure!**"),
            (":\n", "Here are tips:"),
            ("\n", "1. Drink water"),
            ("<end>", "2. Sleep well."),
        ])
    );
}

#[test]
fn markdown_only_lines_are_dropped() {
    let got = run(&["# Plan\n", "---\n", "🎉\n", "Go", " now", "."]);
    assert_eq!(got, pairs(&[("# Plan\n", "# Plan"), ("<end>", "Go now.")]));
}

#[test]
fn a_long_first_sentence_is_cut_within_a_few_words_before_its_first_clause() {
    let text = "Well, the capital of France is Paris, which is a lovely city. \
                It has the Louvre, the Eiffel Tower, and much more.";
    let got = run(&words(text));
    assert_eq!(
        got,
        pairs(&[
            (" is", "Well, the capital of France"),
            (" It", "is Paris, which is a lovely city."),
            (
                "<end>",
                "It has the Louvre, the Eiffel Tower, and much more."
            ),
        ])
    );
}

#[test]
fn a_short_first_sentence_is_not_cut_at_its_comma() {
    let got = run(&words("Yes, I can. Ask away."));
    assert_eq!(
        got,
        pairs(&[(" Ask", "Yes, I can."), ("<end>", "Ask away.")])
    );
}

#[test]
fn a_long_later_sentence_is_cut_at_a_clause() {
    let config = ChunkerConfig {
        clause_min_words: 5,
        ..ChunkerConfig::default()
    };
    let got = run_with(
        config,
        &words("Hi. One two three four, five six seven eight nine, ten."),
    );
    assert_eq!(
        got,
        pairs(&[
            (" One", "Hi."),
            (" ten.", "One two three four, five six seven eight nine,"),
            ("<end>", "ten."),
        ])
    );
}

#[test]
fn ambiguous_abbreviations_end_a_sentence_only_before_a_capital() {
    // After a first chunk, so that the short first-chunk cap does not split the sentence.
    let got = run(&words(
        "Sure. Buy apples, pears etc. and go home. Then eat, etc. Later we rest.",
    ));
    assert_eq!(
        got,
        pairs(&[
            (" Buy", "Sure."),
            (" Then", "Buy apples, pears etc. and go home."),
            (" Later", "Then eat, etc."),
            ("<end>", "Later we rest."),
        ])
    );
}

#[test]
fn urls_times_money_and_thousands_are_never_split() {
    // After a first chunk, so that the short first-chunk cap does not split the sentence.
    let text = "Sure. Visit https://example.com/a.b?c=1 at 3:30 with $1,000.50 today. Bye.";
    let got = run(&words(text));
    assert_eq!(
        got,
        pairs(&[
            (" Visit", "Sure."),
            (
                " Bye.",
                "Visit https://example.com/a.b?c=1 at 3:30 with $1,000.50 today."
            ),
            ("<end>", "Bye."),
        ])
    );
}

#[test]
fn quotes_stay_with_their_sentence_and_a_mid_line_number_ends_one() {
    let got = run(&words(
        "He said \"stop.\" I have 2. Then J. K. Rowling wrote.",
    ));
    assert_eq!(
        got,
        pairs(&[
            (" I", "He said \"stop.\""),
            (" Then", "I have 2."),
            ("<end>", "Then J. K. Rowling wrote."),
        ])
    );
}

#[test]
fn reset_drops_an_interrupted_reply() {
    let mut chunker = SentenceChunker::default();
    assert!(chunker.push("Hello my good").is_empty());
    chunker.reset();
    assert_eq!(chunker.pending(), "");
    assert_eq!(chunker.finish(), None);
    // The next reply starts at offset 0 and index 0 again.
    let chunks = chunker.push("Next one. ");
    assert_eq!(chunks.len(), 1);
    assert_eq!((chunks[0].index, chunks[0].start), (0, 0));
}

#[test]
fn after_a_short_first_sentence_a_long_one_is_cut_at_a_clause_by_default() {
    let text = "Sure! Here's the plan: meet Dr. Smith at 3:30 pm on the 2nd floor, bring $4.50 \
                for parking, and a notebook.";
    let got = run(&words(text));
    assert_eq!(
        got,
        pairs(&[
            (" Here's", "Sure!"),
            (
                " bring",
                "Here's the plan: meet Dr. Smith at 3:30 pm on the 2nd floor,"
            ),
            ("<end>", "bring $4.50 for parking, and a notebook."),
        ])
    );
}

#[test]
fn a_long_first_sentence_without_commas_is_cut_early() {
    // The first audio waits for at most a few words of generation, not the whole sentence.
    let got = run(&words(
        "Paris has been the capital of France for more than a thousand years.",
    ));
    // Four words would end on "the": the cut waits one word.
    assert_eq!(
        got,
        pairs(&[
            (" of", "Paris has been the capital"),
            ("<end>", "of France for more than a thousand years."),
        ])
    );
}
