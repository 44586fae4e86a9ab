//! The device callbacks of the desktop transport never allocate after warm-up: a counting global
//! allocator (for this test binary only) watches the calling thread while the callbacks copy
//! microphone buffers of several sample types and channel counts, play speech, run dry
//! (underrun), and carry out a flush. Also checks what they did: mono downmix, silence on
//! underrun, the flush dropping queued speech, the played count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;

use duplex::transport::desktop::link::{DeviceFormat, device_link};

struct CountingAllocator;

thread_local! {
    /// Whether this thread's allocations are being counted.
    static WATCHED: Cell<bool> = const { Cell::new(false) };
    /// This thread's allocations while watched (per thread: tests run in parallel).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    if WATCHED.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Counts the allocations `f` makes on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    WATCHED.with(|w| w.set(true));
    f();
    WATCHED.with(|w| w.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_allocator_counts_what_it_should() {
    // Guards the test below against passing because nothing is ever counted.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);
}

#[test]
fn callbacks_do_not_allocate_after_warm_up() {
    let format = DeviceFormat {
        input_rate: 44_100,
        input_channels: 2,
        output_rate: 48_000,
        output_channels: 2,
    };
    let (mut callbacks, mut link) = device_link(format);
    let mic_i16: Vec<i16> = (0..2048).map(|i| (i % 200) as i16 * 100).collect();
    let mic_f32 = vec![0.25f32; 1024 * 2];
    let mut out_f32 = vec![0.0f32; 1024 * 2];
    let mut out_i16 = vec![0i16; 512 * 2];
    let speech = vec![0.5f32; 4800];
    let mut drained = vec![0.0f32; 48_000];

    // Warm-up: one call of each kind.
    callbacks.capture.on_input(&mic_i16);
    callbacks.playback.on_output(&mut out_f32);

    let allocations = allocations_in(|| {
        for round in 0..50 {
            link.playback.push(&speech);
            link.shared.backlog.store(1, Ordering::SeqCst);
            callbacks.capture.on_input(&mic_i16);
            callbacks.capture.on_input(&mic_f32);
            callbacks.playback.on_output(&mut out_f32);
            callbacks.playback.on_output(&mut out_i16);
            // 4800 queued, 1536 played per round: the ring fills, then a flush drops it all.
            if round % 10 == 9 {
                link.shared.discard_epoch.fetch_add(1, Ordering::SeqCst);
                callbacks.playback.on_output(&mut out_f32);
            }
            // A dry ring with speech still waiting on the transport's side: an underrun.
            callbacks.playback.on_output(&mut out_f32);
            while link.capture.pop(&mut drained) > 0 {}
            while link.reference.pop(&mut drained) > 0 {}
        }
    });
    assert_eq!(allocations, 0, "the audio callbacks allocated");

    // And they did their work: flushes acknowledged, speech played, silence after a flush.
    let shared = &link.shared;
    assert_eq!(shared.discard_done.load(Ordering::SeqCst), 5);
    assert!(shared.played.load(Ordering::SeqCst) > 0);
    assert!(shared.underruns.load(Ordering::SeqCst) > 0);
    link.shared.discard_epoch.fetch_add(1, Ordering::SeqCst);
    callbacks.playback.on_output(&mut out_f32);
    assert!(
        out_f32.iter().all(|&s| s == 0.0),
        "silence right after a flush"
    );
}

#[test]
fn capture_downmixes_to_mono_and_playback_fills_every_channel() {
    let format = DeviceFormat {
        input_rate: 16_000,
        input_channels: 2,
        output_rate: 16_000,
        output_channels: 2,
    };
    let (mut callbacks, mut link) = device_link(format);
    callbacks.capture.on_input(&[0.5f32, -0.5, 1.0, 0.0]);
    let mut got = [9.0f32; 4];
    assert_eq!(link.capture.pop(&mut got), 2);
    assert_eq!(&got[..2], &[0.0, 0.5]);

    link.playback.push(&[0.25, -0.25]);
    let mut out = [1.0f32; 6];
    callbacks.playback.on_output(&mut out);
    assert_eq!(out, [0.25, 0.25, -0.25, -0.25, 0.0, 0.0]);
    assert_eq!(link.shared.played.load(Ordering::SeqCst), 2);
    let mut reference = [9.0f32; 8];
    assert_eq!(link.reference.pop(&mut reference), 3);
    assert_eq!(&reference[..3], &[0.25, -0.25, 0.0]);
}
