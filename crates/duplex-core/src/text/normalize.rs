//! Text normalisation for speech: what a TTS front end must say in words, said in words.
//!
//! Markup and emoji go first (`markup.rs`); then each whitespace-separated word is looked at with
//! the words after it: abbreviations ("Dr.", "e.g.", "etc."), times ("3:30 pm"), currency
//! ("$4.50", "$3 million"), percentages, ordinals ("21st"), decimals, years, ranges, fractions,
//! signed numbers, numbers with units, URLs and e-mail addresses, and stray symbols ("&", "+").
//! A period that ends a sentence is kept; one that belongs to an abbreviation is dropped, so the
//! clause splitter downstream sees only real sentence ends.

use super::amounts::read_core;
use super::markup::strip_markup;
use super::words::{KEPT_PUNCTUATION, LEAD, capitalised, kept, plain_word, split_word};

/// How an abbreviation is read and whether its period may end a sentence.
#[derive(Clone, Copy)]
enum Abbrev {
    /// Always precedes something ("Dr. Smith"): the period never ends a sentence mid-text.
    Title(&'static str),
    /// May end a sentence ("etc."): it does when the next word is capitalised or there is none.
    Either(&'static str),
    /// "St.": "Saint" before a capitalised word, "Street" otherwise.
    Saint,
    /// "No.": "number" before a digit; otherwise the word "no" and a sentence end.
    Number,
}

/// Abbreviations, lower case with their periods.
const ABBREVIATIONS: &[(&str, Abbrev)] = &[
    ("mr.", Abbrev::Title("mister")),
    ("mrs.", Abbrev::Title("missus")),
    ("ms.", Abbrev::Title("miz")),
    ("dr.", Abbrev::Title("doctor")),
    ("prof.", Abbrev::Title("professor")),
    ("rev.", Abbrev::Title("reverend")),
    ("gen.", Abbrev::Title("general")),
    ("capt.", Abbrev::Title("captain")),
    ("sgt.", Abbrev::Title("sergeant")),
    ("lt.", Abbrev::Title("lieutenant")),
    ("col.", Abbrev::Title("colonel")),
    ("mt.", Abbrev::Title("mount")),
    ("vs.", Abbrev::Title("versus")),
    ("vs", Abbrev::Title("versus")),
    ("e.g.", Abbrev::Title("for example")),
    ("e.g", Abbrev::Title("for example")),
    ("i.e.", Abbrev::Title("that is")),
    ("i.e", Abbrev::Title("that is")),
    ("cf.", Abbrev::Title("compare")),
    ("approx.", Abbrev::Title("approximately")),
    ("fig.", Abbrev::Title("figure")),
    ("vol.", Abbrev::Title("volume")),
    ("dept.", Abbrev::Title("department")),
    ("etc.", Abbrev::Either("et cetera")),
    ("a.m.", Abbrev::Either("AM")),
    ("p.m.", Abbrev::Either("PM")),
    ("u.s.", Abbrev::Either("US")),
    ("u.k.", Abbrev::Either("UK")),
    ("jr.", Abbrev::Either("junior")),
    ("sr.", Abbrev::Either("senior")),
    ("inc.", Abbrev::Either("incorporated")),
    ("ltd.", Abbrev::Either("limited")),
    ("co.", Abbrev::Either("company")),
    ("hrs.", Abbrev::Either("hours")),
    ("mins.", Abbrev::Either("minutes")),
    ("st.", Abbrev::Saint),
    ("no.", Abbrev::Number),
];

/// Rewrites `text` so that every part of it can be read aloud as words.
pub fn normalize(text: &str) -> String {
    let plain = strip_markup(&replace_chars(text));
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let (spoken, used) = read_word(&words[i..]);
        if !spoken.is_empty() {
            out.push(spoken);
        }
        i += used.max(1);
    }
    tidy(&out.join(" "))
}

/// Replaces typographic characters by plain ones before words are split.
fn replace_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let digit_before = i > 0 && chars[i - 1].is_ascii_digit();
        let digit_after = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        match c {
            '‘' | '’' | 'ʼ' => out.push('\''),
            '“' | '”' | '«' | '»' => out.push('"'),
            '…' => out.push_str("..."),
            '–' | '—' if digit_before && digit_after => out.push('-'),
            '—' | '–' => out.push_str(", "),
            '−' => out.push('-'),
            '\u{a0}' | '\u{2009}' | '\u{202f}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Reads the first of `words` (looking at the rest where needed); returns the spoken text and how
/// many words it used.
fn read_word(words: &[&str]) -> (String, usize) {
    let word = words[0];
    if let Some(result) = read_abbreviation(words) {
        return result;
    }
    let (_, core, trail) = split_word(word);
    // An initial ("J. K. Rowling"): its period is not a sentence end.
    let mut letters = core.chars();
    if let (Some(letter), None) = (letters.next(), letters.next())
        && letter.is_ascii_uppercase()
        && letter != 'I'
        && trail == "."
        && words.len() > 1
    {
        return (core.to_owned(), 1);
    }
    if !core.chars().any(char::is_alphanumeric) {
        return (standalone_symbol(word), 1);
    }
    if let Some((spoken, extra_trail, used)) = read_core(core, &words[1..]) {
        let trail = if used > 1 { extra_trail } else { kept(trail) };
        return (format!("{spoken}{trail}"), used);
    }
    (format!("{}{}", plain_word(core), kept(trail)), 1)
}

/// Expands an abbreviation at the start of `words`, if there is one.
fn read_abbreviation(words: &[&str]) -> Option<(String, usize)> {
    let word = words[0].trim_start_matches(LEAD);
    let key = word.trim_end_matches(['"', '\'', ')', ']', '}', ',', ';', ':', '!', '?']);
    let after = kept(&word[key.len()..]);
    let lower = key.to_lowercase();
    let (_, abbrev) = ABBREVIATIONS.iter().find(|(k, _)| *k == lower)?;
    let next = words.get(1);
    let last = next.is_none();
    let (spoken, ends) = match *abbrev {
        Abbrev::Title(s) => (s, last),
        Abbrev::Either(s) => (s, last || capitalised(next)),
        Abbrev::Saint if capitalised(next) => ("saint", false),
        Abbrev::Saint => ("street", true),
        Abbrev::Number => {
            let before_digit = next.is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()));
            if before_digit {
                ("number", false)
            } else {
                ("no", true)
            }
        }
    };
    let stop = if ends && key.ends_with('.') && after.is_empty() {
        "."
    } else {
        ""
    };
    Some((format!("{spoken}{stop}{after}"), 1))
}

/// A word that is only symbols.
fn standalone_symbol(word: &str) -> String {
    match word {
        "&" => "and".into(),
        "+" => "plus".into(),
        "=" => "equals".into(),
        "@" => "at".into(),
        "%" => "percent".into(),
        "-" | "--" => ",".into(),
        _ => kept(word.trim_start_matches(['-', '*', '#', '|', '~', '/', '\\'])),
    }
}

/// Final clean-up: single spaces, no space before punctuation, no doubled punctuation marks.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if KEPT_PUNCTUATION.contains(&c) {
            while out.ends_with(' ') {
                out.pop();
            }
            if out.is_empty() {
                continue;
            }
            // ",," -> ","; ",." -> "."; keep "?!" and "...".
            if out.ends_with([',', ';', ':']) && c != '!' && c != '?' {
                out.pop();
            }
        }
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    out.trim().to_owned()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations() {
        assert_eq!(
            normalize("Dr. Smith met Mr. Jones."),
            "doctor Smith met mister Jones."
        );
        assert_eq!(
            normalize("Fruit, e.g. apples, etc. are good."),
            "Fruit, for example apples, et cetera are good."
        );
        assert_eq!(
            normalize("Bring pens, paper, etc."),
            "Bring pens, paper, et cetera."
        );
        assert_eq!(
            normalize("Apples, pears etc. We also"),
            "Apples, pears et cetera. We also"
        );
        assert_eq!(
            normalize("St. Louis is on Main St."),
            "saint Louis is on Main street."
        );
        assert_eq!(normalize("No. 5 is mine"), "number five is mine");
        assert_eq!(normalize("No. I won't."), "no. I won't.");
        assert_eq!(normalize("J. K. Rowling wrote"), "J K Rowling wrote");
        assert_eq!(normalize("Plan B."), "Plan B.");
    }

    #[test]
    fn symbols_urls_and_markup() {
        assert_eq!(normalize("R&D and Q&A"), "R and D and Q and A");
        assert_eq!(
            normalize("Visit https://www.example.com/docs today"),
            "Visit example dot com slash docs today"
        );
        assert_eq!(
            normalize("Mail me at joe@mail.org."),
            "Mail me at joe at mail dot org."
        );
        assert_eq!(
            normalize("**Note:** read this — it's *important* 🙂"),
            "Note: read this, it's important"
        );
        assert_eq!(
            normalize("Steps:\n1. Mix it\n2. Bake at 180°C"),
            "Steps: Mix it. Bake at one hundred eighty degrees Celsius"
        );
        assert_eq!(normalize("“Quoted” words…"), "Quoted words...");
        assert_eq!(normalize("🎉🎉"), "");
    }
}
