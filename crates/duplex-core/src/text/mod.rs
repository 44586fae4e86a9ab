//! Text for speech, pure and model-free: the normaliser that turns what an LLM writes into
//! words a voice can read, and the sentence chunker that cuts a token stream into speakable
//! pieces as early as possible.

#![forbid(unsafe_code)]

mod amounts;
mod chunker;
mod markup;
mod normalize;
mod numbers;
mod overlap;
mod words;

pub use chunker::{Chunk, ChunkerConfig, SentenceChunker};
pub use markup::{is_emoji, strip_markup};
pub use normalize::normalize;
pub use numbers::{cardinal, ordinal};
pub use overlap::{Overlap, classify_overlap};
