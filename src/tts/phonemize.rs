//! Piper's front end: normalised text to sentences of IPA phonemes to phoneme ids.
//!
//! Piper's own phonemizer uses a patched espeak-ng that reports which punctuation ended each
//! clause. Debian's espeak-ng has no such call, so the clauses are cut here instead, at the
//! punctuation the normaliser kept (a mark followed by a space or the end), each clause is
//! phonemized alone, and the mark is put back the way Piper does it: `.` `?` `!` end a sentence,
//! `,` `:` `;` are followed by a space. Each sentence becomes
//! `^ _ p1 _ p2 _ … pn _ $` through the voice's `phoneme_id_map`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{TtsError, espeak};

/// Phoneme marking the start of a sentence.
const BOS: char = '^';
/// Phoneme marking the end of a sentence.
const EOS: char = '$';
/// Padding phoneme put after every phoneme.
const PAD: char = '_';

/// Where espeak-ng data usually lives (each is the `espeak-ng-data` directory itself).
const DATA_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/espeak-ng-data",
    "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
    "/usr/lib/espeak-ng-data",
    "/usr/share/espeak-ng-data",
    "/usr/local/share/espeak-ng-data",
    "/usr/local/lib/espeak-ng-data",
    "/opt/homebrew/share/espeak-ng-data",
];

/// Finds the `espeak-ng-data` directory: the configured path (the directory itself or its
/// parent), then `ESPEAK_DATA_PATH`, then the usual install locations. A directory counts only
/// if it holds `phontab` (espeak-ng's phoneme table).
pub fn find_espeak_data(configured: Option<&Path>) -> Result<PathBuf, TtsError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = configured {
        candidates.push(dir.to_owned());
        candidates.push(dir.join("espeak-ng-data"));
    } else {
        if let Some(dir) = std::env::var_os("ESPEAK_DATA_PATH") {
            let dir = PathBuf::from(dir);
            candidates.push(dir.join("espeak-ng-data"));
            candidates.push(dir);
        }
        candidates.extend(DATA_DIRS.iter().map(PathBuf::from));
    }
    candidates
        .iter()
        .find(|dir| dir.join("phontab").is_file())
        .cloned()
        .ok_or_else(|| TtsError::EspeakData {
            searched: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// One clause of normalised text and the punctuation that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause<'a> {
    /// The words of the clause, without the final mark.
    pub text: &'a str,
    /// The mark that ended it (`.` `?` `!` `,` `:` `;`), if any.
    pub mark: Option<char>,
}

impl Clause<'_> {
    /// Whether the clause ends a sentence.
    pub fn ends_sentence(&self) -> bool {
        matches!(self.mark, Some('.' | '?' | '!'))
    }
}

/// Cuts normalised text into clauses at a run of punctuation followed by a space or the end.
/// The first mark of a run names it ("?!" is a question, "..." a period).
pub fn split_clauses(text: &str) -> Vec<Clause<'_>> {
    const MARKS: &[char] = &['.', ',', ';', ':', '!', '?'];
    let mut clauses = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (i, c) = chars[k];
        if !MARKS.contains(&c) {
            k += 1;
            continue;
        }
        let mut j = k;
        while j + 1 < chars.len() && MARKS.contains(&chars[j + 1].1) {
            j += 1;
        }
        let at_end = j + 1 == chars.len();
        if at_end || chars[j + 1].1.is_whitespace() {
            let words = text[start..i].trim();
            if !words.is_empty() {
                clauses.push(Clause {
                    text: words,
                    mark: Some(c),
                });
            }
            start = if at_end { text.len() } else { chars[j + 1].0 };
        }
        k = j + 1;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        clauses.push(Clause {
            text: rest,
            mark: None,
        });
    }
    clauses
}

/// Removes espeak-ng's language-switch markers such as "(fr)" and "(en)" from its output.
fn strip_language_markers(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        if !(1..=8).contains(&inner.len())
            || !inner.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        {
            out.push_str(&rest[open..=open + close]);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether a phoneme string has anything besides punctuation and spaces.
fn has_sounds(phonemes: &str) -> bool {
    phonemes
        .chars()
        .any(|c| !c.is_whitespace() && !matches!(c, '.' | ',' | ';' | ':' | '!' | '?'))
}

/// A voice's `phoneme_id_map`: each phoneme (one character) to its ids.
#[derive(Debug, Clone)]
pub struct PhonemeIds {
    map: HashMap<char, Vec<i64>>,
}

impl PhonemeIds {
    /// Builds the map from the json object; keys longer than one character are ignored (Piper
    /// voices have none).
    pub fn new(raw: &HashMap<String, Vec<i64>>) -> Result<Self, String> {
        let map: HashMap<char, Vec<i64>> = raw
            .iter()
            .filter_map(|(k, v)| {
                let mut chars = k.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some((c, v.clone())),
                    _ => None,
                }
            })
            .collect();
        for needed in [BOS, EOS, PAD, ' '] {
            if !map.contains_key(&needed) {
                return Err(format!("phoneme_id_map has no {needed:?}"));
            }
        }
        Ok(Self { map })
    }

    /// Whether the map has an id for `c`.
    pub fn contains(&self, c: char) -> bool {
        self.map.contains_key(&c)
    }

    /// Ids for one sentence of phonemes: `^ _ p1 _ p2 _ … pn _ $`. Phonemes the voice does not
    /// know are skipped (Piper does the same).
    pub fn ids(&self, phonemes: &str) -> Vec<i64> {
        let mut ids = Vec::with_capacity(phonemes.chars().count() * 2 + 3);
        ids.extend(&self.map[&BOS]);
        ids.extend(&self.map[&PAD]);
        for c in phonemes.chars() {
            match self.map.get(&c) {
                Some(id) => {
                    ids.extend(id);
                    ids.extend(&self.map[&PAD]);
                }
                None => tracing::debug!(phoneme = %c, "phoneme not in the voice's map; skipped"),
            }
        }
        ids.extend(&self.map[&EOS]);
        ids
    }
}

/// One sentence (or a trailing part of one) ready for the voice.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// The normalised words it says.
    pub text: String,
    /// Its IPA phonemes, punctuation included.
    pub phonemes: String,
    /// Its phoneme ids for the model.
    pub ids: Vec<i64>,
    /// Whether it ends with a sentence mark (`.` `?` `!`).
    pub ends_sentence: bool,
}

/// espeak-ng with a voice and a data directory, shared by every Piper voice in the process.
#[derive(Debug, Clone)]
pub struct Phonemizer {
    voice: String,
}

impl Phonemizer {
    /// Initialises espeak-ng (once per process) from `data_dir` (the `espeak-ng-data`
    /// directory) and checks that `voice` exists.
    pub fn new(data_dir: &Path, voice: &str) -> Result<Self, TtsError> {
        let parent = data_dir.parent().unwrap_or(data_dir);
        let used = espeak::initialize(parent).map_err(TtsError::Espeak)?;
        if used != parent {
            tracing::warn!(
                wanted = %parent.display(),
                used = %used.display(),
                "espeak-ng was already initialised with another data directory"
            );
        }
        espeak::text_to_phonemes(voice, "").map_err(TtsError::Espeak)?;
        Ok(Self {
            voice: voice.to_owned(),
        })
    }

    /// Phonemizes normalised text into utterances, one per sentence, with ids from `ids`. A
    /// text that does not end with a mark gives a last utterance that does not end a sentence.
    pub fn utterances(&self, text: &str, ids: &PhonemeIds) -> Result<Vec<Utterance>, TtsError> {
        let mut sentences = Vec::new();
        let mut words = String::new();
        let mut phonemes = String::new();
        for clause in split_clauses(text) {
            let parts =
                espeak::text_to_phonemes(&self.voice, clause.text).map_err(TtsError::Espeak)?;
            let spoken: Vec<String> = parts
                .iter()
                .map(|p| strip_language_markers(p).trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            if !phonemes.is_empty() && !phonemes.ends_with(' ') && !spoken.is_empty() {
                phonemes.push(' ');
            }
            phonemes.push_str(&spoken.join(" "));
            if !words.is_empty() {
                words.push(' ');
            }
            words.push_str(clause.text);
            if let Some(mark) = clause.mark {
                phonemes.push(mark);
                words.push(mark);
                if !clause.ends_sentence() {
                    phonemes.push(' ');
                }
            }
            if clause.ends_sentence() {
                let phonemes = std::mem::take(&mut phonemes);
                let text = std::mem::take(&mut words);
                if !has_sounds(&phonemes) {
                    continue;
                }
                sentences.push(Utterance {
                    text,
                    ids: ids.ids(&phonemes),
                    phonemes,
                    ends_sentence: true,
                });
            }
        }
        if has_sounds(&phonemes) {
            sentences.push(Utterance {
                text: words,
                ids: ids.ids(&phonemes),
                phonemes,
                ends_sentence: false,
            });
        }
        Ok(sentences)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_split_at_marks_before_spaces() {
        let c = split_clauses("Hello, world. Is it 3.5? Yes!! and then");
        let got: Vec<(&str, Option<char>)> = c.iter().map(|c| (c.text, c.mark)).collect();
        assert_eq!(
            got,
            [
                ("Hello", Some(',')),
                ("world", Some('.')),
                ("Is it 3.5", Some('?')),
                ("Yes", Some('!')),
                ("and then", None),
            ]
        );
        assert!(c[1].ends_sentence() && !c[0].ends_sentence());
    }

    #[test]
    fn language_markers_are_removed() {
        assert_eq!(strip_language_markers("(fr)bɔ̃ʒuʁ(en) hɛ"), "bɔ̃ʒuʁ hɛ");
        assert_eq!(strip_language_markers("a (x y) b"), "a (x y) b");
    }

    #[test]
    fn ids_are_padded_like_piper() {
        let raw: HashMap<String, Vec<i64>> = [("_", 0), ("^", 1), ("$", 2), (" ", 3), ("a", 7)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), vec![v]))
            .collect();
        let ids = PhonemeIds::new(&raw).unwrap();
        assert_eq!(ids.ids("a a"), [1, 0, 7, 0, 3, 0, 7, 0, 2]);
        assert_eq!(ids.ids("aZ"), [1, 0, 7, 0, 2]);
    }
}
