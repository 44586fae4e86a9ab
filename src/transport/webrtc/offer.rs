//! Checks a browser's SDP offer before any resources are spent on it: it must be text of a
//! sane size, parse as SDP, and offer an audio section this server can answer.

use rtc::peer_connection::sdp::RTCSessionDescription;

/// Largest offer accepted, in bytes. Browsers' audio + data channel offers are 2–6 KiB.
pub const MAX_OFFER_BYTES: usize = 64 * 1024;

/// Why an offer was refused; each message names what the caller must change.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// The body is empty.
    #[error("the offer is empty: POST the SDP offer text (from RTCPeerConnection.createOffer)")]
    Empty,
    /// The body is larger than [`MAX_OFFER_BYTES`].
    #[error("the offer is {0} bytes; at most {MAX_OFFER_BYTES} are accepted")]
    TooLarge(usize),
    /// The text is not SDP.
    #[error("the offer is not valid SDP ({0}); POST the offer's `sdp` text as the body")]
    Malformed(String),
    /// No audio section.
    #[error(
        "the offer has no audio section (it offers: {0}); add an audio transceiver (addTransceiver('audio')) before createOffer"
    )]
    NoAudio(String),
}

/// Parses and checks an offer.
pub fn parse_offer(body: &str) -> Result<RTCSessionDescription, OfferError> {
    if body.trim().is_empty() {
        return Err(OfferError::Empty);
    }
    if body.len() > MAX_OFFER_BYTES {
        return Err(OfferError::TooLarge(body.len()));
    }
    // The parser is third-party code fed untrusted text: a panic in it becomes a refusal.
    let text = body.to_owned();
    let offer = std::panic::catch_unwind(move || RTCSessionDescription::offer(text))
        .map_err(|_| OfferError::Malformed("the SDP parser failed on it".into()))?
        .map_err(|e| OfferError::Malformed(e.to_string()))?;
    let parsed = offer
        .unmarshal()
        .map_err(|e| OfferError::Malformed(e.to_string()))?;
    let kinds: Vec<String> = parsed
        .media_descriptions
        .iter()
        .map(|m| m.media_name.media.clone())
        .collect();
    if !kinds.iter().any(|k| k == "audio") {
        let offered = if kinds.is_empty() {
            "nothing".to_owned()
        } else {
            kinds.join(", ")
        };
        return Err(OfferError::NoAudio(offered));
    }
    Ok(offer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO_ONLY: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn refuses_empty_garbage_huge_and_video_only_offers() {
        assert!(matches!(parse_offer("  "), Err(OfferError::Empty)));
        assert!(matches!(
            parse_offer("hello, not sdp"),
            Err(OfferError::Malformed(_))
        ));
        let huge = "a".repeat(MAX_OFFER_BYTES + 1);
        assert!(matches!(parse_offer(&huge), Err(OfferError::TooLarge(_))));
        match parse_offer(VIDEO_ONLY) {
            Err(OfferError::NoAudio(kinds)) => assert_eq!(kinds, "video"),
            other => panic!("expected NoAudio, got {other:?}"),
        }
    }

    #[test]
    fn accepts_an_audio_offer() {
        let audio = VIDEO_ONLY
            .replace(
                "m=video 9 UDP/TLS/RTP/SAVPF 96",
                "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            )
            .replace("VP8/90000", "opus/48000/2");
        parse_offer(&audio).unwrap();
    }
}
