//! Fuzzes the LLM worker's line protocol (crates/duplex-llm-protocol) in both directions: each
//! input line is parsed as a `Request` (what the worker reads on its stdin) and as an `Event`
//! (what `duplex` reads from the worker's stdout), the way the two sides parse them
//! (`serde_json::from_str`). Whatever parses must be written back by `to_line` as one line
//! that parses to an equal value: what one side accepts, it can also say.
#![no_main]

use duplex_llm_protocol::{Event, Request, to_line};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    round_trip::<Request>(line);
    round_trip::<Event>(line);
});

/// Parses `line` as a `T`; when it parses, checks that `to_line` writes it back as one line
/// that parses to an equal value.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(line: &str) {
    let Ok(value) = serde_json::from_str::<T>(line) else {
        return;
    };
    let written = to_line(&value);
    assert_eq!(written.matches('\n').count(), 1, "one line: {written:?}");
    let again: T = serde_json::from_str(written.trim_end()).unwrap_or_else(|e| {
        panic!("{value:?} was written as {written:?}, which does not parse: {e}")
    });
    assert_eq!(again, value, "written as {written:?}");
}
