//! The sentence chunker: LLM tokens in, speakable chunks out, as early as they can be spoken.
//!
//! A pure streaming state machine (no clock, no I/O). Tokens are appended to a buffer and the
//! buffer is scanned for the first boundary that is already certain:
//!
//! - a sentence end: `.`, `!` or `?` (with any closing quotes, brackets or markdown emphasis
//!   after it) followed by whitespace. Not after a title abbreviation ("Dr.", "e.g."), a single
//!   capital initial ("J."), or a list number at the start of a line ("1."); after an ambiguous
//!   abbreviation ("etc.", "p.m.") only when the next word starts with a capital. Punctuation
//!   followed by anything other than whitespace is never a boundary, so "3.5", "3:30", "1,000"
//!   and URLs are never split. A mark at the very end of the buffer waits for the next token.
//! - a clause end (`,` `;` `:` followed by whitespace) once the chunk has enough words: few for
//!   the first chunk of a reply (so speech starts early in a long first sentence), many for later
//!   ones (later chunks end at sentences unless a sentence is very long).
//! - a line break (list items, headers);
//! - a hard cap on words without any boundary, split at the last space: a small cap for the
//!   first chunk of a reply (its audio is what the user waits for), a large one later; the split
//!   waits a few words rather than leave an article, preposition or conjunction dangling.
//!
//! Each chunk keeps its text exactly as emitted (markup included) and its byte range in the
//! whole reply, so the playout stage can tell which words were heard. Chunks with nothing
//! speakable (a markdown rule, an emoji line) are dropped.

/// Settings of the chunker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkerConfig {
    /// Words the first chunk of a reply needs before a clause boundary may end it.
    pub first_clause_min_words: usize,
    /// Words a later chunk needs before a clause boundary may end it (a long sentence). This
    /// bounds how long the voice works on one chunk while the previous one plays: at a real-time
    /// factor near 0.1, a 7 s chunk after a short first one ("Sure!") could not be ready in time.
    pub clause_min_words: usize,
    /// Words after which the first chunk of a reply is split at a space even without a
    /// boundary: the first audio waits for no more than this many words of generation.
    pub first_max_words: usize,
    /// Words after which a later chunk with no boundary at all is split at a space.
    pub max_words: usize,
}

impl Default for ChunkerConfig {
    fn default() -> Self {
        Self {
            first_clause_min_words: 2,
            clause_min_words: 10,
            first_max_words: 4,
            max_words: 40,
        }
    }
}

/// A speakable piece of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position of the chunk in the reply, from 0.
    pub index: usize,
    /// The text as the model wrote it, trimmed.
    pub text: String,
    /// Byte offset of `text` in the whole reply.
    pub start: usize,
    /// Byte offset just past `text` in the whole reply.
    pub end: usize,
}

/// Abbreviations whose period never ends a sentence (lower case, without the final period).
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "rev", "gen", "capt", "sgt", "lt", "col", "mt", "vs", "e.g",
    "i.e", "cf", "approx", "fig", "vol", "dept", "st",
];

/// Abbreviations whose period ends a sentence only before a capitalised word.
const EITHER: &[&str] = &[
    "etc", "a.m", "p.m", "u.s", "u.k", "jr", "sr", "inc", "ltd", "co", "hrs", "mins", "no",
];

/// Words a chunk split at a space should not end on (the phrase goes on after them).
const LINKING: &[&str] = &[
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "from", "by", "and", "or",
    "but", "my", "your", "our", "their", "his", "her", "its", "this", "that", "as", "than", "is",
    "are", "was", "were", "be",
];

/// Extra words a split at a space may wait for, to avoid ending on a [`LINKING`] word.
const LINKING_GRACE: usize = 3;

/// Whether `text` ends with a word from [`LINKING`].
fn ends_with_linking_word(text: &str) -> bool {
    let last = text.rsplit(char::is_whitespace).next().unwrap_or("");
    LINKING.contains(&last.to_lowercase().as_str())
}

/// Characters that may follow sentence punctuation and still belong to the sentence.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '*' | '_' | '`' | '”' | '’' | '»'
    )
}

fn is_sentence_mark(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_clause_mark(c: char) -> bool {
    matches!(c, ',' | ';' | ':')
}

/// Where a chunk ends in the buffer.
struct Boundary {
    /// End of the chunk's text (exclusive).
    end: usize,
    /// Where the rest of the buffer starts.
    next: usize,
    /// Whether the rest starts a new line.
    line_start: bool,
}

/// Streaming sentence chunker; see the module documentation.
#[derive(Debug, Clone)]
pub struct SentenceChunker {
    config: ChunkerConfig,
    /// Text received and not yet emitted.
    buf: String,
    /// Byte offset of `buf` in the reply.
    buf_start: usize,
    /// Whether `buf` starts at the start of a line.
    line_start: bool,
    /// Chunks emitted in this reply.
    emitted: usize,
}

impl Default for SentenceChunker {
    fn default() -> Self {
        Self::new(ChunkerConfig::default())
    }
}

impl SentenceChunker {
    /// A chunker at the start of a reply.
    pub fn new(config: ChunkerConfig) -> Self {
        Self {
            config,
            buf: String::new(),
            buf_start: 0,
            line_start: true,
            emitted: 0,
        }
    }

    /// Adds a token of the reply; returns the chunks it completed, in order.
    pub fn push(&mut self, token: &str) -> Vec<Chunk> {
        self.buf.push_str(token);
        let mut chunks = Vec::new();
        while let Some(b) = self.find_boundary() {
            if let Some(chunk) = self.take(b) {
                chunks.push(chunk);
            }
        }
        chunks
    }

    /// Ends the reply: returns what is left as a last chunk, and resets for the next reply.
    pub fn finish(&mut self) -> Option<Chunk> {
        let end = self.buf.len();
        let chunk = self.take(Boundary {
            end,
            next: end,
            line_start: true,
        });
        self.reset();
        chunk
    }

    /// Drops everything buffered (the reply was interrupted) and starts a new reply.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf_start = 0;
        self.line_start = true;
        self.emitted = 0;
    }

    /// Text received and not yet emitted.
    pub fn pending(&self) -> &str {
        &self.buf
    }

    /// Cuts the buffer at `b`, returning the chunk if it has anything speakable.
    fn take(&mut self, b: Boundary) -> Option<Chunk> {
        let raw = &self.buf[..b.end];
        let lead = raw.len() - raw.trim_start().len();
        let text = raw.trim();
        let chunk = text.chars().any(char::is_alphanumeric).then(|| Chunk {
            index: self.emitted,
            text: text.to_owned(),
            start: self.buf_start + lead,
            end: self.buf_start + lead + text.len(),
        });
        if chunk.is_some() {
            self.emitted += 1;
        }
        self.buf.drain(..b.next);
        self.buf_start += b.next;
        self.line_start = b.line_start;
        chunk
    }

    /// The first certain boundary in the buffer, if any.
    fn find_boundary(&self) -> Option<Boundary> {
        let chars: Vec<(usize, char)> = self.buf.char_indices().collect();
        let (clause_min, cap) = if self.emitted == 0 {
            let first = &self.config;
            (first.first_clause_min_words, first.first_max_words)
        } else {
            (self.config.clause_min_words, self.config.max_words)
        };
        let mut words = 0;
        let mut counted = false;
        let mut last_space = None;
        let mut k = 0;
        while k < chars.len() {
            let (i, c) = chars[k];
            if c.is_whitespace() {
                counted = false;
                last_space = Some(i);
            } else if c.is_alphanumeric() && !counted {
                counted = true;
                if words >= cap
                    && let Some(space) = last_space
                    && (words >= cap + LINKING_GRACE || !ends_with_linking_word(&self.buf[..space]))
                {
                    return Some(Boundary {
                        end: space,
                        next: space,
                        line_start: false,
                    });
                }
                words += 1;
            }
            if c == '\n' {
                return Some(Boundary {
                    end: i,
                    next: i + 1,
                    line_start: true,
                });
            }
            let sentence = is_sentence_mark(c);
            let clause = is_clause_mark(c) && words >= clause_min.max(1);
            if !sentence && !clause {
                k += 1;
                continue;
            }
            // The run of marks and closers after `c`.
            let mut j = k;
            while j + 1 < chars.len() {
                let n = chars[j + 1].1;
                if is_closer(n) || (sentence && is_sentence_mark(n)) {
                    j += 1;
                } else {
                    break;
                }
            }
            let Some(&(after, next)) = chars.get(j + 1) else {
                return None; // the mark ends the buffer: wait for the next token
            };
            if !next.is_whitespace() {
                k = j + 1;
                continue;
            }
            if sentence && c == '.' && !chars[k + 1..=j].iter().any(|x| is_sentence_mark(x.1)) {
                match self.period_kind(i) {
                    Period::Abbreviation => {
                        k = j + 1;
                        continue;
                    }
                    Period::EndsBeforeCapital => {
                        let Some(&(_, w)) = chars[j + 1..].iter().find(|x| !x.1.is_whitespace())
                        else {
                            return None; // wait for the next word
                        };
                        if !w.is_uppercase() {
                            k = j + 1;
                            continue;
                        }
                    }
                    Period::Ends => {}
                }
            }
            return Some(Boundary {
                end: after,
                next: after,
                line_start: false,
            });
        }
        None
    }

    /// What the period at byte `i` of the buffer is, from the word before it.
    fn period_kind(&self, i: usize) -> Period {
        let word_start = self.buf[..i].rfind(char::is_whitespace).map_or(0, |s| {
            s + self.buf[s..].chars().next().map_or(1, char::len_utf8)
        });
        let word = self.buf[word_start..i].trim_start_matches(['"', '\'', '(', '[', '*', '_']);
        let lower = word.to_lowercase();
        if TITLES.contains(&lower.as_str()) {
            return Period::Abbreviation;
        }
        let mut letters = word.chars();
        if let (Some(first), None) = (letters.next(), letters.next())
            && first.is_uppercase()
            && first != 'I'
        {
            return Period::Abbreviation; // an initial: "J. K. Rowling"
        }
        let list_number = !word.is_empty()
            && word.bytes().all(|b| b.is_ascii_digit())
            && self.line_start
            && self.buf[..word_start].trim().is_empty();
        if list_number {
            return Period::Abbreviation;
        }
        if EITHER.contains(&lower.as_str()) {
            return Period::EndsBeforeCapital;
        }
        Period::Ends
    }
}

/// What a period followed by whitespace means.
enum Period {
    /// It ends the sentence.
    Ends,
    /// It belongs to an abbreviation, an initial or a list number.
    Abbreviation,
    /// It ends the sentence if the next word is capitalised.
    EndsBeforeCapital,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(chunks: &[Chunk]) -> Vec<&str> {
        chunks.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn offsets_point_into_the_reply() {
        let reply = "Hi there.  How are you? Fine";
        let mut c = SentenceChunker::default();
        let mut chunks = c.push(reply);
        chunks.extend(c.finish());
        assert_eq!(texts(&chunks), ["Hi there.", "How are you?", "Fine"]);
        for (n, ch) in chunks.iter().enumerate() {
            assert_eq!(ch.index, n);
            assert_eq!(&reply[ch.start..ch.end], ch.text);
        }
    }

    #[test]
    fn hard_cap_splits_at_a_space() {
        let config = ChunkerConfig {
            first_max_words: 2,
            max_words: 3,
            ..ChunkerConfig::default()
        };
        let mut c = SentenceChunker::new(config);
        let chunks = c.push("one two three four five six seven");
        assert_eq!(texts(&chunks), ["one two", "three four five"]);
        assert_eq!(c.finish().unwrap().text, "six seven");
    }

    #[test]
    fn the_first_chunk_is_short_and_does_not_end_on_a_linking_word() {
        let mut c = SentenceChunker::default();
        let reply = "I think that the Queen of Clubs is a card in a standard deck";
        let chunks = c.push(reply);
        // Four words would end on "the": the split waits for "Queen".
        assert_eq!(texts(&chunks), ["I think that the Queen"]);
        assert_eq!(
            c.finish().unwrap().text,
            "of Clubs is a card in a standard deck"
        );
        let short = "Hello there, how are you today? Fine.";
        let mut c = SentenceChunker::default();
        let mut chunks = c.push(short);
        chunks.extend(c.finish());
        assert_eq!(
            texts(&chunks),
            ["Hello there,", "how are you today?", "Fine."]
        );
    }
}
