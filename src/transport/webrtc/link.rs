//! Drives one answered peer connection as a session's transport: the browser's Opus packets in
//! through a jitter buffer ([`super::jitter`]: in order, gaps rebuilt from FEC or concealed, the
//! session's clock following the RTP timestamps) as 16 kHz frames, the agent's speech out at
//! one Opus packet every 20 ms from a queue that a flush empties at once, session events to the
//! page over its data channel, and the end of the session when the peer goes away (closed tab,
//! ICE failure, network drop, silence).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::media::Sample;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::RTCPeerConnectionState;

use super::codec::{MicDecoder, OPUS_FRAME, OPUS_RATE, SpeakerEncoder};
use super::events::forward_events;
use super::jitter::{JitterBuffer, JitterStats};
use super::peer::{AnsweredPeer, PeerSignal};
use crate::audio::FRAME_SAMPLES;
use crate::audio::frames::Rechunker;
use crate::runtime::{TransportEnds, TransportIn};
use crate::transport::mic_gap::{Handed, MicSender};
use crate::transport::playout::{PlayoutEnds, ReplyPlayout};

/// One Opus packet of agent speech per tick.
const PACKET_INTERVAL: Duration = Duration::from_millis(20);

/// A peer that has not connected this long after its answer is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected peer that sends no audio this long is treated as gone (network drop).
const SILENCE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection that ICE reports `disconnected` gets this long to come back (it often does within
/// seconds, when a Wi-Fi link hiccups or a route changes) before the session ends.
const ICE_GRACE: Duration = Duration::from_secs(8);

/// Data channels a page may open; the page needs one (events), further ones are ignored.
const MAX_DATA_CHANNELS: usize = 2;

/// What the page sends on its events channel when it hangs up.
const HANGUP: &str = "hangup";

/// How often the driver checks the deadlines above.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Longest wait for a session's last events to reach the page before the connection closes.
const EVENTS_FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest wait for the connection to close politely.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a peer's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The connection closed, failed or disconnected.
    Peer(String),
    /// ICE reported the connection disconnected and it did not come back within [`ICE_GRACE`].
    Disconnected,
    /// It never connected.
    NeverConnected,
    /// No audio arrived for [`SILENCE_TIMEOUT`].
    Silent,
    /// The session stopped listening.
    SessionOver,
    /// The server is stopping.
    ServerStopping,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Peer(state) => write!(f, "the connection is {state}"),
            Self::Disconnected => write!(f, "the connection stayed disconnected for {ICE_GRACE:?}"),
            Self::NeverConnected => write!(f, "no connection within {CONNECT_TIMEOUT:?}"),
            Self::Silent => write!(f, "no audio from the browser for {SILENCE_TIMEOUT:?}"),
            Self::SessionOver => write!(f, "the session ended"),
            Self::ServerStopping => write!(f, "the server is stopping"),
        }
    }
}

/// Counters of one link, for logs and the health endpoint.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Microphone frames handed to the session.
    pub frames_in: AtomicU64,
    /// Microphone frames the session was too far behind to take: each reached it as silence of
    /// its length, so its clock kept the wall clock's pace.
    pub frames_dropped: AtomicU64,
    /// Opus packets sent.
    pub packets_out: AtomicU64,
    /// Microphone RTP packets received (dropped ones included).
    pub packets_in: AtomicU64,
    /// Microphone packets missing when their turn came.
    pub packets_lost: AtomicU64,
    /// Lost microphone packets rebuilt from the next packet's in-band FEC.
    pub packets_recovered_fec: AtomicU64,
    /// Lost microphone packets concealed (libopus PLC, then silence).
    pub packets_concealed: AtomicU64,
    /// Microphone packets that came after their turn, dropped.
    pub packets_late: AtomicU64,
    /// Microphone packets received twice, dropped.
    pub packets_duplicate: AtomicU64,
    /// Microphone packets that came after a later one, in time to be played in order.
    pub packets_reordered: AtomicU64,
    /// Milliseconds since the link started at the last packet received.
    last_packet_ms: AtomicU64,
    /// Told (once) when the peer first connects.
    pub connected: tokio::sync::Notify,
    /// Whether the session listens (its engines are loaded): the page opens its microphone
    /// then, so the silence timeout counts from here.
    ready: std::sync::atomic::AtomicBool,
    /// Silences inside replies (the reply's next chunk came after its queued speech ran out),
    /// seconds each.
    reply_stalls: std::sync::Mutex<Vec<f64>>,
}

impl LinkStats {
    /// The session listens: its engines are loaded.
    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// The stalls inside replies so far, seconds each.
    pub fn reply_stalls(&self) -> Vec<f64> {
        self.reply_stalls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether [`mark_ready`](Self::mark_ready) was called.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The microphone's jitter-buffer counters.
    pub fn microphone(&self) -> JitterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        JitterStats {
            received: get(&self.packets_in),
            lost: get(&self.packets_lost),
            recovered_fec: get(&self.packets_recovered_fec),
            concealed: get(&self.packets_concealed),
            late: get(&self.packets_late),
            duplicate: get(&self.packets_duplicate),
            reordered: get(&self.packets_reordered),
        }
    }

    fn set_microphone(&self, stats: JitterStats) {
        let set = |c: &AtomicU64, v| c.store(v, Ordering::Relaxed);
        set(&self.packets_in, stats.received);
        set(&self.packets_lost, stats.lost);
        set(&self.packets_recovered_fec, stats.recovered_fec);
        set(&self.packets_concealed, stats.concealed);
        set(&self.packets_late, stats.late);
        set(&self.packets_duplicate, stats.duplicate);
        set(&self.packets_reordered, stats.reordered);
    }
}

/// Runs the link until the peer or the session goes away (or `stopping` turns true), then closes
/// the connection and drops the session's input (which ends the session).
pub async fn drive_peer(
    peer: AnsweredPeer,
    ends: TransportEnds,
    stats: Arc<LinkStats>,
    mut stopping: watch::Receiver<bool>,
) -> EndReason {
    let AnsweredPeer {
        connection,
        speaker,
        ssrc,
        payload_type,
        mut signals,
        port,
        ..
    } = peer;
    let TransportEnds {
        input,
        playout,
        events,
        ..
    } = ends;
    let started = Instant::now();
    let (channel_tx, channel_rx) = mpsc::channel(1);
    let (closed_tx, mut closed_rx) = mpsc::channel::<()>(1);
    let mut tasks: Vec<JoinHandle<()>> = vec![tokio::spawn(forward_events(events, channel_rx))];
    let mut output = Some(playout);
    let mut connected = false;
    let mut ready_seen = false;
    let mut disconnected_since: Option<Instant> = None;
    let (mut mic_taken, mut data_channels) = (false, 0usize);
    let mut watch = tokio::time::interval(WATCH_INTERVAL);
    let reason = loop {
        if *stopping.borrow_and_update() {
            break EndReason::ServerStopping;
        }
        tokio::select! {
            signal = signals.recv() => match signal {
                None => break EndReason::Peer("gone".into()),
                Some(PeerSignal::State(state)) => match state {
                    RTCPeerConnectionState::Connected => {
                        if let Some(output) = output.take() {
                            stats.last_packet_ms.store(millis(started), Ordering::Relaxed);
                            let (track, stats) = (speaker.clone(), stats.clone());
                            tasks.push(tokio::spawn(pace_output(track, ssrc, payload_type, output, stats)));
                        }
                        if disconnected_since.take().is_some() {
                            tracing::info!("the connection is back after ICE disconnected");
                        }
                        if !connected {
                            stats.connected.notify_one();
                        }
                        connected = true;
                    }
                    RTCPeerConnectionState::Disconnected => {
                        tracing::info!("ICE disconnected: waiting up to {ICE_GRACE:?} for it to come back");
                        disconnected_since.get_or_insert_with(Instant::now);
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        break EndReason::Peer(state.to_string())
                    }
                    _ => {}
                },
                // Only the first audio track is the microphone; the page sends one.
                Some(PeerSignal::Track(track)) if !mic_taken => {
                    mic_taken = true;
                    let (input, stats, ended) = (input.clone(), stats.clone(), closed_tx.clone());
                    tasks.push(tokio::spawn(receive_mic(track, input, stats, started, ended)));
                }
                Some(PeerSignal::Track(_)) => tracing::warn!("a further audio track was ignored"),
                Some(PeerSignal::DataChannel(channel)) if data_channels < MAX_DATA_CHANNELS => {
                    data_channels += 1;
                    let (open, closed) = (channel_tx.clone(), closed_tx.clone());
                    tasks.push(tokio::spawn(watch_channel(channel, open, closed)));
                }
                Some(PeerSignal::DataChannel(channel)) => {
                    tracing::warn!("data channel beyond the first {MAX_DATA_CHANNELS} closed");
                    let _ = channel.close().await;
                }
            },
            _ = input.closed() => break EndReason::SessionOver,
            // The page's events channel closed, or its microphone track ended: the tab is
            // gone or hung up; unlike an ICE disconnect, that does not come back.
            Some(()) = closed_rx.recv() => break EndReason::Peer("closed by the page".into()),
            Ok(()) = stopping.changed() => {
                if *stopping.borrow_and_update() {
                    break EndReason::ServerStopping;
                }
            }
            _ = watch.tick() => {
                if !connected && started.elapsed() > CONNECT_TIMEOUT {
                    break EndReason::NeverConnected;
                }
                if disconnected_since.is_some_and(|since| since.elapsed() > ICE_GRACE) {
                    break EndReason::Disconnected;
                }
                if stats.is_ready() && !ready_seen {
                    // The page opens its microphone only now.
                    ready_seen = true;
                    stats.last_packet_ms.store(millis(started), Ordering::Relaxed);
                }
                let last = Duration::from_millis(stats.last_packet_ms.load(Ordering::Relaxed));
                if ready_seen && started.elapsed().saturating_sub(last) > SILENCE_TIMEOUT {
                    break EndReason::Silent;
                }
            }
        }
    };
    // The session's last events (why it ended, when an engine failed for good) still reach the
    // page: the forwarder ends once the session has closed its events channel.
    let forwarder = tasks.remove(0);
    for task in &tasks {
        task.abort();
    }
    drop(input);
    if reason == EndReason::SessionOver {
        let _ = tokio::time::timeout(EVENTS_FLUSH_TIMEOUT, forwarder).await;
    } else {
        forwarder.abort();
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close()).await;
    // The media socket is closed: its `--rtc-ports` port may go to the next call.
    drop(port);
    reason
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Decodes the browser's microphone into 20 ms frames for the session, through the jitter
/// buffer: woken by each packet, and by the end of a gap's wait for a reordered packet.
async fn receive_mic(
    track: Arc<dyn TrackRemote>,
    input: mpsc::Sender<TransportIn>,
    stats: Arc<LinkStats>,
    started: Instant,
    ended: mpsc::Sender<()>,
) {
    let mut decoder = match MicDecoder::new() {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("webrtc: {e}");
            return;
        }
    };
    let mut buffer = JitterBuffer::new();
    let mut frames = Rechunker::<FRAME_SAMPLES>::default();
    let mut input = MicSender::new(input);
    loop {
        let deadline = buffer.deadline();
        let wake = tokio::time::Instant::from_std(deadline.unwrap_or_else(Instant::now));
        tokio::select! {
            event = track.poll() => match event {
                None => break,
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    stats.last_packet_ms.store(millis(started), Ordering::Relaxed);
                    let (seq, ts) = (packet.header.sequence_number, packet.header.timestamp);
                    buffer.push(seq, ts, packet.payload, Instant::now());
                }
                // The browser ended its microphone track (an RTCP BYE, or the page hung up).
                Some(TrackRemoteEvent::OnEnded) => {
                    let _ = ended.try_send(());
                    break;
                }
                Some(_) => continue,
            },
            () = tokio::time::sleep_until(wake), if deadline.is_some() => {}
        }
        let now = Instant::now();
        while let Some(play) = buffer.pop(now) {
            let samples = match decoder.play(&play) {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!("webrtc: dropped a packet: {e}");
                    continue;
                }
            };
            if !hand_over(&samples, &mut frames, &mut input, &stats) {
                stats.set_microphone(buffer.stats());
                return;
            }
        }
        stats.set_microphone(buffer.stats());
    }
}

/// Hands the 20 ms frames `samples` completes to the session; false once the session is gone.
fn hand_over(
    samples: &[f32],
    frames: &mut Rechunker<FRAME_SAMPLES>,
    input: &mut MicSender,
    stats: &LinkStats,
) -> bool {
    let mut open = true;
    frames.push(samples, |_, frame| {
        // A live microphone cannot wait: a frame the session is too far behind to take becomes
        // silence of its length (see `mic_gap`).
        match input.send(frame.to_vec()) {
            Handed::Taken => stats.frames_in.fetch_add(1, Ordering::Relaxed),
            Handed::Gap => stats.frames_dropped.fetch_add(1, Ordering::Relaxed),
            Handed::Closed => {
                open = false;
                0
            }
        };
    });
    open
}

/// How far behind the packets sent the browser plays them: the network, its jitter buffer and
/// its output (measured in the page on loopback: a pause reaches the page 90-150 ms after the
/// user's voice starts, of which the server's own decision is 0-130 ms; rounded up for a real
/// network's jitter). A pause rewinds by this much more, so the page's duck hides nothing.
const LISTENER_LAG: std::time::Duration = std::time::Duration::from_millis(200);

/// Sends one Opus packet every 20 ms: queued agent speech, or silence; what is sent counts as
/// played.
async fn pace_output(
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    payload_type: u8,
    output: PlayoutEnds,
    stats: Arc<LinkStats>,
) {
    let mut encoder = match SpeakerEncoder::new() {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("webrtc: {e}");
            return;
        }
    };
    let mut playout = ReplyPlayout::new(OPUS_RATE, output);
    playout.set_listener_lag(LISTENER_LAG);
    let mut frame = [0.0f32; OPUS_FRAME];
    let mut ticks = tokio::time::interval(PACKET_INTERVAL);
    // After a stall (a starved process) the missed packets are not sent in a burst, which the
    // browser's jitter buffer would have to absorb or drop: the pacer resumes on the 20 ms grid
    // and the reply goes on where it stopped (what was not sent was not played).
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let tick = ticks.tick().await;
        if playout.next_period(&mut frame).is_none() {
            break;
        }
        let stalls = playout.take_stalls();
        if !stalls.is_empty() {
            let mut all = stats.reply_stalls.lock().unwrap_or_else(|e| e.into_inner());
            all.extend(stalls);
        }
        let data = match encoder.encode(&frame) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("webrtc: {e}");
                continue;
            }
        };
        let mut sample = Sample::new(tick.into_std());
        sample.data = Bytes::from(data);
        sample.duration = PACKET_INTERVAL;
        if let Err(e) = track.write_sample(ssrc, payload_type, &sample, &[]).await {
            tracing::debug!("webrtc: packet not sent: {e}");
        } else {
            stats.packets_out.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Hands the page's data channel to the event forwarder once it is open, and reads (ignoring
/// them) the channel's events so that its queue never fills.
/// Hands `channel` to the events forwarder once open; when the channel that carries the events
/// closes (the page closed its tab or hung up), says so on `closed`.
async fn watch_channel(
    channel: Arc<dyn DataChannel>,
    open: mpsc::Sender<Arc<dyn DataChannel>>,
    closed: mpsc::Sender<()>,
) {
    let mut handed = false;
    if matches!(channel.ready_state().await, Ok(RTCDataChannelState::Open)) {
        handed = open.try_send(channel.clone()).is_ok();
    }
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnOpen if !handed => {
                handed = open.try_send(channel.clone()).is_ok();
            }
            DataChannelEvent::OnClose if handed => {
                let _ = closed.try_send(());
                return;
            }
            // The page says it hangs up (its Hang up button, or the tab closing): browsers
            // often close a tab without a word on the wire, which would leave the session to
            // its silence timeout.
            DataChannelEvent::OnMessage(message)
                if message.is_string && &message.data[..] == HANGUP.as_bytes() =>
            {
                let _ = closed.try_send(());
                return;
            }
            _ => {}
        }
    }
}
