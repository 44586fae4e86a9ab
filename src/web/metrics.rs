//! `GET /metrics`: the server's counters in the Prometheus text format (the `prometheus`
//! crate): sessions live, started and refused (by reason), offers pending and those that never
//! connected, calls ended at the maximum call length, connections refused, turns, voice-to-voice and stage
//! latency histograms, how sounds over the agent's voice were judged, engine failures, the
//! microphone frames received and dropped, and its RTP packets received, lost, rebuilt (FEC) or
//! concealed (PLC), late, duplicated and reordered. Each session's events pass through
//! [`Metrics::tap`] on their way to the page.

use std::sync::Arc;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use tokio::sync::mpsc;

use crate::agent::{AgentEvent, TurnId};
use crate::runtime::{SessionEvent, SessionEventKind};
use crate::transport::webrtc::jitter::JitterStats;

/// Input samples per second (the agent's positions are 16 kHz samples).
const RATE: f64 = 16_000.0;

/// Latency buckets, in seconds: 50 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
];

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    sessions_live: IntGauge,
    offers_pending: IntGauge,
    heap_in_use: IntGauge,
    reply_stalls: Histogram,
    /// Sessions started.
    pub sessions_started: IntCounter,
    refused: IntCounterVec,
    /// Offers answered that did not connect within the connect timeout.
    pub offers_not_connected: IntCounter,
    /// Calls ended at the maximum call length.
    pub calls_at_length_limit: IntCounter,
    connections_refused: IntCounterVec,
    turns: IntCounter,
    voice_to_voice: Histogram,
    stages: HistogramVec,
    overlaps: IntCounterVec,
    engine_failures: IntCounterVec,
    /// Microphone frames handed to sessions.
    pub mic_frames: IntCounter,
    /// Microphone frames dropped because a session was behind.
    pub mic_frames_dropped: IntCounter,
    rtp_received: IntCounter,
    rtp_lost: IntCounter,
    rtp_recovered: IntCounterVec,
    rtp_late: IntCounter,
    rtp_duplicate: IntCounter,
    rtp_reordered: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics in its own registry.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("duplex".into()), None).expect("a valid metrics prefix");
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid counter");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid counter");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let sessions_live =
            IntGauge::new("sessions_live", "Conversations running now.").expect("valid gauge");
        registry
            .register(Box::new(sessions_live.clone()))
            .expect("registered once");
        let offers_pending = IntGauge::new(
            "offers_pending",
            "Offers answered and not yet connected (they hold no call slot).",
        )
        .expect("valid gauge");
        registry
            .register(Box::new(offers_pending.clone()))
            .expect("registered once");
        let heap_in_use = IntGauge::new(
            "heap_in_use_bytes",
            "Bytes the server's allocator has handed out and not had back (its resident memory \
             minus this is what the allocator keeps free, or models mapped from files).",
        )
        .expect("valid gauge");
        registry
            .register(Box::new(heap_in_use.clone()))
            .expect("registered once");
        let reply_stalls = Histogram::with_opts(
            HistogramOpts::new(
                "reply_stall_seconds",
                "Silences inside replies where the reply's next chunk came after its queued \
                 speech ran out (pauses in the voice's own audio are not counted).",
            )
            .buckets(vec![0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]),
        )
        .expect("valid histogram");
        registry
            .register(Box::new(reply_stalls.clone()))
            .expect("registered once");
        let voice_to_voice = Histogram::with_opts(
            HistogramOpts::new(
                "voice_to_voice_seconds",
                "From the end of the user's speech to the reply's first audio sent to the browser.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid histogram");
        registry
            .register(Box::new(voice_to_voice.clone()))
            .expect("registered once");
        let stages = HistogramVec::new(
            HistogramOpts::new(
                "stage_seconds",
                "Time of one engine job: asr, turn, llm_first_token, tts_first_chunk, ...",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["stage"],
        )
        .expect("valid histogram");
        registry
            .register(Box::new(stages.clone()))
            .expect("registered once");
        Self {
            sessions_live,
            offers_pending,
            sessions_started: counter(
                "sessions_started_total",
                "Conversations started (their peers connected and took a call slot).",
            ),
            refused: counter_vec(
                "offers_refused_total",
                "Offers refused, by reason (full, client_full, pending_full, client_pending_full, \
                 origin, bad_offer, no_port, engines).",
                "reason",
            ),
            offers_not_connected: counter(
                "offers_not_connected_total",
                "Offers answered that did not connect within the connect timeout (dropped).",
            ),
            calls_at_length_limit: counter(
                "calls_at_length_limit_total",
                "Calls ended at the maximum call length (the agent said goodbye).",
            ),
            connections_refused: counter_vec(
                "connections_refused_total",
                "HTTP connections closed at once, by reason (per_client: the address had its \
                 share open; total: the server had its maximum open).",
                "reason",
            ),
            turns: counter("turns_total", "User turns answered."),
            voice_to_voice,
            stages,
            overlaps: counter_vec(
                "overlaps_total",
                "Sounds over the agent's voice, by decision (interruption, backchannel, false_alarm).",
                "decision",
            ),
            engine_failures: counter_vec(
                "engine_failures_total",
                "Engine failures, by severity (transient: one job lost; recovered: the engine was restarted; fatal: the session ended).",
                "severity",
            ),
            mic_frames: counter("mic_frames_total", "Microphone frames handed to sessions."),
            mic_frames_dropped: counter(
                "mic_frames_dropped_total",
                "Microphone frames dropped because a session was behind.",
            ),
            rtp_received: counter(
                "rtp_packets_received_total",
                "Microphone RTP packets received.",
            ),
            rtp_lost: counter(
                "rtp_packets_lost_total",
                "Microphone RTP packets missing when their turn came.",
            ),
            rtp_recovered: counter_vec(
                "rtp_packets_recovered_total",
                "Lost microphone packets, by how their audio was made up (fec: from the next \
                 packet's in-band FEC; plc: concealed).",
                "how",
            ),
            rtp_late: counter(
                "rtp_packets_late_total",
                "Microphone RTP packets that came after their turn, dropped.",
            ),
            rtp_duplicate: counter(
                "rtp_packets_duplicate_total",
                "Microphone RTP packets received twice, dropped.",
            ),
            rtp_reordered: counter(
                "rtp_packets_reordered_total",
                "Microphone RTP packets that came after a later one, played in order.",
            ),
            registry,
            heap_in_use,
            reply_stalls,
        }
    }

    /// Counts a refused offer.
    pub fn refused(&self, reason: &str) {
        self.refused.with_label_values(&[reason]).inc();
    }

    /// Counts a connection closed at once (`per_client` or `total`).
    pub fn connection_refused(&self, reason: &str) {
        self.connections_refused.with_label_values(&[reason]).inc();
    }

    /// Records an ended session's stalls inside replies (seconds each).
    pub fn count_stalls(&self, stalls: &[f64]) {
        for s in stalls {
            self.reply_stalls.observe(*s);
        }
    }

    /// Adds an ended session's microphone packet counters.
    pub fn count_microphone(&self, stats: &JitterStats) {
        self.rtp_received.inc_by(stats.received);
        self.rtp_lost.inc_by(stats.lost);
        let recovered = |how: &str, n| self.rtp_recovered.with_label_values(&[how]).inc_by(n);
        recovered("fec", stats.recovered_fec);
        recovered("plc", stats.concealed);
        self.rtp_late.inc_by(stats.late);
        self.rtp_duplicate.inc_by(stats.duplicate);
        self.rtp_reordered.inc_by(stats.reordered);
    }

    /// The text exposition, with `live` sessions and `pending` offers now.
    pub fn render(&self, live: usize, pending: usize) -> String {
        self.sessions_live.set(live as i64);
        self.offers_pending.set(pending as i64);
        self.heap_in_use
            .set(i64::try_from(super::memory::heap_in_use()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        // Encoding into memory cannot fail for these metric types.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Passes a session's events on from `events` to the returned receiver, counting them.
    pub fn tap(
        self: &Arc<Self>,
        mut events: mpsc::Receiver<SessionEvent>,
    ) -> mpsc::Receiver<SessionEvent> {
        let (tx, rx) = mpsc::channel(events.max_capacity());
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut turns = TurnTimes::default();
            while let Some(event) = events.recv().await {
                metrics.observe(&event, &mut turns);
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        rx
    }

    fn observe(&self, event: &SessionEvent, turns: &mut TurnTimes) {
        match &event.kind {
            SessionEventKind::Agent(AgentEvent::EndOfTurn {
                turn, speech_end, ..
            }) => {
                self.turns.inc();
                turns.speech_end = Some((*turn, *speech_end));
            }
            SessionEventKind::Agent(AgentEvent::FirstAudio { turn, at }) => {
                if let Some((ended, speech_end)) = turns.speech_end.take()
                    && ended == *turn
                {
                    let seconds = at.saturating_sub(speech_end) as f64 / RATE;
                    self.voice_to_voice.observe(seconds);
                }
            }
            SessionEventKind::Agent(AgentEvent::OverlapJudged { decision, .. }) => {
                let label = serde_json::to_value(decision)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.overlaps.with_label_values(&[&label]).inc();
            }
            SessionEventKind::Cost { stage, cost_ms, .. } => {
                self.stages
                    .with_label_values(&[stage])
                    .observe(cost_ms / 1000.0);
            }
            SessionEventKind::EngineFailed { severity, .. } => {
                let label = serde_json::to_value(severity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.engine_failures.with_label_values(&[&label]).inc();
            }
            _ => {}
        }
    }
}

/// Where the last answered turn's speech ended, until its first audio.
#[derive(Default)]
struct TurnTimes {
    speech_end: Option<(TurnId, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: SessionEventKind) -> SessionEvent {
        SessionEvent {
            at: 0,
            wall_ms: 0.0,
            kind,
        }
    }

    #[test]
    fn turns_latencies_and_refusals_are_counted() {
        let metrics = Metrics::new();
        let mut turns = TurnTimes::default();
        let turn = TurnId(1);
        metrics.observe(
            &event(SessionEventKind::Agent(AgentEvent::EndOfTurn {
                turn,
                at: 20_000,
                speech_end: 16_000,
            })),
            &mut turns,
        );
        metrics.observe(
            &event(SessionEventKind::Agent(AgentEvent::FirstAudio {
                turn,
                at: 16_000 + 4_800,
            })),
            &mut turns,
        );
        metrics.observe(
            &event(SessionEventKind::Cost {
                stage: "asr",
                turn: None,
                cost_ms: 120.0,
            }),
            &mut turns,
        );
        metrics.refused("origin");
        metrics.sessions_started.inc();
        metrics.count_microphone(&JitterStats {
            received: 100,
            lost: 5,
            recovered_fec: 4,
            concealed: 1,
            late: 1,
            duplicate: 0,
            reordered: 3,
        });
        let text = metrics.render(1, 0);
        assert!(text.contains("duplex_turns_total 1"), "{text}");
        assert!(text.contains("duplex_sessions_live 1"), "{text}");
        assert!(text.contains("duplex_sessions_started_total 1"), "{text}");
        assert!(
            text.contains("duplex_offers_refused_total{reason=\"origin\"} 1"),
            "{text}"
        );
        // 300 ms: in the 0.3 bucket, not the 0.2 one.
        assert!(
            text.contains("duplex_voice_to_voice_seconds_bucket{le=\"0.2\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("duplex_voice_to_voice_seconds_bucket{le=\"0.3\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("duplex_stage_seconds_count{stage=\"asr\"} 1"),
            "{text}"
        );
        for line in [
            "duplex_rtp_packets_received_total 100",
            "duplex_rtp_packets_lost_total 5",
            "duplex_rtp_packets_recovered_total{how=\"fec\"} 4",
            "duplex_rtp_packets_recovered_total{how=\"plc\"} 1",
            "duplex_rtp_packets_late_total 1",
            "duplex_rtp_packets_duplicate_total 0",
            "duplex_rtp_packets_reordered_total 3",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
