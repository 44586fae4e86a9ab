//! The page, its script, its AudioWorklet and its icon, embedded in the binary (no build step).

/// The page.
pub const PAGE_HTML: &str = include_str!("page.html");
/// The page's script: signalling, the talk button, the transcript, the latency readout.
pub const PAGE_JS: &str = include_str!("page.js");
/// The AudioWorklet that meters the microphone and times each reply on the audio clock.
pub const WORKLET_JS: &str = include_str!("meter-worklet.js");
/// The page's icon (also answered at `/favicon.ico`, where browsers look by default).
pub const FAVICON_SVG: &str = include_str!("favicon.svg");
