//! Word error rate, with a normaliser so that case, punctuation and the way numbers are written
//! ("10" or "ten") do not count as errors. Used by the accuracy tests and benches.

/// Lower-cases, drops punctuation, spells out digits, and splits into words.
pub fn normalize(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase().replace('%', " percent ");
    let mut words = Vec::new();
    for raw in lowered.split(|c: char| c.is_whitespace() || c == '-' || c == '—') {
        let word: String = raw
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'')
            .collect();
        let word = word.trim_matches('\'');
        if word.is_empty() {
            continue;
        }
        match word.parse::<u64>() {
            Ok(n) => words.extend(
                crate::text::cardinal(n)
                    .split([' ', '-'])
                    .map(str::to_owned),
            ),
            Err(_) => words.push(spell_title(word).to_owned()),
        }
    }
    words
}

/// Titles that are written abbreviated or spelled out ("Mr." or "mister").
fn spell_title(word: &str) -> &str {
    match word {
        "mr" => "mister",
        "mrs" => "missus",
        "dr" => "doctor",
        "st" => "saint",
        other => other,
    }
}

/// Word-level edit distance between a reference and a hypothesis (substitutions, insertions,
/// deletions), after normalisation. Returns (errors, reference word count).
pub fn word_errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    let mut cur = vec![0; h.len() + 1];
    for (i, rw) in r.iter().enumerate() {
        cur[0] = i + 1;
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[h.len()], r.len())
}

/// Word error rate over a set of (reference, hypothesis) pairs: total errors / total words.
pub fn corpus_wer<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
    let (errors, words) = pairs
        .into_iter()
        .map(|(r, h)| word_errors(r, h))
        .fold((0, 0), |(e, w), (de, dw)| (e + de, w + dw));
    if words == 0 {
        0.0
    } else {
        errors as f64 / words as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_ignores_case_punctuation_and_digits() {
        assert_eq!(
            normalize("Go forward, 10 meters!"),
            ["go", "forward", "ten", "meters"]
        );
        assert_eq!(normalize("Mr. Dashwood"), ["mister", "dashwood"]);
        assert_eq!(
            normalize("21 or 105"),
            ["twenty", "one", "or", "one", "hundred", "five"]
        );
    }

    #[test]
    fn edit_distance_counts_each_kind_of_error() {
        assert_eq!(word_errors("a b c", "a b c"), (0, 3));
        assert_eq!(word_errors("a b c", "a x c"), (1, 3));
        assert_eq!(word_errors("a b c", "a c"), (1, 3));
        assert_eq!(word_errors("a b c", "a b c d"), (1, 3));
        assert!((corpus_wer([("a b", "a b"), ("c d", "x d")]) - 0.25).abs() < 1e-9);
    }
}
