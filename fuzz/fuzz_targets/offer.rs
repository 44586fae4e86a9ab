//! Fuzzes the check of a browser's SDP offer (`duplex serve`'s `POST /offer` body) with any
//! text: the bytes as UTF-8 when they are, and their lossy UTF-8 conversion always.
//!
//! `parse_offer` catches a panic of the third-party SDP parser and refuses the offer, as the
//! server does in production; so this target does too (libfuzzer-sys would otherwise abort on
//! any panic, caught or not). A panic that escapes `parse_offer` is a crash. The first caught
//! panic's message is printed once, so a run shows that the SDP parser still panics.
#![no_main]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use duplex::transport::webrtc::offer::parse_offer;
use libfuzzer_sys::fuzz_target;

/// The message of the latest panic, kept by the panic hook.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());
/// Whether a caught panic has been reported yet.
static REPORTED: AtomicBool = AtomicBool::new(false);

fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|info| {
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = info.to_string();
            }
        }));
    },
    |data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            check(text);
        }
        check(&String::from_utf8_lossy(data));
    }
);

/// Runs `parse_offer` on `text`: a panic that escapes it aborts (a crash); an accepted offer
/// must have an audio section.
fn check(text: &str) {
    if let Ok(mut last) = LAST_PANIC.lock() {
        last.clear();
    }
    let result = catch_unwind(AssertUnwindSafe(|| parse_offer(text)));
    let message = LAST_PANIC.lock().map(|m| m.clone()).unwrap_or_default();
    let Ok(result) = result else {
        eprintln!(
            "parse_offer panicked on a {}-byte offer: {message}",
            text.len()
        );
        std::process::abort();
    };
    if !message.is_empty() && !REPORTED.swap(true, Ordering::Relaxed) {
        let shown: String = text.chars().take(300).collect();
        eprintln!("caught SDP parser panic (a refusal, not a crash): {message}; input: {shown:?}");
    }
    if let Ok(offer) = result {
        assert!(
            message.is_empty(),
            "an offer whose parsing panicked was accepted"
        );
        let parsed = offer.unmarshal().expect("an accepted offer parses again");
        assert!(
            parsed
                .media_descriptions
                .iter()
                .any(|m| m.media_name.media == "audio"),
            "an accepted offer has an audio section"
        );
    }
}
