//! One peer connection answering a browser's offer: Opus only, host candidates on the server's
//! address (plus whatever STUN/TURN servers are configured), gathered fully before the answer
//! is returned (no trickle ICE), and one outgoing audio track for the agent's voice.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::{Notify, mpsc};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCIceServer, RTCPeerConnectionState,
    RTCSessionDescription, Registry, SettingEngineBuilder, register_default_interceptors,
};

use super::WebRtcError;
use super::codec::OPUS_RATE;
use super::ports::{PortLease, PortRange};

/// Longest wait for ICE gathering before answering with the candidates found so far.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// Peer events queued for the session driver (a track, a data channel, state changes).
const SIGNAL_CAPACITY: usize = 64;

/// Opus's payload type in our codec table (the browser's own number is used once negotiated).
const OPUS_PAYLOAD_TYPE: u8 = 111;

/// A STUN or TURN server for ICE.
#[derive(Debug, Clone)]
pub struct IceServer {
    /// `stun:host:port` or `turn:host:port?transport=udp`.
    pub url: String,
    /// TURN user name (empty for STUN).
    pub username: String,
    /// TURN password (empty for STUN).
    pub credential: String,
}

/// How peer connections are set up.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// The address the media sockets bind to and announce as the host candidate.
    pub rtc_ip: IpAddr,
    /// STUN/TURN servers; none by default (host candidates suffice on a LAN or loopback).
    pub ice_servers: Vec<IceServer>,
    /// The UDP ports the media sockets may take (`--rtc-ports`); any free port when `None`.
    pub rtc_ports: Option<Arc<PortRange>>,
}

/// What the peer connection reports to the session driver.
pub enum PeerSignal {
    /// The browser's microphone track arrived.
    Track(Arc<dyn TrackRemote>),
    /// The browser opened its events data channel.
    DataChannel(Arc<dyn DataChannel>),
    /// The connection changed state.
    State(RTCPeerConnectionState),
}

struct Handler {
    signals: mpsc::Sender<PeerSignal>,
    gathered: Arc<Notify>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.signals.try_send(PeerSignal::State(state));
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.signals.try_send(PeerSignal::Track(track));
    }
    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.signals.try_send(PeerSignal::DataChannel(channel));
    }
}

/// A connection that has answered its offer.
pub struct AnsweredPeer {
    /// The connection.
    pub connection: Arc<dyn PeerConnection>,
    /// The SDP answer for the browser, with all gathered candidates.
    pub answer: String,
    /// The agent's voice.
    pub speaker: Arc<TrackLocalStaticSample>,
    /// The speaker track's SSRC.
    pub ssrc: u32,
    /// The negotiated Opus payload type.
    pub payload_type: u8,
    /// Events for the session driver.
    pub signals: mpsc::Receiver<PeerSignal>,
    /// The `--rtc-ports` port the media socket holds, given back when this is dropped.
    pub port: Option<PortLease>,
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: OPUS_RATE,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn random_ssrc() -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 16) as u32
}

fn failed(step: &'static str) -> impl Fn(webrtc::error::Error) -> WebRtcError {
    move |e| WebRtcError::Negotiation {
        step,
        detail: e.to_string(),
    }
}

/// Builds a peer connection, applies `offer` and returns the complete answer.
pub async fn answer_offer(
    offer: RTCSessionDescription,
    options: &PeerOptions,
) -> Result<AnsweredPeer, WebRtcError> {
    let mut media = MediaEngine::default();
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus_codec(),
                payload_type: OPUS_PAYLOAD_TYPE,
            },
            RtpCodecKind::Audio,
        )
        .map_err(failed("register Opus"))?;
    let registry = register_default_interceptors(Registry::new(), &mut media)
        .map_err(failed("register interceptors"))?;
    let ice_servers = options
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: vec![s.url.clone()],
            username: s.username.clone(),
            credential: s.credential.clone(),
        })
        .collect();
    let port = match &options.rtc_ports {
        Some(range) => Some(range.lease(options.rtc_ip).map_err(WebRtcError::NoPort)?),
        None => None,
    };
    let (signal_tx, signals) = mpsc::channel(SIGNAL_CAPACITY);
    let gathered = Arc::new(Notify::new());
    let handler = Arc::new(Handler {
        signals: signal_tx,
        gathered: gathered.clone(),
    });
    let connection = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(ice_servers)
                .build(),
        )
        // No mDNS socket (it needs a multicast interface, absent in containers and loopback-only
        // namespaces); a browser hiding its address behind a .local name is still reached, as a
        // peer-reflexive candidate learned from its own connectivity checks.
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                .build(),
        )
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![udp_bind_addr(
            options.rtc_ip,
            port.as_ref().map_or(0, PortLease::port),
        )])
        .build()
        .await
        .map_err(failed("create the peer connection"))?;
    let connection: Arc<dyn PeerConnection> = Arc::new(connection);
    match negotiate(&connection, offer, &gathered).await {
        Ok((speaker, ssrc, payload_type, answer)) => Ok(AnsweredPeer {
            connection,
            answer,
            speaker,
            ssrc,
            payload_type,
            signals,
            port,
        }),
        Err(e) => {
            let _ = connection.close().await;
            Err(e)
        }
    }
}

async fn negotiate(
    connection: &Arc<dyn PeerConnection>,
    offer: RTCSessionDescription,
    gathered: &Notify,
) -> Result<(Arc<TrackLocalStaticSample>, u32, u8, String), WebRtcError> {
    let ssrc = random_ssrc();
    let track = MediaStreamTrack::new(
        "duplex".to_owned(),
        "duplex-voice".to_owned(),
        "duplex agent voice".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: opus_codec(),
            ..Default::default()
        }],
    );
    let speaker = Arc::new(
        TrackLocalStaticSample::new(Instant::now(), track).map_err(failed("create the track"))?,
    );
    let sender = connection
        .add_track(speaker.clone() as Arc<dyn TrackLocal>)
        .await
        .map_err(failed("add the audio track"))?;
    connection
        .set_remote_description(offer)
        .await
        .map_err(failed("apply the offer"))?;
    let answer = connection
        .create_answer(None)
        .await
        .map_err(failed("create the answer"))?;
    connection
        .set_local_description(answer)
        .await
        .map_err(failed("apply the answer"))?;
    let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered.notified()).await;
    let payload_type = sender
        .get_parameters()
        .await
        .map_err(failed("read the negotiated codec"))?
        .rtp_parameters
        .codecs
        .first()
        .map(|c| c.payload_type)
        .ok_or(WebRtcError::Negotiation {
            step: "negotiate Opus",
            detail: "the offer's audio section has no Opus codec".into(),
        })?;
    let answer = connection
        .local_description()
        .await
        .ok_or(WebRtcError::Negotiation {
            step: "read the answer",
            detail: "no local description after set_local_description".into(),
        })?;
    Ok((speaker, ssrc, payload_type, answer.sdp))
}

/// The address the peer's UDP socket binds: `port` on `ip` (0: any free port; IPv6 in brackets).
fn udp_bind_addr(ip: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_and_ipv6_bind_addresses_parse() {
        for ip in ["127.0.0.1", "::1", "fe80::1"] {
            let addr = udp_bind_addr(ip.parse().unwrap(), 0);
            let parsed: std::net::SocketAddr = addr.parse().expect("a socket address");
            assert_eq!((parsed.ip().to_string(), parsed.port()), (ip.to_owned(), 0));
        }
    }
}
