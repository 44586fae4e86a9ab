//! The microphone's jitter buffer: the browser's RTP packets back in sequence order (16-bit
//! sequence numbers and 32-bit timestamps unwrapped), duplicates and packets that come after
//! their turn dropped, and every gap in the stream turned into audio of the gap's length, so
//! that the session's sample clock follows the RTP timestamps: the lost packet just before a
//! packet that arrived is recovered from that packet's Opus in-band FEC when it carries some,
//! the others are concealed by libopus's PLC (at most [`MAX_CONCEALED`], then silence), and a
//! timestamp jump between consecutive packets (DTX, a paused sender) is silence; no gap is
//! filled with more than [`MAX_FILL`]. How much audio a gap gets is always the difference of
//! the timestamps around it, so the padding packets a sender uses to probe its bandwidth (empty
//! payloads with sequence numbers of their own, which Chromium sends more of under loss) count
//! as sequence numbers but not as audio.
//!
//! Play-out is driven by arrivals and media time, not by a timer: a packet in sequence is played
//! as soon as it arrives (the agent consumes audio as fast as it comes, so holding packets back
//! would only add to its reply latency), a burst after a stall is played at once (the session
//! catches up instead of falling behind), and a gap is held open for [`REORDER_WAIT`] after the
//! packet that follows it arrived, for a reordered packet to fill it. That wait is the buffer's
//! only delay, paid on loss and reordering only. A stalled network plays nothing: there is no
//! concealment without packets, and the gap is filled (bounded) once packets come back.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::codec::{carries_fec, packet_samples};

/// How long a gap waits, after the packet that follows it arrived, for its packet to arrive
/// out of order. 40 ms: a packet reordered by more than that would need its path's delay to
/// grow by 60 ms within 20 ms (the gap's own 20 ms plus the wait), far beyond the jitter of a
/// usable voice path (with 30 ± 10 ms of delay per packet, as in the browser test, a packet
/// comes that late about once in 10^5; the test's calls had 0 or 1 late of ~800); a longer
/// wait would delay the agent's end of turn whenever the user's last packets are lost, for
/// little gain, since the next packet's FEC is already at hand.
pub const REORDER_WAIT: Duration = Duration::from_millis(40);

/// Most PLC per gap, in 48 kHz samples (200 ms): libopus's concealment fades to silence over
/// about that span anyway; the rest of a longer gap is silence.
pub const MAX_CONCEALED: u32 = 9_600;

/// Most audio one gap is filled with, in 48 kHz samples (1 s): longer than Opus DTX's 400 ms
/// between packets, so a sender in DTX still gives the session its silences whole, but bounded
/// so that a sender that paused for minutes does not get minutes of silence played at once.
pub const MAX_FILL: u32 = 48_000;

/// Packets held behind a gap at most (1 s of 20 ms packets); more and the gap is filled at once.
const MAX_HELD: usize = 50;

/// A sequence jump this large (a minute of packets) is a restarted stream, not a loss.
const MAX_DROPOUT: i64 = 3_000;

/// How many concealed sequence numbers are remembered, to tell a late packet from a duplicate.
const CONCEALED_MEMORY: usize = 64;

/// Opus decodes in steps of 2.5 ms (120 samples at 48 kHz).
const OPUS_STEP: u32 = 120;

/// A packet's duration when its payload does not say (a 20 ms frame).
const DEFAULT_SAMPLES: u32 = 960;

/// What to hand the decoder next, in play-out order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Play {
    /// A packet that arrived, decoded as it is.
    Packet(Bytes),
    /// The lost packet just before `from`, rebuilt from `from`'s in-band FEC (`samples` long).
    Fec {
        /// The packet after the lost one.
        from: Bytes,
        /// The lost packet's duration at 48 kHz.
        samples: u32,
    },
    /// Lost packets, concealed by the decoder's PLC for `samples` at 48 kHz.
    Conceal(u32),
    /// Silence for `samples` at 48 kHz: past the PLC bound, or time the sender sent nothing for.
    Silence(u32),
}

/// What the buffer saw, in packets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets that arrived (all of them, dropped ones included).
    pub received: u64,
    /// Sequence numbers missing when their turn came (one that comes later counts as late too).
    pub lost: u64,
    /// Lost packets rebuilt from the next packet's in-band FEC.
    pub recovered_fec: u64,
    /// Lost packets not rebuilt: concealed by PLC (silence past [`MAX_CONCEALED`]; nothing for
    /// a lost padding packet).
    pub concealed: u64,
    /// Packets that arrived after their turn had been concealed, dropped.
    pub late: u64,
    /// Packets that had already arrived (or played), dropped.
    pub duplicate: u64,
    /// Packets that arrived after a later one, in time to be played in order.
    pub reordered: u64,
}

struct Held {
    timestamp: i64,
    samples: u32,
    payload: Bytes,
    arrived: Instant,
}

/// Orders one RTP stream's Opus packets and fills its gaps; see the module doc.
#[derive(Default)]
pub struct JitterBuffer {
    held: BTreeMap<i64, Held>,
    /// The sequence number and timestamp of the next packet to play.
    next: Option<(i64, i64)>,
    /// The highest sequence number seen and its timestamp: the reference for unwrapping.
    highest: Option<(i64, i64)>,
    queued: VecDeque<Play>,
    /// Sequence numbers lost since the last packet with audio was played.
    lost_since_audio: u64,
    concealed: VecDeque<i64>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer; the first packet that arrives starts the stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Takes one arriving packet (its RTP sequence number, timestamp and Opus payload).
    pub fn push(&mut self, sequence: u16, timestamp: u32, payload: Bytes, now: Instant) {
        self.stats.received += 1;
        let (seq, ts) = match self.highest {
            None => (i64::from(sequence), i64::from(timestamp)),
            Some((high_seq, high_ts)) => (
                high_seq + i64::from(sequence.wrapping_sub(high_seq as u16) as i16),
                high_ts + i64::from(timestamp.wrapping_sub(high_ts as u32) as i32),
            ),
        };
        if let Some((high, _)) = self.highest
            && (seq - high).abs() > MAX_DROPOUT
        {
            tracing::info!("webrtc: the microphone's RTP sequence jumped; restarting its stream");
            let stats = self.stats;
            *self = Self::default();
            self.stats = stats;
            return self.push(sequence, timestamp, payload, now);
        }
        if self.next.is_some_and(|(next, _)| seq < next) {
            match self.concealed.iter().position(|&s| s == seq) {
                Some(i) => {
                    self.concealed.remove(i);
                    self.stats.late += 1;
                }
                None => self.stats.duplicate += 1,
            }
            return;
        }
        if self.held.contains_key(&seq) {
            self.stats.duplicate += 1;
            return;
        }
        match self.highest {
            Some((high, _)) if seq < high => self.stats.reordered += 1,
            _ => self.highest = Some((seq, ts)),
        }
        let samples = match payload.is_empty() {
            true => 0,
            false => packet_samples(&payload).unwrap_or(DEFAULT_SAMPLES),
        };
        self.held.insert(
            seq,
            Held {
                timestamp: ts,
                samples,
                payload,
                arrived: now,
            },
        );
    }

    /// The next audio to decode that is due at `now`, if any; call until it returns `None`.
    pub fn pop(&mut self, now: Instant) -> Option<Play> {
        loop {
            if let Some(play) = self.queued.pop_front() {
                return Some(play);
            }
            let (&seq, first) = self.held.first_key_value()?;
            let Some((next, next_ts)) = self.next else {
                // The stream starts at its first packet with audio.
                let (seq, held) = self.held.pop_first()?;
                if !held.payload.is_empty() {
                    return Some(self.play(seq, held));
                }
                continue;
            };
            if seq > next {
                let waited = now.saturating_duration_since(first.arrived);
                if waited < REORDER_WAIT && self.held.len() < MAX_HELD {
                    return None;
                }
                self.give_up(next, seq);
                continue;
            }
            if first.payload.is_empty() {
                // Padding (the sender probing its bandwidth): a sequence number without audio.
                self.held.pop_first();
                self.next = Some((seq + 1, next_ts));
                continue;
            }
            self.fill_up_to(seq, next_ts);
            if self.queued.is_empty() {
                let (seq, held) = self.held.pop_first()?;
                return Some(self.play(seq, held));
            }
        }
    }

    /// When a gap held open stops waiting for its packet (the caller's next `pop`), if any.
    pub fn deadline(&self) -> Option<Instant> {
        let (next, _) = self.next?;
        let (&seq, first) = self.held.first_key_value()?;
        (seq > next).then_some(first.arrived + REORDER_WAIT)
    }

    fn play(&mut self, seq: i64, held: Held) -> Play {
        self.next = Some((seq + 1, held.timestamp + i64::from(held.samples)));
        self.lost_since_audio = 0;
        Play::Packet(held.payload)
    }

    /// Counts the packets from `next` up to `seq` as lost and moves on to `seq`.
    fn give_up(&mut self, next: i64, seq: i64) {
        let missing = (seq - next) as u64;
        self.stats.lost += missing;
        self.lost_since_audio += missing;
        for lost in next..seq {
            if self.concealed.len() == CONCEALED_MEMORY {
                self.concealed.pop_front();
            }
            self.concealed.push_back(lost);
        }
        if let Some((_, next_ts)) = self.next {
            self.next = Some((seq, next_ts));
        }
    }

    /// Queues the audio between the last packet played (which ended at `next_ts`) and the held
    /// packet `seq`: concealment when packets were lost in between (the last lost one from
    /// `seq`'s FEC when it has some), silence when none were (the sender sent nothing).
    fn fill_up_to(&mut self, seq: i64, next_ts: i64) {
        let Some(packet) = self.held.get(&seq) else {
            return;
        };
        let fill = bounded(packet.timestamp - next_ts, MAX_FILL);
        let lost = std::mem::take(&mut self.lost_since_audio);
        self.next = Some((seq, packet.timestamp));
        if lost == 0 {
            if fill > 0 {
                self.queued.push_back(Play::Silence(fill));
            }
            return;
        }
        let fec = if carries_fec(&packet.payload) && packet.samples <= fill {
            packet.samples
        } else {
            0
        };
        let conceal = (fill - fec).min(MAX_CONCEALED);
        let silence = fill - fec - conceal;
        if conceal > 0 {
            self.queued.push_back(Play::Conceal(conceal));
        }
        if silence > 0 {
            self.queued.push_back(Play::Silence(silence));
        }
        if fec > 0 {
            self.stats.recovered_fec += 1;
            self.queued.push_back(Play::Fec {
                from: packet.payload.clone(),
                samples: fec,
            });
        }
        self.stats.concealed += lost - u64::from(fec > 0);
    }
}

/// `samples` (possibly negative) clamped to `0..=max` and rounded down to whole Opus steps.
fn bounded(samples: i64, max: u32) -> u32 {
    let samples = samples.clamp(0, i64::from(max)) as u32;
    samples - samples % OPUS_STEP
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::webrtc::codec::{MicDecoder, OPUS_FRAME, SpeakerEncoder};

    /// 20 ms packets of a 300 Hz tone, with in-band FEC when `fec`.
    fn packets(count: usize, fec: bool) -> Vec<Bytes> {
        let mut encoder = SpeakerEncoder::new().unwrap();
        if fec {
            encoder.enable_fec(10).unwrap();
        }
        (0..count)
            .map(|p| {
                let frame: Vec<f32> = (0..OPUS_FRAME)
                    .map(|i| {
                        let t = (p * OPUS_FRAME + i) as f32 / 48_000.0;
                        0.3 * (t * 300.0 * std::f32::consts::TAU).sin()
                    })
                    .collect();
                Bytes::from(encoder.encode(&frame).unwrap())
            })
            .collect()
    }

    /// Everything due at `now`.
    fn drain(buffer: &mut JitterBuffer, now: Instant) -> Vec<Play> {
        std::iter::from_fn(|| buffer.pop(now)).collect()
    }

    fn samples(plays: &[Play]) -> u32 {
        plays
            .iter()
            .map(|p| match p {
                Play::Packet(_) => 960,
                Play::Fec { samples, .. } => *samples,
                Play::Conceal(s) | Play::Silence(s) => *s,
            })
            .sum()
    }

    #[test]
    fn packets_in_order_play_at_once_across_the_sequence_wrap() {
        let data = packets(4, false);
        let mut buffer = JitterBuffer::new();
        let now = Instant::now();
        let mut played = Vec::new();
        for (i, seq) in [65_534u16, 65_535, 0, 1].into_iter().enumerate() {
            let ts = u32::MAX - 959 + 960 * i as u32; // the timestamp wraps too
            buffer.push(seq, ts, data[i].clone(), now);
            played.extend(drain(&mut buffer, now));
        }
        let expected: Vec<Play> = data.into_iter().map(Play::Packet).collect();
        assert_eq!(played, expected);
        assert_eq!(buffer.stats().lost, 0);
        assert_eq!(buffer.deadline(), None);
    }

    #[test]
    fn a_reordered_packet_within_the_wait_is_played_in_order() {
        let data = packets(3, false);
        let mut buffer = JitterBuffer::new();
        let t0 = Instant::now();
        buffer.push(10, 0, data[0].clone(), t0);
        assert_eq!(drain(&mut buffer, t0), vec![Play::Packet(data[0].clone())]);
        buffer.push(12, 1_920, data[2].clone(), t0);
        assert!(drain(&mut buffer, t0).is_empty(), "the gap waits");
        assert_eq!(buffer.deadline(), Some(t0 + REORDER_WAIT));
        let t1 = t0 + Duration::from_millis(25);
        buffer.push(11, 960, data[1].clone(), t1);
        assert_eq!(
            drain(&mut buffer, t1),
            vec![Play::Packet(data[1].clone()), Play::Packet(data[2].clone())]
        );
        let stats = buffer.stats();
        assert_eq!((stats.lost, stats.reordered, stats.late), (0, 1, 0));
    }

    #[test]
    fn a_lost_packet_is_rebuilt_from_the_next_ones_fec_and_its_late_copy_dropped() {
        let data = packets(3, true);
        assert!(carries_fec(&data[2]), "the encoder adds FEC");
        let mut buffer = JitterBuffer::new();
        let t0 = Instant::now();
        buffer.push(7, 0, data[0].clone(), t0);
        buffer.push(9, 1_920, data[2].clone(), t0);
        assert_eq!(drain(&mut buffer, t0), vec![Play::Packet(data[0].clone())]);
        let due = t0 + REORDER_WAIT;
        assert_eq!(
            drain(&mut buffer, due),
            vec![
                Play::Fec {
                    from: data[2].clone(),
                    samples: 960
                },
                Play::Packet(data[2].clone()),
            ]
        );
        buffer.push(8, 960, data[1].clone(), due);
        buffer.push(9, 1_920, data[2].clone(), due);
        assert!(drain(&mut buffer, due).is_empty());
        let stats = buffer.stats();
        assert_eq!(
            (stats.lost, stats.recovered_fec, stats.concealed),
            (1, 1, 0)
        );
        assert_eq!((stats.late, stats.duplicate, stats.received), (1, 1, 4));
    }

    #[test]
    fn packets_without_fec_are_concealed_for_the_gaps_length() {
        let data = packets(5, false);
        assert!(!carries_fec(&data[4]));
        let mut buffer = JitterBuffer::new();
        let t0 = Instant::now();
        buffer.push(100, 0, data[0].clone(), t0);
        buffer.push(104, 4 * 960, data[4].clone(), t0);
        let plays = drain(&mut buffer, t0 + REORDER_WAIT);
        assert_eq!(
            plays,
            vec![
                Play::Packet(data[0].clone()),
                Play::Conceal(3 * 960),
                Play::Packet(data[4].clone())
            ]
        );
        let stats = buffer.stats();
        assert_eq!(
            (stats.lost, stats.concealed, stats.recovered_fec),
            (3, 3, 0)
        );
    }

    /// Padding packets take sequence numbers but no time: a lost packet before one is still
    /// rebuilt for its 20 ms, from the next packet with audio.
    #[test]
    fn padding_packets_count_as_sequence_numbers_not_audio() {
        let data = packets(5, true);
        let mut buffer = JitterBuffer::new();
        let t0 = Instant::now();
        buffer.push(1, 0, data[0].clone(), t0);
        buffer.push(2, 960, data[1].clone(), t0);
        buffer.push(3, 960, Bytes::new(), t0);
        // 4 (audio from 1920) lost, then padding with 4's timestamp, then 6.
        buffer.push(5, 1_920, Bytes::new(), t0);
        buffer.push(6, 2_880, data[3].clone(), t0);
        let plays = drain(&mut buffer, t0 + REORDER_WAIT);
        assert_eq!(
            plays,
            vec![
                Play::Packet(data[0].clone()),
                Play::Packet(data[1].clone()),
                Play::Fec {
                    from: data[3].clone(),
                    samples: 960
                },
                Play::Packet(data[3].clone()),
            ]
        );
        let stats = buffer.stats();
        assert_eq!((stats.lost, stats.recovered_fec, stats.received), (1, 1, 5));
    }

    #[test]
    fn a_long_gap_is_concealed_then_silent_and_bounded() {
        let data = packets(2, false);
        let mut buffer = JitterBuffer::new();
        let t0 = Instant::now();
        buffer.push(1, 0, data[0].clone(), t0);
        // Five seconds of packets lost (a network outage), then the stream comes back.
        buffer.push(251, 250 * 960, data[1].clone(), t0);
        let plays = drain(&mut buffer, t0 + REORDER_WAIT);
        assert_eq!(plays[1], Play::Conceal(MAX_CONCEALED));
        assert_eq!(plays[2], Play::Silence(MAX_FILL - MAX_CONCEALED));
        assert_eq!(samples(&plays), 960 + MAX_FILL + 960);
        assert_eq!(buffer.stats().lost, 249);
    }

    #[test]
    fn a_timestamp_jump_between_consecutive_packets_is_bounded_silence() {
        let data = packets(3, false);
        let mut buffer = JitterBuffer::new();
        let now = Instant::now();
        buffer.push(1, 0, data[0].clone(), now);
        // DTX: 400 ms without packets, then a minute.
        buffer.push(2, 960 + 19_200, data[1].clone(), now);
        buffer.push(3, 960 + 19_200 + 960 + 60 * 48_000, data[2].clone(), now);
        let plays = drain(&mut buffer, now);
        assert_eq!(plays[1], Play::Silence(19_200));
        assert_eq!(plays[3], Play::Silence(MAX_FILL));
        assert_eq!(plays.len(), 5);
        assert_eq!(buffer.stats().lost, 0);
    }

    #[test]
    fn a_burst_after_a_stall_plays_at_once() {
        let data = packets(30, false);
        let mut buffer = JitterBuffer::new();
        let t0 = Instant::now();
        buffer.push(0, 0, data[0].clone(), t0);
        assert_eq!(drain(&mut buffer, t0).len(), 1);
        // Half a second without anything: nothing is played, nothing is concealed.
        let stalled = t0 + Duration::from_millis(500);
        assert!(drain(&mut buffer, stalled).is_empty());
        for (i, packet) in data.iter().enumerate().skip(1) {
            buffer.push(i as u16, 960 * i as u32, packet.clone(), stalled);
        }
        assert_eq!(
            drain(&mut buffer, stalled).len(),
            29,
            "no wait behind a burst"
        );
        assert_eq!(buffer.stats().lost, 0);
    }

    #[test]
    fn a_restarted_stream_is_followed_not_filled() {
        let data = packets(2, false);
        let mut buffer = JitterBuffer::new();
        let now = Instant::now();
        buffer.push(5, 0, data[0].clone(), now);
        assert_eq!(drain(&mut buffer, now).len(), 1);
        buffer.push(30_000, 123_456, data[1].clone(), now);
        assert_eq!(
            drain(&mut buffer, now),
            vec![Play::Packet(data[1].clone())],
            "no wait, no fill"
        );
        assert_eq!(buffer.stats().lost, 0);
    }

    /// 5 % loss and reordering over 10 s: the decoded audio is as long as the
    /// packets sent, at 16 kHz, and each lost packet was rebuilt or concealed.
    #[test]
    fn under_loss_and_jitter_the_session_gets_the_media_duration() {
        const COUNT: usize = 500;
        let data = packets(COUNT, true);
        // Every 20th packet lost; of each later six, the first two arrive swapped (20 ms apart).
        let mut order: Vec<usize> = (0..COUNT).filter(|i| i % 20 != 7).collect();
        for six in order[1..].chunks_mut(6) {
            six.swap(0, six.len().min(2) - 1);
        }
        let mut buffer = JitterBuffer::new();
        let mut decoder = MicDecoder::new().unwrap();
        let t0 = Instant::now();
        let mut out = 0usize;
        for (k, &i) in order.iter().enumerate() {
            let now = t0 + Duration::from_millis(20 * k as u64);
            buffer.push(i as u16, (960 * i) as u32, data[i].clone(), now);
            for play in drain(&mut buffer, now) {
                out += decoder.play(&play).unwrap().len();
            }
        }
        let end = t0 + Duration::from_secs(60);
        for play in drain(&mut buffer, end) {
            out += decoder.play(&play).unwrap().len();
        }
        let stats = buffer.stats();
        assert_eq!(stats.lost, (COUNT / 20) as u64);
        assert_eq!(stats.recovered_fec + stats.concealed, stats.lost);
        assert!(stats.recovered_fec > 0, "{stats:?}");
        assert!(stats.reordered > 0, "{stats:?}");
        // All 10 s came out: the resampler gives exactly a third of what it is given.
        assert!(
            out.abs_diff(COUNT * 320) < 320,
            "{out} samples for {COUNT} packets"
        );
    }
}
