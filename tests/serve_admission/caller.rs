//! A WebRTC caller for the admission tests, made with the same stack the server answers with
//! (webrtc-rs): one audio transceiver and the page's `events` data channel, host candidates on
//! loopback, all gathered before its offer is sent (as the page does). It sends no audio; it
//! connects, and reads the session's events.

use std::sync::Arc;
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{Notify, mpsc, watch};
use webrtc::data_channel::DataChannelEvent;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, Registry,
    SettingEngineBuilder, register_default_interceptors,
};

/// Longest wait for the caller's own ICE gathering (host candidates on loopback: at once).
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

struct Handler {
    gathered: Arc<Notify>,
    state: watch::Sender<RTCPeerConnectionState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }
}

/// One caller: its connection, its offer, its connection state and the events it received.
pub struct Caller {
    connection: Arc<dyn PeerConnection>,
    /// The SDP offer to POST.
    pub offer: String,
    state: watch::Receiver<RTCPeerConnectionState>,
    events: mpsc::UnboundedReceiver<String>,
}

impl Caller {
    /// A caller with its offer made and its candidates gathered.
    pub async fn new() -> Self {
        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        let registry =
            register_default_interceptors(Registry::new(), &mut media).expect("interceptors");
        let gathered = Arc::new(Notify::new());
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let connection = PeerConnectionBuilder::new()
            .with_setting_engine(
                SettingEngineBuilder::new()
                    .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                    .build(),
            )
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler {
                gathered: gathered.clone(),
                state: state_tx,
            }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .expect("a peer connection");
        let connection: Arc<dyn PeerConnection> = Arc::new(connection);
        connection
            .add_transceiver_from_kind(RtpCodecKind::Audio, None)
            .await
            .expect("an audio transceiver");
        let channel = connection
            .create_data_channel("events", None)
            .await
            .expect("the events channel");
        let (events_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = channel.poll().await {
                match event {
                    DataChannelEvent::OnMessage(message) => {
                        let text = String::from_utf8_lossy(&message.data).into_owned();
                        if events_tx.send(text).is_err() {
                            return;
                        }
                    }
                    DataChannelEvent::OnClose => return,
                    _ => {}
                }
            }
        });
        let offer = connection.create_offer(None).await.expect("an offer");
        connection
            .set_local_description(offer)
            .await
            .expect("the offer applied");
        let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered.notified()).await;
        let offer = connection
            .local_description()
            .await
            .expect("a local description")
            .sdp;
        Self {
            connection,
            offer,
            state,
            events,
        }
    }

    /// Applies the server's answer: the connection starts.
    pub async fn answer(&self, sdp: &str) {
        let answer = RTCSessionDescription::answer(sdp.to_owned()).expect("an SDP answer");
        self.connection
            .set_remote_description(answer)
            .await
            .expect("the answer applied");
    }

    /// Whether the connection reaches `connected` within `patience`.
    pub async fn connected(&mut self, patience: Duration) -> bool {
        let reached = self
            .state
            .wait_for(|s| *s == RTCPeerConnectionState::Connected);
        matches!(tokio::time::timeout(patience, reached).await, Ok(Ok(_)))
    }

    /// The next session event (JSON text) within `patience`, if any.
    pub async fn next_event(&mut self, patience: Duration) -> Option<String> {
        tokio::time::timeout(patience, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Hangs up.
    pub async fn close(&self) {
        let _ = self.connection.close().await;
    }
}
