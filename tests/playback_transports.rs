//! The playback contract through each transport's own playout: the file transport's period
//! (16 kHz), WebRTC's paced Opus frames (48 kHz) and the desktop loop feeding a device ring that
//! the real output callback drains in buffers of varying size. 200 replies per transport are
//! interrupted at different points; at every one the agent's ledger, fed only by the progress
//! watch, must cut the reply to exactly the words whose samples all left the sink (each word of
//! the synthetic speech is a quarter second of one value naming its chunk, so the samples that
//! came out of the sink say which words were heard). The
//! session's events channel is left full throughout (a page that reads nothing): progress does
//! not travel there, and no reply may be left "playing".
//!
//! The same three sinks pause and resume 50 replies each: silent from the very next period
//! after a pause, and after the resume the reply plays on from where it stopped (rewound by at
//! most 0.35 s, to the start of the word it cut), to its end, with nothing skipped.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use duplex::agent::{Playout, TurnId};
use duplex::playback::ChunkId;
use duplex::runtime::{
    PlayChunk, SessionEvent, SessionEventKind, SessionIo, TransportOut, session_channels,
};
use duplex::transport::desktop::callbacks::PlaybackCallback;
use duplex::transport::desktop::link::{DeviceFormat, DeviceLink, device_link};
use duplex::transport::desktop::pump::{ring_period, serve_playout};
use duplex::transport::playout::ReplyPlayout;

const TEXTS: [&str; 3] = [
    "One two three four five.",
    "Six seven eight nine ten eleven.",
    "Twelve thirteen fourteen.",
];

/// A sink that plays a reply's audio: it advances one period and returns the samples it played.
trait Sink {
    fn playout(&mut self) -> &mut ReplyPlayout;
    fn period(&mut self) -> Vec<f32>;
}

/// The file transport and WebRTC: each period is pulled and played at once.
struct Paced {
    playout: ReplyPlayout,
    frame: usize,
}

impl Sink for Paced {
    fn playout(&mut self) -> &mut ReplyPlayout {
        &mut self.playout
    }
    fn period(&mut self) -> Vec<f32> {
        let mut out = vec![0.0; self.frame];
        self.playout.next_period(&mut out).expect("session open");
        out
    }
}

/// The desktop loop: the pump fills the device ring; the output callback plays buffers of
/// varying size from it.
struct Desktop {
    playout: ReplyPlayout,
    link: DeviceLink,
    callback: PlaybackCallback,
    ring_period: Vec<f32>,
    buffer_sizes: std::iter::Cycle<std::array::IntoIter<usize, 4>>,
}

impl Sink for Desktop {
    fn playout(&mut self) -> &mut ReplyPlayout {
        &mut self.playout
    }
    fn period(&mut self) -> Vec<f32> {
        assert!(serve_playout(
            &mut self.playout,
            &mut self.link,
            &mut self.ring_period
        ));
        let mut buffer = vec![0.0f32; self.buffer_sizes.next().unwrap()];
        self.callback.on_output(&mut buffer);
        let played = self.link.shared.played.load(Ordering::Acquire);
        self.playout.confirm(played);
        let mut scratch = [0.0f32; 4096];
        while self.link.reference.pop(&mut scratch) > 0 {}
        buffer
    }
}

/// A sample value that names its chunk.
fn code(id: ChunkId) -> f32 {
    (id.turn.0 * 10 + u64::from(id.chunk) + 1) as f32
}

fn fill_events(io: &SessionIo) {
    while io.events.try_send(fake_event()).is_ok() {}
}

/// Runs 200 interrupted replies through `make_sink`'s sink at `rate`.
fn interrupt_200_times(rate: u32, make_sink: impl FnOnce(ReplyPlayout) -> Box<dyn Sink>) {
    let (mut io, ends) = session_channels();
    fill_events(&io);
    let mut sink = make_sink(ReplyPlayout::new(rate, ends.playout));
    let mut ledger = Playout::default();
    let mut epoch = 0;
    let word = rate as usize / 4;
    let mut seed = 11u64;
    for round in 1..=200u64 {
        let turn = TurnId(round);
        let mut lens = HashMap::new();
        for (chunk, text) in TEXTS.iter().enumerate() {
            let id = ChunkId {
                turn,
                chunk: chunk as u32,
            };
            let len = text.split_whitespace().count() * word;
            lens.insert(code(id) as u64, (text.to_string(), len));
            ledger.queue(id, text.to_string());
            let play = PlayChunk {
                epoch,
                id,
                rate,
                samples: vec![code(id); len],
            };
            io.output.try_send(TransportOut::Play(play)).expect("room");
        }
        let total: usize = lens.values().map(|(_, l)| l).sum();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let cut_at = (seed >> 33) as usize % (total - 1) + 1;
        let mut played: HashMap<u64, usize> = HashMap::new();
        let mut heard = 0;
        let count = |out: &[f32], played: &mut HashMap<u64, usize>| {
            for &s in out.iter().filter(|s| **s != 0.0) {
                *played.entry(s as u64).or_default() += 1;
            }
            out.iter().filter(|s| **s != 0.0).count()
        };
        while heard < cut_at {
            let out = sink.period();
            heard += count(&out, &mut played);
        }
        // The agent asks for a flush; the transport carries it out within its next periods and
        // says so through the progress watch.
        epoch = ledger.flush();
        io.control.flush(epoch);
        let mut periods = 0;
        loop {
            let out = sink.period();
            count(&out, &mut played);
            ledger.set_progress(*io.progress.borrow_and_update());
            if ledger.flushed(epoch) {
                break;
            }
            periods += 1;
            assert!(periods < 10, "round {round}: the flush was not carried out");
        }
        // Nothing more of the reply comes out after the flush.
        for _ in 0..5 {
            let out = sink.period();
            assert!(
                out.iter().all(|&s| s == 0.0),
                "round {round}: audio after the flush"
            );
        }
        // The oracle is the synthetic speech's own schedule, not the ledger's arithmetic: the
        // k-th word of a chunk is samples [k * word, (k + 1) * word) of it, so it was heard
        // when its last sample came out of the sink.
        let mut truth: Vec<&str> = Vec::new();
        for chunk in 0..TEXTS.len() as u32 {
            let key = code(ChunkId { turn, chunk }) as u64;
            let (text, _) = &lens[&key];
            let n = played.get(&key).copied().unwrap_or(0);
            let ends = (1..).map(|k| k * word);
            truth.extend(
                text.split_whitespace()
                    .zip(ends)
                    .take_while(|(_, end)| *end <= n)
                    .map(|(w, _)| w),
            );
        }
        assert_eq!(ledger.heard_text(turn), truth.join(" "), "round {round}");
        assert!(!ledger.is_playing(), "round {round}");
        ledger.forget(turn);
    }
    // A last reply plays to its end, and the ledger sees it finished.
    let id = ChunkId {
        turn: TurnId(1000),
        chunk: 0,
    };
    ledger.queue(id, "The end.".into());
    let play = PlayChunk {
        epoch,
        id,
        rate,
        samples: vec![0.5; word],
    };
    io.output.try_send(TransportOut::Play(play)).expect("room");
    for _ in 0..rate as usize / 100 {
        sink.period();
        ledger.set_progress(*io.progress.borrow_and_update());
    }
    assert!(!ledger.is_playing(), "the last reply is left playing");
    assert!(
        io.events.try_send(fake_event()).is_err(),
        "events stayed full"
    );
    assert!(sink.playout().is_idle());
}

fn fake_event() -> SessionEvent {
    SessionEvent {
        at: 0,
        wall_ms: 0.0,
        kind: SessionEventKind::Cost {
            stage: "test",
            turn: None,
            cost_ms: 0.0,
        },
    }
}

/// Pauses and resumes 50 replies through `make_sink`'s sink at `rate`. Each sample of a reply
/// is its own index (plus one), so the output tells exactly what was played in which order.
fn pause_and_resume_50_times(rate: u32, make_sink: impl FnOnce(ReplyPlayout) -> Box<dyn Sink>) {
    let (mut io, ends) = session_channels();
    let mut sink = make_sink(ReplyPlayout::new(rate, ends.playout));
    let mut ledger = Playout::default();
    let mut hold = 0;
    let chunk_len = rate as usize; // 1 s per chunk
    let mut seed = 5u64;
    for round in 1..=50u64 {
        let turn = TurnId(round);
        for (chunk, text) in TEXTS.iter().enumerate() {
            let id = ChunkId {
                turn,
                chunk: chunk as u32,
            };
            ledger.queue(id, text.to_string());
            let base = chunk * chunk_len;
            let samples = (0..chunk_len).map(|i| (base + i + 1) as f32).collect();
            let play = PlayChunk {
                epoch: 0,
                id,
                rate,
                samples,
            };
            io.output.try_send(TransportOut::Play(play)).expect("room");
        }
        let total = TEXTS.len() * chunk_len;
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Anywhere but the last few periods (a pause after the end has nothing to hold).
        let pause_at = (seed >> 33) as usize % (total - 8192) + 1;
        let mut last = 0.0f32;
        while (last as usize) < pause_at {
            let out = sink.period();
            last = out.iter().copied().fold(last, f32::max);
        }
        hold += 1;
        io.control.hold(hold);
        for _ in 0..10 {
            let out = sink.period();
            assert!(
                out.iter().all(|&s| s == 0.0),
                "round {round}: audio while paused"
            );
            ledger.set_progress(*io.progress.borrow_and_update());
            assert!(
                ledger.is_playing(),
                "round {round}: a paused reply is still on"
            );
        }
        hold += 1;
        io.control.hold(hold);
        let mut next_expected: Option<f32> = None;
        let mut periods = 0;
        while ledger.is_playing() {
            for s in sink.period().into_iter().filter(|&s| s != 0.0) {
                match next_expected {
                    None => {
                        let back = (last - s) as usize;
                        assert!(
                            s <= last + 1.0 && back <= rate as usize * 35 / 100,
                            "round {round}: resumed at {s}, paused after {last}"
                        );
                    }
                    Some(e) => assert_eq!(s, e, "round {round}: skipped or reordered"),
                }
                next_expected = Some(s + 1.0);
            }
            ledger.set_progress(*io.progress.borrow_and_update());
            periods += 1;
            assert!(periods < 2000, "round {round}: never finished");
        }
        assert_eq!(next_expected, Some(total as f32 + 1.0), "round {round}");
        assert_eq!(ledger.heard_text(turn), TEXTS.join(" "), "round {round}");
        ledger.forget(turn);
    }
    assert!(sink.playout().is_idle());
}

fn paced(frame: usize) -> impl FnOnce(ReplyPlayout) -> Box<dyn Sink> {
    move |playout| Box::new(Paced { playout, frame })
}

fn desktop(playout: ReplyPlayout) -> Box<dyn Sink> {
    let format = DeviceFormat {
        input_rate: 48_000,
        input_channels: 1,
        output_rate: 48_000,
        output_channels: 1,
    };
    let (callbacks, link) = device_link(format);
    Box::new(Desktop {
        playout,
        link,
        callback: callbacks.playback,
        ring_period: vec![0.0; ring_period(48_000)],
        buffer_sizes: [480usize, 1024, 333, 2048].into_iter().cycle(),
    })
}

#[test]
fn file_transport_pauses_and_resumes_50_times() {
    pause_and_resume_50_times(16_000, paced(320));
}

#[test]
fn webrtc_paced_playout_pauses_and_resumes_50_times() {
    pause_and_resume_50_times(48_000, paced(960));
}

#[test]
fn desktop_device_loop_pauses_and_resumes_50_times() {
    pause_and_resume_50_times(48_000, desktop);
}

#[test]
fn file_transport_cuts_exactly_200_times() {
    interrupt_200_times(16_000, paced(320));
}

#[test]
fn webrtc_paced_playout_cuts_exactly_200_times() {
    interrupt_200_times(48_000, paced(960));
}

#[test]
fn desktop_device_loop_cuts_exactly_200_times() {
    interrupt_200_times(48_000, desktop);
}

#[test]
fn a_reply_whose_next_chunk_comes_late_counts_one_stall_of_the_silence_heard() {
    // 48 kHz, one 20 ms packet per period, as the WebRTC link pulls.
    let (io, ends) = session_channels();
    let mut playout = ReplyPlayout::new(48_000, ends.playout);
    let mut frame = vec![0.0f32; 960];
    let chunk = |turn, chunk, ms: usize| {
        TransportOut::Play(PlayChunk {
            epoch: 0,
            id: ChunkId {
                turn: TurnId(turn),
                chunk,
            },
            rate: 16_000,
            samples: vec![0.3; 16 * ms],
        })
    };
    io.output.try_send(chunk(1, 0, 200)).expect("room");
    // The first chunk plays out, then 15 periods (300 ms) pass before the second comes.
    for _ in 0..10 + 15 {
        playout.next_period(&mut frame);
    }
    io.output.try_send(chunk(1, 1, 200)).expect("room");
    for _ in 0..12 {
        playout.next_period(&mut frame);
    }
    let stalls = playout.take_stalls();
    assert_eq!(stalls.len(), 1, "{stalls:?}");
    assert!((0.28..=0.32).contains(&stalls[0]), "{stalls:?}");
    // The next reply starting after a silence is no stall, and neither is the end of one.
    for _ in 0..15 {
        playout.next_period(&mut frame);
    }
    io.output.try_send(chunk(2, 0, 100)).expect("room");
    for _ in 0..20 {
        playout.next_period(&mut frame);
    }
    assert!(playout.take_stalls().is_empty());
}
