//! The WebRTC transport: a browser's peer connection as a session's microphone and speaker.
//! [`offer`] checks the browser's SDP offer, [`peer`] answers it (Opus, host candidates,
//! DTLS-SRTP), [`link`] drives the answered connection against a session's channels, with
//! [`jitter`] (the microphone's packets in order, gaps rebuilt or concealed),
//! [`codec`] (Opus at 48 kHz ↔ 16 kHz frames), the shared playout (`crate::transport::playout`, paced one packet per 20 ms) and
//! [`events`] (session events to the page's data channel) and [`ports`] (the media sockets' port
//! range, `--rtc-ports`).

pub mod codec;
pub mod events;
pub mod jitter;
pub mod link;
pub mod offer;
pub mod peer;
pub mod ports;

pub use link::{EndReason, LinkStats, drive_peer};
pub use offer::{MAX_OFFER_BYTES, OfferError, parse_offer};
pub use peer::{AnsweredPeer, IceServer, PeerOptions, answer_offer};
pub use ports::{PortLease, PortRange};

/// Errors of the WebRTC transport.
#[derive(Debug, thiserror::Error)]
pub enum WebRtcError {
    /// Opus or the resampler failed.
    #[error("audio codec: {0}")]
    Codec(String),
    /// A step of the offer/answer exchange failed.
    #[error("cannot {step}: {detail}")]
    Negotiation {
        /// What was being done.
        step: &'static str,
        /// What the WebRTC stack said.
        detail: String,
    },
    /// Every port of `--rtc-ports` is taken.
    #[error("no media port free: {0}")]
    NoPort(String),
}
